"""Threshold calibration on validation logits (issue 7): budgets, curves, front, oracle."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_inference.calibrate import (
    OperatingPoint,
    accuracy_at_cost,
    budgeted_curve,
    budgeted_thresholds,
    calibrate_for_budget,
    default_p_grid,
    default_threshold_grid,
    descend_thresholds,
    dominance,
    evaluate_thresholds,
    exit_fractions,
    oracle,
    pareto_front,
    static_baselines,
    sweep_shared_threshold,
    val_test_gap,
)
from dynamic_inference.errors import ConfigError
from dynamic_inference.schemes import (
    confidence,
    first_confident,
    make_scheme,
    simulate,
)

EXIT_COST = [1.0, 2.0, 4.0]


def synthetic(n_videos: int, seed: int, num_frames: int = 8, num_classes: int = 10):
    """Frame logits ``(V, 3, T, C)`` where later exits are more informative and some videos are
    easy, others hard; and their labels ``(V,)``."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (n_videos,), generator=gen)
    ease = torch.rand(n_videos, generator=gen)  # (V,)
    fl = 1.5 * torch.randn(n_videos, 3, num_frames, num_classes, generator=gen)
    for k in range(3):
        fl[torch.arange(n_videos), k, :, labels] += (k + 1) * 1.2 * ease[:, None] + 0.3
    return fl, labels


@pytest.fixture(scope="module")
def val():
    fl, labels = synthetic(300, seed=0)
    scheme = make_scheme("unified", 2)
    return scheme.point_logits(fl), labels, scheme.point_costs(EXIT_COST, 8)


# ------------------------------------------------------------------------------ MSDNet law


def test_exit_fractions() -> None:
    q = exit_fractions(0.5, 4)
    assert q.sum().item() == pytest.approx(1.0)
    assert (q[1:] / q[:-1]).tolist() == pytest.approx([0.5] * 3)
    assert exit_fractions(1.0, 5).tolist() == pytest.approx([0.2] * 5)
    assert exit_fractions(1e6, 60)[-1].item() == pytest.approx(1.0, rel=1e-5)  # no overflow
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="p must be"):
            exit_fractions(bad, 3)


@pytest.mark.parametrize("p", [0.3, 0.8, 1.0, 1.7])
def test_budgeted_thresholds_fill_the_quotas(val, p: float) -> None:
    pl, labels, costs = val
    op = budgeted_thresholds(pl, labels, costs, p)
    conf, _ = confidence(pl)
    stop = first_confident(conf, torch.tensor(op.thresholds, dtype=torch.float64))
    counts = torch.bincount(stop, minlength=pl.shape[1])
    expected = torch.floor(len(labels) * exit_fractions(p, pl.shape[1]).cumsum(0) + 1e-9)
    assert counts.cumsum(0).tolist() == expected.long().tolist()  # continuous scores: no ties
    assert op.mean_cost == pytest.approx(costs[stop].mean().item())


def test_budgeted_curve_cost_grows_with_p(val) -> None:
    pl, labels, costs = val
    curve = budgeted_curve(pl, labels, costs)
    assert [op.param for op in curve] == default_p_grid()
    mean_costs = [op.mean_cost for op in curve]
    assert mean_costs == sorted(mean_costs)
    assert mean_costs[0] < 0.2 * costs[-1].item() and mean_costs[-1] == costs[-1].item()


# ------------------------------------------------------------------------------ budgets


@pytest.mark.parametrize("method", ["budgeted", "shared", "both"])
def test_budget_is_respected_and_monotone(val, method: str) -> None:
    pl, labels, costs = val
    budgets = torch.linspace(costs[0].item(), costs[-1].item(), 6).tolist()
    used = []
    for budget in budgets:
        cal = calibrate_for_budget(pl, labels, costs, budget, method=method)
        assert cal.val_mean_cost <= budget
        # the thresholds reproduce the reported validation numbers
        again = evaluate_thresholds(pl, labels, costs, cal.thresholds)
        assert again.mean_cost == pytest.approx(cal.val_mean_cost)
        assert again.top1 == pytest.approx(cal.val_top1)
        used.append(cal.val_mean_cost)
    if method != "both":
        assert used == sorted(used)
    assert used[-1] == pytest.approx(costs[-1].item())
    # mid-range budgets are used almost entirely
    assert used[3] >= 0.97 * budgets[3]


