"""The engine's serving mode (issue 16) answers exactly what the simulation answers.

``EarlyExitEngine.serve`` takes a stream of clips and a budget of frames per call, keeps videos
waiting at each segment until a full call has gathered, and flushes when the stream ends. The
reference is :func:`dynamic_inference.schemes.simulate` on the per-frame logits of a plain
forward pass; the FLOPs actually executed are counted independently, as rows through each stage
and head (forward hooks), against what the simulation's stop points imply.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine import ToyNet
from torch import nn

from dynamic_inference.backbones import build_model
from dynamic_inference.backbones.msdnet import MSDNet, MSDNetConfig
from dynamic_inference.engine import WORK_KINDS, EarlyExitEngine
from dynamic_inference.errors import ConfigError
from dynamic_inference.schemes import confidence, make_scheme, simulate

SCHEMES = ["full", "depth", "input", "unified"]


def tiny(frames_classes: int = 6) -> nn.Module:
    """The project's tiny backbone, random weights, predictions that depend on the frames."""
    torch.manual_seed(0)
    model = build_model("tiny", frames_classes, shift="online").eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.fill_(0.15)
    return model


def small_msdnet() -> nn.Module:
    """A two-scale, three-block MSDNet: its state is a list of tensors."""
    torch.manual_seed(0)
    cfg = MSDNetConfig(num_classes=5, n_blocks=3, base=1, step=1, channels=8, growth=4,
                       gr_factor=(1, 2), bn_factor=(1, 2), fold_div=4)
    return MSDNet(cfg).eval()


def spread_thresholds(point_logits: torch.Tensor, gap: float = 1e-5) -> list[float]:
    """Thresholds under which the videos stop spread over all points: at each point about
    1/(points left) of the videos still running stop, the threshold halfway between two
    confidences at least ``gap`` apart (so float rounding cannot move a video across it)."""
    conf, _ = confidence(point_logits)  # (V, P)
    v, p = conf.shape
    running = torch.ones(v, dtype=torch.bool)
    thresholds = []
    for i in range(p - 1):
        c = conf[running, i].sort(descending=True).values
        want = max(1, round(len(c) / (p - i)))
        best = None
        for m in sorted(range(1, len(c)), key=lambda m: abs(m - want)):  # top m stop
            if c[m - 1] - c[m] >= gap:
                best = m
                break
        t = 1.0 if best is None else float(c[best - 1] + c[best]) / 2
        thresholds.append(t)
        running &= ~(conf[:, i] >= t)
    return thresholds + [0.5]  # the last point answers whatever its threshold


def expected_rows(engine: EarlyExitEngine, stop: torch.Tensor) -> tuple[list[int], list[int]]:
    """Frames each stage and each head must process, from the stop points alone."""
    k_all, pg = engine.model.num_exits, engine.per_group
    stages, heads = [0] * k_all, [0] * k_all
    for p in stop.tolist():
        point = engine.points[p]  # 1-based group and exit
        for g in range(1, point.group + 1):
            last = point.exit if g == point.group else k_all
            for k in range(last):
                stages[k] += pg
                if engine.live[k] and (engine.scheme.depth or k == k_all - 1):
                    heads[k] += pg
    return stages, heads


def count_rows(model: nn.Module) -> tuple[list[int], list[int], list]:
    stages, heads = [0] * model.num_exits, [0] * model.num_exits
    for k, stage in enumerate(model.stages):
        stage.register_forward_hook(
            lambda m, i, o, k=k: stages.__setitem__(k, stages[k] + _rows(i[0])))
    for k, head in enumerate(model.heads):
        head.features.register_forward_hook(
            lambda m, i, o, k=k: heads.__setitem__(k, heads[k] + o.shape[0]))
    stem_calls: list = []
    model.stem_layers.register_forward_hook(lambda m, i, o: stem_calls.append(_rows(i[0])))
    return stages, heads, stem_calls


