"""The one cost rule (dynamic_inference.cost): what each scheme pays, summed by hand."""

from __future__ import annotations

import pytest
import torch

from dynamic_inference.backbones import tiny_net
from dynamic_inference.calibrate import static_baselines
from dynamic_inference.cost import (
    calibration_costs,
    exit_costs,
    fixed_exit_costs,
    full_cost,
    measure_latency,
    point_costs,
)
from dynamic_inference.errors import ConfigError
from dynamic_inference.flops import cost_table
from dynamic_inference.schemes import make_scheme


@pytest.fixture(scope="module")
def table():
    return cost_table(tiny_net(16), 64)


def test_scheme_costs_summed_by_hand(table) -> None:
    """Full inference and the input axis pay stem + stages + the last head only; depth and
    unified pay every head on the way, or only the live ones given thresholds."""
    stages, heads = table.stage_gflops, table.head_gflops
    assert len(stages) == len(heads) == 4 and min(heads) > 0
    backbone = [sum(stages[: k + 1]) for k in range(4)]  # stem + stages 0..k
    for name in ("full", "input"):
        costs = exit_costs(table, make_scheme(name))
        assert costs == pytest.approx([backbone[k] + heads[k] for k in range(4)], rel=1e-12)
        assert 16 * costs[-1] == pytest.approx(full_cost(table, 16), rel=1e-12)
    every = [backbone[k] + sum(heads[: k + 1]) for k in range(4)]
    for name in ("depth", "unified"):
        assert exit_costs(table, make_scheme(name)) == pytest.approx(every, rel=1e-12)
    live = [backbone[0], backbone[1] + heads[1], backbone[2] + heads[1],
            backbone[3] + heads[1] + heads[3]]  # exits 1 and 3 cannot fire
    assert exit_costs(table, make_scheme("depth"), [1.0, 0.5, 1.0, 0.0]) == pytest.approx(live)
    assert full_cost(table, 16) == pytest.approx(16 * (backbone[3] + heads[3]), rel=1e-12)


def test_point_costs_follow_the_group_rule(table) -> None:
    """(g - 1) T/G frames through the whole network plus T/G frames up to exit k."""
    sch = make_scheme("unified", 4)
    per_frame = exit_costs(table, sch)
    got = point_costs(table, sch, 16)
    want = [g * 4 * per_frame[-1] + 4 * per_frame[k] for g in range(4) for k in range(4)]
    assert got.tolist() == pytest.approx(want, rel=1e-12)
    base, heads = calibration_costs(table, sch, 16)
    assert heads.every_head(base).tolist() == pytest.approx(want, rel=1e-12)


def test_static_baselines_are_priced_as_they_run(table) -> None:
    """A fixed exit k pays head k only: static/e4 costs exactly full inference (the curves once
    charged it every head, which made full inference look dearer than in the report)."""
    fixed = fixed_exit_costs(table)
    stages, heads = table.stage_gflops, table.head_gflops
    assert fixed == pytest.approx([sum(stages[: k + 1]) + heads[k] for k in range(4)])
    fl = torch.randn(6, 4, 16, 5)
    static = {op.name: op.mean_cost for op in static_baselines(fl, torch.zeros(6).long(), fixed)}
    assert static["static/e4"] == pytest.approx(full_cost(table, 16), rel=1e-12)
    assert static["static/n4"] == pytest.approx(full_cost(table, 4), rel=1e-12)
    every = exit_costs(table, make_scheme("depth"))
    assert static["static/e4"] < 16 * every[-1]  # the old pricing was dearer


def test_latency_table_from_the_engine() -> None:
    """measure_latency reads the engine's clock: K increasing positive entries per frame."""
    torch.manual_seed(0)
    model = tiny_net(16).eval()
    ms = measure_latency(model, 4, 64, batch=2, repeats=1)
    assert len(ms) == 4 and all(v > 0 for v in ms) and ms == sorted(ms)
    last = measure_latency(model, 4, 64, batch=2, repeats=1, heads="last")
    assert len(last) == 4 and last[-1] > 0
    with pytest.raises(ConfigError, match="heads"):
        measure_latency(model, 4, 64, heads="some")


def test_curves_price_static_baselines_as_they_run(table) -> None:
    """evaluate.curves: static/e4 is full inference at full inference's cost."""
    from dynamic_inference.evaluate import curves
    from dynamic_inference.logits import SplitLogits

    fl = torch.randn(8, 4, 16, 5, generator=torch.Generator().manual_seed(0))
    split = SplitLogits(fl, torch.arange(8) % 5, [], torch.arange(16), list("abcde"))
    c = curves(make_scheme("unified"), split, table, 16, split)
    static = {op.name: op.mean_cost for op in c["static"]}
    assert static["static/e4"] == pytest.approx(full_cost(table, 16), rel=1e-12)