def test_both_methods_keep_the_more_accurate_one(val) -> None:
    """``method="both"`` returns the more accurate of the budgeted and the shared solution at
    each budget, within the budget; on these data each method wins somewhere, so neither
    alone would do."""
    pl, labels, costs = val
    wins = set()
    for share in (0.15, 0.25, 0.5, 0.65, 0.8):  # budgeted wins at 0.15 and 0.25 here
        budget = share * costs[-1].item()
        alone = {m: calibrate_for_budget(pl, labels, costs, budget, method=m)
                 for m in ("budgeted", "shared")}
        both = calibrate_for_budget(pl, labels, costs, budget, method="both")
        assert both.val_top1 == max(c.val_top1 for c in alone.values())
        assert both.val_mean_cost <= budget
        assert both.thresholds == alone[both.method].thresholds
        if alone["budgeted"].val_top1 != alone["shared"].val_top1:
            wins.add(max(alone, key=lambda m: alone[m].val_top1))
    assert wins == {"budgeted", "shared"}


@settings(max_examples=12, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 60),
    st.floats(0.0, 1.0),
    st.sampled_from(["budgeted", "shared", "both"]),
)
def test_any_budget_is_met(seed: int, n_videos: int, where: float, method: str) -> None:
    fl, labels = synthetic(n_videos, seed, num_frames=4, num_classes=5)
    fl = fl.round(decimals=1)  # coarse logits: plenty of tied confidences
    scheme = make_scheme("unified", 2)
    pl, costs = scheme.point_logits(fl), scheme.point_costs(EXIT_COST, 4)
    budget = costs[0].item() + where * (costs[-1] - costs[0]).item()
    cal = calibrate_for_budget(pl, labels, costs, budget, method=method)
    assert cal.val_mean_cost <= budget + 1e-12
    assert len(cal.thresholds) == pl.shape[1]


@pytest.mark.parametrize(
    "budget, match",
    [
        (0.0, "> 0"),
        (-3.0, "> 0"),
        (float("nan"), "> 0"),
        (1e9, "above the full inference cost"),
        (1.0, "below the cost of the first decision point"),
        ("cheap", "number"),
    ],
)
def test_bad_budgets(val, budget, match) -> None:
    pl, labels, costs = val
    with pytest.raises(ConfigError, match=match):
        calibrate_for_budget(pl, labels, costs, budget)


def test_bad_calibration_inputs(val) -> None:
    pl, labels, costs = val
    with pytest.raises(ConfigError, match="unknown method"):
        calibrate_for_budget(pl, labels, costs, 10.0, method="greedy")
    with pytest.raises(ConfigError, match=r"\(V, P, C\)"):
        sweep_shared_threshold(pl[:, 0], labels, costs)
    with pytest.raises(ConfigError, match="point costs"):
        sweep_shared_threshold(pl, labels, costs[:-1])
    with pytest.raises(ConfigError, match="labels"):
        oracle(pl, labels[:-1], costs)
    with pytest.raises(ConfigError, match="unresolved"):
        oracle(pl, labels, costs, unresolved="first")


# ------------------------------------------------------------------------------ shared sweep