def _rows(x) -> int:
    return (x if isinstance(x, torch.Tensor) else x[0]).shape[0]


def check_serving(model, scheme_name, clips, labels, budget, max_videos):
    """serve() on a generator stream == simulate(); executed rows == the stops' rows; every
    call before the stream ended is a full call of the budget."""
    frames = clips.shape[1]
    sch = make_scheme(scheme_name, groups=4)
    exit_cost = [float(k + 1) ** 1.5 for k in range(model.num_exits)]
    with torch.inference_mode():
        fl = model(clips).stacked_logits()
    thresholds = spread_thresholds(sch.point_logits(fl))
    sim = simulate(sch, fl, labels, exit_cost, thresholds)
    engine = EarlyExitEngine(model, sch, thresholds, exit_cost, frames)
    stages, heads, stem_calls = count_rows(model)

    def stream():
        yield from clips
        stem_calls.append("end")

    res = engine.serve(stream(), frames_per_call=budget, max_videos=max_videos)
    assert torch.equal(res.stop, sim.stop)
    assert torch.equal(res.pred, sim.pred)
    assert torch.equal(res.pred == labels, sim.correct)
    assert torch.equal(res.cost, sim.cost)  # the same points, the same FLOPs
    assert (stages, heads) == expected_rows(engine, sim.stop)  # what really ran
    per_call = budget // engine.per_group * engine.per_group
    assert all(f <= per_call for _, f in res.calls)
    if max_videos is None:  # queues wait for full calls until the stream has ended
        end = stem_calls.index("end")
        assert all(r == per_call for r in stem_calls[:end])
    assert sorted(res.seconds) == sorted(WORK_KINDS)
    assert res.decided_s is not None and bool((res.decided_s > 0).all())
    return sim


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), budget=st.sampled_from([8, 10, 16, 24, 40, 400]),
       max_videos=st.sampled_from([None, None, 1, 2, 5]), n=st.integers(5, 24))
def test_serving_equals_simulation_toy(scheme, seed, budget, max_videos, n):
    torch.manual_seed(seed)
    model = ToyNet().eval()
    clips = torch.randn(n, 8, 3, 16, 16) * 3
    labels = torch.randint(0, 5, (n,))
    sim = check_serving(model, scheme, clips, labels, budget, max_videos)
    if n >= 16:  # the point of the thresholds: a mix of stop points
        assert sim.stop.unique().numel() >= min(3, len(sim.point_names))


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 10_000), budget=st.sampled_from([16, 32, 64, 1024]),
       max_videos=st.sampled_from([None, 3]))
def test_serving_equals_simulation_tiny_backbone(scheme, seed, budget, max_videos):
    """The project's tiny backbone (4 exits, online shift), 16 frames of 48x48."""
    model = tiny()
    torch.manual_seed(seed)
    clips = torch.randn(20, 16, 3, 48, 48)
    labels = torch.randint(0, 6, (20,))
    sim = check_serving(model, scheme, clips, labels, budget, max_videos)
    assert sim.stop.unique().numel() >= min(3, len(sim.point_names))
    assert labels.unique().numel() > 1


@pytest.mark.parametrize("scheme", ["depth", "unified"])
def test_serving_equals_simulation_multiscale_state(scheme):
    """MSDNet's state is a list of tensors: queues join and split every scale."""
    torch.manual_seed(1)
    clips = torch.randn(14, 8, 3, 32, 32)
    check_serving(small_msdnet(), scheme, clips, torch.randint(0, 5, (14,)), 12, None)