def test_shared_sweep(val) -> None:
    pl, labels, costs = val
    curve = sweep_shared_threshold(pl, labels, costs)
    assert curve[0].param == 0.0 and curve[0].mean_cost == costs[0].item()
    assert curve[-1].param == 1.0 and curve[-1].mean_cost == costs[-1].item()
    mean_costs = [op.mean_cost for op in curve]
    assert mean_costs == sorted(mean_costs)  # raising the threshold never stops a video earlier
    custom = sweep_shared_threshold(pl, labels, costs, thresholds=[0.5])
    assert len(custom) == 1 and custom[0].thresholds == (0.5,) * pl.shape[1]
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        sweep_shared_threshold(pl, labels, costs, thresholds=[0.5, 1.5])


def test_calibration_agrees_with_simulate() -> None:
    fl, labels = synthetic(50, seed=4)
    scheme = make_scheme("depth")
    pl, costs = scheme.point_logits(fl), scheme.point_costs(EXIT_COST, 8)
    cal = calibrate_for_budget(pl, labels, costs, 14.0)
    sim = simulate(scheme, fl, labels, EXIT_COST, list(cal.thresholds))
    assert sim.mean_cost == pytest.approx(cal.val_mean_cost)
    assert sim.top1 == pytest.approx(cal.val_top1)


# ------------------------------------------------------------------------------ Pareto front


def test_pareto_front() -> None:
    pts = [
        OperatingPoint("a", 10.0, 70.0),
        OperatingPoint("b", 12.0, 69.0),  # dominated by a
        OperatingPoint("c", 5.0, 60.0),
        OperatingPoint("d", 20.0, 80.0),
        OperatingPoint("e", 20.0, 75.0),  # dominated by d (same cost)
        OperatingPoint("f", 25.0, 80.0),  # dominated by d (same accuracy)
        OperatingPoint("g", 5.0, 60.0),  # duplicate of c
    ]
    assert [op.name for op in pareto_front(pts)] == ["c", "a", "d"]
    assert pareto_front([]) == []
    assert accuracy_at_cost(pts, 12.0) == 70.0
    assert accuracy_at_cost(pts, 4.0) is None


def test_front_of_curves_is_monotone(val) -> None:
    pl, labels, costs = val
    curves = budgeted_curve(pl, labels, costs) + sweep_shared_threshold(pl, labels, costs)
    front = pareto_front(curves)
    assert [op.mean_cost for op in front] == sorted(op.mean_cost for op in front)
    assert all(a.top1 < b.top1 and a.mean_cost < b.mean_cost for a, b in zip(front, front[1:]))


# ------------------------------------------------------------------------------ oracle


def test_oracle_by_hand() -> None:
    # 3 points, 2 classes; per video: which points are correct (label 0)
    right, wrong = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])
    pl = torch.stack(
        [
            torch.stack([right, wrong, right]),  # correct at 1 and 3 -> point 1
            torch.stack([wrong, right, wrong]),  # correct at 2 only -> point 2
            torch.stack([wrong, wrong, wrong]),  # hopeless
        ]
    )  # (V, P, C)
    labels = torch.tensor([0, 0, 0])
    costs = [1.0, 3.0, 10.0]
    last = oracle(pl, labels, costs)
    assert last.top1 == pytest.approx(200 / 3)
    assert last.mean_cost == pytest.approx((1 + 3 + 10) / 3)
    cheapest = oracle(pl, labels, costs, unresolved="cheapest")
    assert cheapest.top1 == last.top1
    assert cheapest.mean_cost == pytest.approx((1 + 3 + 1) / 3)


def test_oracle_bounds_a_rule_that_reaches_its_accuracy() -> None:
    # correct predictions are confident, wrong ones are not: a threshold rule can match the oracle
    gen = torch.Generator().manual_seed(3)
    v, p, c = 40, 4, 5
    labels = torch.randint(0, c, (v,), generator=gen)
    correct = torch.rand(v, p, generator=gen) < 0.4  # (V, P)
    pl = torch.zeros(v, p, c)
    wrong_class = (labels + 1) % c
    pl[torch.arange(v)[:, None], torch.arange(p), torch.where(correct, labels[:, None], wrong_class[:, None])] = torch.where(correct, 5.0, 0.5)  # fmt: skip # noqa: E501
    costs = [1.0, 2.0, 3.0, 4.0]
    rule = evaluate_thresholds(pl, labels, costs, 0.8)
    for unresolved in ("last", "cheapest"):
        bound = oracle(pl, labels, costs, unresolved=unresolved)
        assert rule.top1 == pytest.approx(bound.top1)
        assert bound.mean_cost <= rule.mean_cost + 1e-12


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6))
def test_oracle_is_a_bound(seed: int, thresholds: list[float]) -> None:
    fl, labels = synthetic(30, seed, num_frames=4, num_classes=4)
    scheme = make_scheme("unified", 2)
    pl, costs = scheme.point_logits(fl), scheme.point_costs(EXIT_COST, 4)
    rule = evaluate_thresholds(pl, labels, costs, thresholds)
    cheapest = oracle(pl, labels, costs, unresolved="cheapest")
    last = oracle(pl, labels, costs)
    assert rule.top1 <= cheapest.top1 == last.top1  # nobody beats the oracle's accuracy
    if rule.top1 >= cheapest.top1:  # at the oracle's accuracy, nobody is cheaper
        assert rule.mean_cost >= cheapest.mean_cost - 1e-12
    assert cheapest.mean_cost <= last.mean_cost <= costs[-1].item()
    full = evaluate_thresholds(pl, labels, costs, 1.0)
    assert last.top1 >= full.top1


# ------------------------------------------------------------------------------ baselines, gap


def test_static_baselines() -> None:
    fl, labels = synthetic(60, seed=5, num_frames=8)
    base = {op.name: op for op in static_baselines(fl, labels, EXIT_COST)}
    assert list(base) == ["static/e1", "static/e2", "static/e3", "static/n1", "static/n2",
                          "static/n4"]  # fmt: skip
    assert [base[f"static/e{k}"].mean_cost for k in (1, 2, 3)] == [8.0, 16.0, 32.0]
    assert [base[f"static/n{n}"].mean_cost for n in (1, 2, 4)] == [4.0, 8.0, 16.0]
    full = simulate(make_scheme("full"), fl, labels, EXIT_COST, 0.0)
    assert base["static/e3"].top1 == pytest.approx(full.top1)
    pred = fl[:, -1, :2].mean(1).argmax(1)
    assert base["static/n2"].top1 == pytest.approx(100 * (pred == labels).double().mean().item())
    with pytest.raises(ConfigError, match="exit_cost has 2 values"):
        static_baselines(fl, labels, [1.0, 2.0])


def test_val_test_gap_by_hand() -> None:
    """Two points costing 1 and 3, threshold 0.7 at the first. Val: 2 of 4 videos stop early
    (one right), the other 2 answer at point 2 (both right): 75% at (2*1 + 2*3)/4 = 2.
    Test: 1 of 2 stops early (wrong), the other is right at point 2: 50% at 2."""
    def probs(rows):  # (V, P=2, C=2) from each video's class-0 probability at each point
        return torch.tensor([[[p, 1 - p] for p in row] for row in rows], dtype=torch.float64)

    val = probs([[0.8, 0.9], [0.2, 0.1], [0.6, 0.9], [0.5, 0.2]])  # early: videos 0 and 1
    val_labels = torch.tensor([0, 0, 0, 1])
    test = probs([[0.9, 0.1], [0.6, 0.3]])  # early: video 0 (says 0, is 1)
    test_labels = torch.tensor([1, 1])
    gap = val_test_gap(val, val_labels, test, test_labels, [1.0, 3.0], [0.7, 0.0], probs=True)
    assert (gap.val.top1, gap.val.mean_cost) == (75.0, 2.0)
    assert (gap.test.top1, gap.test.mean_cost) == (50.0, 2.0)
    assert gap.top1_gap == -25.0 and gap.cost_gap == 0.0