def test_full_calls_hold_the_budget_of_frames():
    """Equal memory for every scheme: 16 frames per call is one clip of 16 frames for full
    inference and four groups of 4 frames for the unified scheme; fewer is refused."""
    model = ToyNet().eval()
    clips = torch.randn(6, 8, 3, 16, 16)
    full = EarlyExitEngine(model, make_scheme("full"), [0.0], [1, 2, 3], 8)
    assert {f for _, f in full.serve(iter(clips), frames_per_call=8).calls} == {8}
    uni = EarlyExitEngine(model, make_scheme("unified", groups=4), [0.0] * 12, [1, 2, 3], 8)
    res = uni.serve(iter(clips), frames_per_call=8)
    assert res.calls == [(0, 8), (0, 4)]  # everything stops at the first point
    with pytest.raises(ConfigError, match="one group of one video"):
        full.serve(iter(clips), frames_per_call=4)
    for bad in (0, 2.0, True):
        with pytest.raises(ConfigError, match="frames_per_call"):
            uni.serve(iter(clips), frames_per_call=bad)
    with pytest.raises(ConfigError, match="max_videos"):
        uni.serve(iter(clips), frames_per_call=8, max_videos=0)
    with pytest.raises(ConfigError, match="empty"):
        uni.serve(iter([]), frames_per_call=8)
    with pytest.raises(ConfigError, match="expected clips"):
        uni.serve(iter(torch.randn(2, 4, 3, 16, 16)), frames_per_call=8)


def test_videos_wait_for_a_full_call_at_deep_segments():
    """Hand-made case: 8 videos, 2 frames per group, 4 frames per call (2 videos). With the
    thresholds below, videos 0, 2, 4, 6 stop at g1/e1 and the others go on: in lockstep
    (``max_videos`` = one call) segment 1 would get calls of 1 video; served, the survivors of
    two calls gather into one call of 2 videos."""
    torch.manual_seed(0)
    model = ToyNet().eval()
    clips = torch.randn(8, 8, 3, 16, 16) * 3
    sch = make_scheme("unified", groups=4)
    with torch.inference_mode():
        conf, _ = confidence(sch.point_logits(model(clips).stacked_logits()))
    c0 = conf[:, 0]
    order = c0.argsort(descending=True)
    clips = clips[torch.cat([order[:4], order[4:]]).view(2, 4).t().reshape(-1)]  # hi, lo, ...
    t = float(c0[order[3]] + c0[order[4]]) / 2
    thresholds = [t] + [0.0] * 11  # the others stop at g1/e2
    eng = EarlyExitEngine(model, sch, thresholds, [1, 2, 3], 8)
    served = eng.serve(iter(clips), frames_per_call=4)
    lockstep = eng.serve(iter(clips), frames_per_call=4, max_videos=2)
    assert served.stop.tolist() == [0, 1] * 4 == lockstep.stop.tolist()
    assert [f for s, f in served.calls if s == 1] == [4, 4]
    assert [f for s, f in lockstep.calls if s == 1] == [2, 2, 2, 2]
    assert torch.equal(served.pred, lockstep.pred)


@pytest.mark.parametrize("head0_ms, pruned", [(0.5, False), (0.6, True)])
def test_prune_heads_switches_off_a_head_that_costs_more_than_it_saves(head0_ms, pruned):
    """Depth scheme, 2 exits, 1 frame; stages 1 ms each, head 2 0.1 ms. Video A is confident
    at exit 1, video B is not. With head 1 live: A pays 1 + h, B 1 + h + 1 + 0.1, mean 1.55 + h;
    without it both pay 2.1. So head 1 goes when h > 0.55."""
    from dynamic_inference.engine import prune_heads

    sch = make_scheme("depth")
    logits = torch.tensor([[[10.0, 0.0], [10.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])  # (V, P, C)
    thr, ms = prune_heads(sch, [0.9, 0.5], logits, [1.0, 1.0], [head0_ms, 0.1], 1)
    assert thr.tolist() == ([1.0, 0.5] if pruned else [0.9, 0.5])
    assert ms == pytest.approx(2.1 if pruned else 1.55 + head0_ms)
    assert sch.live_exits(thr, 2) == [not pruned, True]