def _confident_but_wrong_first_point() -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """4 videos, 3 points, costs 1 / 2 / 10: point 0 is confident (0.99) on every video and
    wrong on two; point 1 is less confident (0.9) and right on all; point 2 is right on all."""
    labels = torch.tensor([0, 0, 1, 1])
    p0 = torch.tensor([[0.99, 0.01]] * 4)  # says class 0 to everyone
    p1 = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])
    probs = torch.stack([p0, p1, p1], dim=1)  # (V, P, C)
    return probs.double(), labels, [1.0, 2.0, 10.0]


def test_descent_skips_a_confident_wrong_point():
    probs, labels, costs = _confident_but_wrong_first_point()
    shared = [op for op in sweep_shared_threshold(probs, labels, costs, probs=True)
              if op.top1 == 100.0]
    assert min(op.mean_cost for op in shared) == 10.0  # one threshold cannot skip point 0
    op = descend_thresholds(probs, labels, costs, min_top1=100.0, probs=True)
    assert op.top1 == 100.0 and op.mean_cost == 2.0
    assert op.thresholds[0] == 1.0 and op.thresholds[1] <= 0.9  # point 0 never fires
    cheap = descend_thresholds(probs, labels, costs, min_top1=50.0, probs=True)
    assert cheap.mean_cost == 1.0 and cheap.top1 == 50.0  # a lower floor buys the cheap point
    unreachable = descend_thresholds(probs, labels, costs, min_top1=101.0, probs=True)
    assert unreachable.thresholds == (1.0, 1.0, 1.0) and unreachable.mean_cost == 10.0
    with pytest.raises(ConfigError):
        descend_thresholds(probs, labels, costs, min_top1=float("nan"), probs=True)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 5.0))
def test_descent_meets_its_floor_and_beats_the_shared_sweep(seed, margin):
    g = torch.Generator().manual_seed(seed)
    v, p, c = 40, 4, 3
    logits = 3 * torch.randn(v, p, c, generator=g, dtype=torch.float64)
    labels = torch.randint(0, c, (v,), generator=g)
    costs = [1.0, 2.0, 3.0, 4.0]
    full = evaluate_thresholds(logits, labels, costs, [1.0] * p).top1
    floor = full - margin
    op = descend_thresholds(logits, labels, costs, floor, max_sweeps=100)
    assert op.top1 >= floor - 1e-9
    check = evaluate_thresholds(logits, labels, costs, op.thresholds)
    assert (check.top1, check.mean_cost) == pytest.approx((op.top1, op.mean_cost))
    assert op.mean_cost <= costs[-1] + 1e-9  # never dearer than full inference
    # a local optimum: no single threshold of the grid lowers the cost while meeting the floor
    grid = default_threshold_grid()
    for k in range(p - 1):
        for t in grid:
            trial = list(op.thresholds)
            trial[k] = t
            res = evaluate_thresholds(logits, labels, costs, trial)
            assert res.top1 < floor or res.mean_cost >= op.mean_cost - 1e-9


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_evaluate_many_equals_one_setting_at_a_time(seed):
    from dynamic_inference.calibrate import _table

    g = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(30, 5, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (30,), generator=g)
    table = _table(logits, labels, [1.0, 2.0, 3.0, 4.0, 5.0], False)
    settings_ = torch.rand(7, 5, generator=g, dtype=torch.float64)
    settings_[0] = 1.0  # full inference
    settings_[1, 2] = 1.0  # one point that never fires
    top1, cost = table.evaluate_many(settings_)
    for i in range(7):
        assert (top1[i].item(), cost[i].item()) == pytest.approx(table.evaluate(settings_[i]))


def test_descent_blocks_tie_the_points_of_a_block():
    from dynamic_inference.calibrate import exit_blocks

    scheme = make_scheme("unified", groups=2)
    blocks = exit_blocks([pt.exit for pt in scheme.points(3)])  # g1/e1..e3, g2/e1..e3
    assert blocks == [[0, 3], [1, 4], [2, 5]]
    g = torch.Generator().manual_seed(3)
    logits = 3 * torch.randn(60, 6, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (60,), generator=g)
    costs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    full = evaluate_thresholds(logits, labels, costs, [1.0] * 6).top1
    tied = descend_thresholds(logits, labels, costs, full - 5, blocks=blocks)
    thr = tied.thresholds
    assert thr[0] == thr[3] and thr[1] == thr[4] and thr[5] == 1.0  # the last always answers
    assert tied.top1 >= full - 5 - 1e-9 and tied.mean_cost < 6.0
    with pytest.raises(ConfigError, match="blocks"):
        descend_thresholds(logits, labels, costs, full - 5, blocks=[[0, 9]])


def _noisy_early_points(seed: int, v: int = 200) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Early points with random confidences and 50% accuracy; the last point always right.
    Any early stop that looks free on some videos is luck."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (v,), generator=g)
    probs = torch.empty(v, 4, 2, dtype=torch.float64)
    for p in range(3):
        conf = 0.5 + 0.5 * torch.rand(v, generator=g, dtype=torch.float64)
        right = torch.rand(v, generator=g) < 0.5
        top = torch.where(right, labels, 1 - labels)
        probs[:, p] = (1 - conf)[:, None].repeat(1, 2)
        probs[torch.arange(v), p, top] = conf
    probs[:, 3] = 0.0
    probs[torch.arange(v), 3, labels] = 1.0
    return probs, labels, [1.0, 2.0, 3.0, 4.0]


def _paired_loss(probs, labels, thresholds):
    """Loss against the last point and its paired SE, by a plain loop over videos."""
    diffs = []
    for v in range(len(labels)):
        stop = len(thresholds) - 1
        for p, t in enumerate(thresholds[:-1]):
            if t < 1.0 and probs[v, p].max().item() >= t:
                stop = p
                break
        right = int(probs[v, stop].argmax().item() == labels[v].item())
        diffs.append(int(probs[v, -1].argmax().item() == labels[v].item()) - right)
    d = torch.tensor(diffs, dtype=torch.float64)
    return 100 * d.mean().item(), 100 * d.std().item() / math.sqrt(len(d))


def test_default_rule_discounts_settings_that_were_lucky_on_validation():
    from dynamic_inference.calibrate import calibrate_within_loss, cheapest_within

    probs, labels, costs = _noisy_early_points(0)
    loose = cheapest_within(probs, labels, costs, 2.0, probs=True)
    assert loose.top1 >= 98.0 and loose.mean_cost < 4.0  # buys luck on these videos
    choice = calibrate_within_loss(probs, labels, costs, max_loss=2.0, z=1.0, probs=True)
    loss, se = _paired_loss(probs, labels, list(choice.point.thresholds))
    assert (choice.loss, choice.loss_se) == pytest.approx((loss, se))
    assert loss + se <= 2.0 + 1e-9
    assert choice.point.mean_cost >= loose.mean_cost  # the pessimistic rule cuts less
    for bad in (dict(max_loss=float("nan")), dict(z=-1.0), dict(z=float("inf"))):
        with pytest.raises(ConfigError):
            calibrate_within_loss(probs, labels, costs, probs=True, **bad)


def test_head_pricing_matches_exit_costs_with_the_live_heads():
    """Per-setting prices equal point_costs of exit costs that include only the live heads
    (a second, direct composition of the same cost rule)."""
    from dynamic_inference.calibrate import _table

    scheme = make_scheme("unified", groups=2)
    stage_cum, head = [1.0, 2.0, 3.0], [0.1, 0.2, 0.3]
    hp = scheme.head_pricing(head, 4)
    assert hp.extra[:, 0].tolist() == pytest.approx([0.2, 0.2, 0.2, 0.4, 0.4, 0.4])  # by hand
    assert hp.extra[:, 1].tolist() == pytest.approx([0.0, 0.4, 0.4, 0.4, 0.8, 0.8])
    base = scheme.point_costs([s + (k == 2) * head[2] for k, s in enumerate(stage_cum)], 4)
    every = [s + sum(head[: k + 1]) for k, s in enumerate(stage_cum)]  # every head runs
    assert hp.every_head(base).tolist() == pytest.approx(scheme.point_costs(every, 4).tolist())
    table = _table(torch.randn(5, 6, 3, dtype=torch.float64), torch.zeros(5, dtype=torch.long),
                   base, False, hp)
    for live0 in (False, True):
        for live1 in (False, True):
            thr = torch.ones(1, 6, dtype=torch.float64)
            thr[0, 3] = 0.5 if live0 else 1.0  # g2/e1 can fire: head 1 runs
            thr[0, 1] = 0.5 if live1 else 1.0  # g1/e2 can fire: head 2 runs
            live = [live0, live1, True]
            exit_cost = [s + sum(h for h, on in zip(head[: k + 1], live) if on)
                         for k, s in enumerate(stage_cum)]
            assert table.priced(thr)[0].tolist() == pytest.approx(
                scheme.point_costs(exit_cost, 4).tolist())


def _two_group_unified(seed: int):
    """Random logits of a 2-group, 3-exit unified scheme whose last exit knows more: the scheme,
    point logits, labels, the last exit's points, base point costs, head pricing and blocks."""
    g = torch.Generator().manual_seed(seed)
    scheme = make_scheme("unified", groups=2)
    fl = 2.0 * torch.randn(80, 3, 4, 4, generator=g)
    labels = torch.randint(0, 4, (80,), generator=g)
    fl[torch.arange(80), 2, :, labels] += 2.0  # the last exit knows more
    pl = scheme.point_logits(fl)
    points = scheme.points(3)
    last = [i for i, p in enumerate(points) if p.exit == 3]
    base = scheme.point_costs([1.0, 2.0, 3.3], 4)
    hp = scheme.head_pricing([0.1, 0.2, 0.3], 4)
    blocks = [[i for i, p in enumerate(points) if p.exit == k] for k in (1, 2, 3)]
    return scheme, pl, labels, last, base, hp, blocks


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), max_loss=st.sampled_from([0.0, 0.5, 2.0]))
def test_default_rule_is_monotone_unified_never_costlier_than_the_input_axis(seed, max_loss):
    from dynamic_inference.calibrate import calibrate_within_loss

    scheme, pl, labels, last, base, hp, blocks = _two_group_unified(seed)
    unified = calibrate_within_loss(pl, labels, base, max_loss, 1.0, blocks, [last], hp)
    alone = calibrate_within_loss(pl[:, last], labels, base[last], max_loss, 1.0, [[0, 1]])
    assert unified.point.mean_cost <= alone.point.mean_cost + 1e-12


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_rule_front_of_unified_dominates_the_input_axis_and_holds_every_rule_choice(seed):
    """The val front contains the input axis' front (so it dominates it: no gap), every point is
    what its thresholds measure, and every single choice of the rule lies on or under it."""
    from dynamic_inference.calibrate import (
        calibrate_within_loss,
        evaluate_thresholds,
        within_loss_front,
    )
    from dynamic_inference.schemes import HeadPricing

    scheme, pl, labels, last, base, hp, blocks = _two_group_unified(seed)
    losses = (0.0, 1.0, 4.0)
    front = within_loss_front(pl, labels, base, losses, 1.0, blocks, [last], hp)
    alone = within_loss_front(pl[:, last], labels, base[last], losses, 1.0, [[0, 1]], (),
                              HeadPricing(hp.extra[last], hp.head_of_point[last]))
    assert dominance(front, alone)["dominated"] == len(alone)
    costs = [op.mean_cost for op in front]
    assert costs == sorted(costs) and [op.top1 for op in front] == sorted(op.top1 for op in front)
    for op in front:
        thr = list(op.thresholds)
        live = scheme.live_exits(thr, 3)  # head k runs if a point of exit k can fire
        exit_cost = [c + sum(h for h, on in zip((0.1, 0.2), live[: min(k + 1, 2)]) if on)
                     for k, c in enumerate((1.0, 2.0, 3.3))]
        again = evaluate_thresholds(pl, labels, scheme.point_costs(exit_cost, 4), thr)
        assert (again.top1, again.mean_cost) == pytest.approx((op.top1, op.mean_cost))
    for loss in losses:
        choice = calibrate_within_loss(pl, labels, base, loss, 1.0, blocks, [last], hp).point
        assert accuracy_at_cost(front, choice.mean_cost) >= choice.top1 - 1e-9


def test_paired_interval_by_hand():
    from dynamic_inference.calibrate import paired_interval

    ref = torch.ones(10, dtype=torch.bool)
    ours = ref.clone()
    ours[:2] = False  # 2 of 10 videos lost: 20 pt
    loss, low, high = paired_interval(ref, ours)
    assert loss == pytest.approx(20.0) and 0.0 <= low < 20.0 < high <= 60.0
    assert paired_interval(ref, ref) == (0.0, 0.0, 0.0)
    assert paired_interval(ref, ours, seed=3) == paired_interval(ref, ours, seed=3)
    with pytest.raises(ConfigError):
        paired_interval(ref, ours[:5])
    with pytest.raises(ConfigError):
        paired_interval(ref, ours, level=1.5)


def test_cheapest_within_falls_back_to_full_inference():
    from dynamic_inference.calibrate import cheapest_within

    probs, labels, costs = _confident_but_wrong_first_point()
    op = cheapest_within(probs, labels, costs, -5.0, probs=True)  # must beat 100%: impossible
    assert op.name == "full" and op.mean_cost == 10.0 and op.thresholds == (1.0, 1.0, 1.0)
    assert cheapest_within(probs, labels, costs, 0.0, probs=True).mean_cost == 2.0


def test_budgeted_quota_with_tied_confidences_lets_the_ties_exit():
    """Two videos share the confidence that fills a quota of one: the threshold lands on that
    confidence (no gap below it), both exit, as the module docstring says ties do, and the next
    point's quota (two videos by then) is already filled, so its threshold is 1.0."""
    first = [0.75, 0.75, 0.5, 0.5]
    second = [0.9, 0.8, 0.7, 0.6]
    probs = torch.tensor([[[a, 1 - a], [b, 1 - b], [1.0, 0.0]] for a, b in zip(first, second)],
                         dtype=torch.float64)  # (V=4, P=3, C=2)
    labels = torch.zeros(4, dtype=torch.long)
    op = budgeted_thresholds(probs, labels, [1.0, 2.0, 3.0], p=1.0, probs=True)  # 1, 2, 4
    assert op.thresholds[:2] == (0.75, 1.0)
    conf, _ = confidence(probs, probs=True)
    stops = first_confident(conf, torch.tensor(op.thresholds, dtype=torch.float64))
    assert stops.tolist() == [0, 0, 2, 2]
    assert op.mean_cost == 2.0


def test_dominance_counts_gaps_and_uncovered_points():
    curve = [OperatingPoint("a", 10.0, 70.0), OperatingPoint("b", 20.0, 80.0)]
    other = [
        OperatingPoint("x", 5.0, 60.0),  # cheaper than all of curve: uncovered
        OperatingPoint("y", 12.0, 69.0),  # curve has 70 at <= 12: dominated
        OperatingPoint("z", 25.0, 81.5),  # curve's best at <= 25 is 80: gap 1.5
    ]
    assert dominance(curve, other) == {"points": 3, "dominated": 1, "uncovered": 1,
                                       "worst_gap_pt": 1.5}
    assert dominance(curve, curve)["dominated"] == 2  # a curve dominates itself
    assert dominance(curve, [other[0]])["worst_gap_pt"] is None
