"""Decision rules, costs and frame orders of the schemes (issue 7), on hand-made logits."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_inference.errors import ConfigError
from dynamic_inference.schemes import (
    FrameOrder,
    coarse_to_fine,
    confidence,
    fires,
    first_confident,
    frame_order,
    make_scheme,
    simulate,
    validate_thresholds,
)

COST = [1.0, 2.0, 4.0]  # cumulative per-frame cost up to exits 1, 2, 3

DEPTH = make_scheme("depth")


def peaked(conf: float, num_classes: int, cls: int) -> torch.Tensor:
    """Logits ``(C,)`` whose softmax puts exactly ``conf`` on class ``cls``, the rest uniform."""
    x = torch.zeros(num_classes, dtype=torch.float64)
    x[cls] = math.log(conf * (num_classes - 1) / (1.0 - conf))
    return x


def constant_frames(per_exit: list[torch.Tensor], num_frames: int) -> torch.Tensor:
    """``(K, T, C)``: every frame of exit k has logits ``per_exit[k]``."""
    return torch.stack([x.expand(num_frames, -1) for x in per_exit])


def all_schemes(groups: int = 2) -> list:
    return [
        make_scheme("full"),
        DEPTH,
        make_scheme("input", groups, "strided"),
        make_scheme("input", groups, "sequential"),
        make_scheme("unified", groups, "random", seed=3),
    ]


# ------------------------------------------------------------------------------ frame orders


def test_strided_order_of_the_paper() -> None:
    groups = frame_order("strided", 16, 4).view(4, 4)
    assert groups.tolist() == [  # coarse to fine across groups, time order inside
        [0, 4, 8, 12],
        [2, 6, 10, 14],
        [1, 5, 9, 13],
        [3, 7, 11, 15],
    ]
    assert frame_order("strided", 8, 4).view(4, 2).tolist() == [[0, 4], [2, 6], [1, 5], [3, 7]]
    # G = T: every frame is its own group, the bit-reversal permutation
    assert frame_order("strided", 16, 16).tolist()[:4] == [0, 8, 4, 12]
    # G = 1: one group, plain time order
    assert frame_order("strided", 16, 1).tolist() == list(range(16))
    # the first g groups are always g * T / G uniformly spread frames
    assert sorted(frame_order("strided", 16, 4)[:8].tolist()) == list(range(0, 16, 2))


def test_coarse_to_fine() -> None:
    assert coarse_to_fine(1) == [0]
    assert coarse_to_fine(4) == [0, 2, 1, 3]
    assert coarse_to_fine(8) == [0, 4, 2, 6, 1, 5, 3, 7]
    assert coarse_to_fine(6) == [0, 3, 1, 4, 2, 5]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.sampled_from(["sequential", "strided", "random"]))
def test_orders_are_permutations(groups: int, per_group: int, name: str) -> None:
    t = groups * per_group
    perm = frame_order(name, t, groups, seed=7)
    assert perm.dtype == torch.long
    assert sorted(perm.tolist()) == list(range(t))
    if name == "strided":
        first = perm[:per_group]
        assert int(first.min()) < groups  # starts near the beginning ...
        assert int(first.max()) >= t - groups  # ... and spans the clip
        for g in range(groups):  # every group is a stride-G comb
            assert len({int(f) % groups for f in perm[g * per_group : (g + 1) * per_group]}) == 1


def test_random_order_is_seeded() -> None:
    a = FrameOrder("random", seed=1).permutation(16, 4)
    assert torch.equal(a, frame_order("random", 16, 4, seed=1))
    assert not torch.equal(a, frame_order("random", 16, 4, seed=2))


def test_bad_orders_and_groups() -> None:
    with pytest.raises(ConfigError, match="does not divide T=16"):
        frame_order("strided", 16, 3)
    with pytest.raises(ConfigError, match="unknown frame order"):
        frame_order("backwards", 16, 4)
    with pytest.raises(ConfigError, match="unknown frame order"):
        make_scheme("input", 4, "backwards")
    with pytest.raises(ConfigError, match="groups"):
        make_scheme("unified", 0)
    with pytest.raises(ConfigError, match="does not divide"):
        make_scheme("input", 3).point_logits(torch.zeros(1, 1, 16, 2))
    with pytest.raises(ConfigError, match="unknown scheme"):
        make_scheme("diagonal")


# ------------------------------------------------------------------------------ points and costs


def test_points_and_costs() -> None:
    assert [p.name for p in make_scheme("full").points(3)] == ["g1/e3"]
    assert [p.name for p in DEPTH.points(3)] == ["g1/e1", "g1/e2", "g1/e3"]
    assert [p.name for p in make_scheme("input", 4).points(3)] == [
        "g1/e3", "g2/e3", "g3/e3", "g4/e3"]
    unified = make_scheme("unified", 2)
    assert [p.name for p in unified.points(3)] == [
        "g1/e1", "g1/e2", "g1/e3", "g2/e1", "g2/e2", "g2/e3"
    ]  # fmt: skip
    t = 8
    assert make_scheme("full").point_costs(COST, t).tolist() == [32.0]
    assert DEPTH.point_costs(COST, t).tolist() == [8.0, 16.0, 32.0]
    assert make_scheme("input", 4).point_costs(COST, t).tolist() == [8.0, 16.0, 24.0, 32.0]
    # (g - 1) * n * cost_K + n * cost_k with n = 4
    assert unified.point_costs(COST, t).tolist() == [4.0, 8.0, 16.0, 20.0, 24.0, 32.0]


@pytest.mark.parametrize(
    "groups, frames, cost, expected",
    [
        # n = 2 frames per group: g1/e1 = 2*1, g1/e2 = 2*3, g2/e1 = 2*3 + 2*1, g2/e2 = 4*3
        (2, 4, [1.0, 3.0], [2.0, 6.0, 8.0, 12.0]),
        # n = 2: g1 = 2*(2, 5, 7); g2 = 14 + g1; g3 = 28 + g1
        (3, 6, [2.0, 5.0, 7.0], [4.0, 10.0, 14.0, 18.0, 24.0, 28.0, 32.0, 38.0, 42.0]),
        # n = 1: g1 = (0.5, 1.5); g2 = 1.5 + g1; ...
        (4, 4, [0.5, 1.5], [0.5, 1.5, 2.0, 3.0, 3.5, 4.5, 5.0, 6.0]),
        # one group: the depth scheme's costs, T * cost_k
        (1, 8, [1.0, 2.0, 4.0], [8.0, 16.0, 32.0]),
    ],
)
def test_unified_costs_by_hand(groups, frames, cost, expected) -> None:
    assert make_scheme("unified", groups).point_costs(cost, frames).tolist() == expected


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 4),
    st.lists(st.floats(0.01, 100.0), min_size=1, max_size=5).map(lambda c: sorted(c)),
)
def test_unified_cost_invariants(groups: int, per_group: int, cost: list[float]) -> None:
    """Invariants, not the formula: the last point costs full inference; one more group at the
    same exit costs one more group of full frames; within a group costs grow with the exit
    (cumulative exit costs); the input scheme's points are the unified scheme's last exits."""
    t = groups * per_group
    k = len(cost)
    costs = make_scheme("unified", groups).point_costs(cost, t).view(groups, k)  # (G, K)
    assert costs[-1, -1].item() == pytest.approx(t * cost[-1])
    torch.testing.assert_close(costs[1:] - costs[:-1],
                               torch.full((groups - 1, k), per_group * cost[-1],
                                          dtype=torch.float64))
    assert (costs[:, 1:] >= costs[:, :-1]).all()
    torch.testing.assert_close(make_scheme("input", groups, "sequential").point_costs(cost, t),
                               costs[:, -1])


def test_bad_exit_cost() -> None:
    for bad in ([], [1.0, -2.0], [0.0], [float("nan")], "abc"):
        with pytest.raises(ConfigError, match="exit_cost"):
            DEPTH.point_costs(bad, 8)


# ------------------------------------------------------------------------------ point logits


def test_input_point_logits_are_prefix_means() -> None:
    torch.manual_seed(0)
    fl = torch.randn(5, 3, 12, 7, dtype=torch.float64)  # (V, K, T, C)
    pl = make_scheme("input", 4).point_logits(fl)  # (V, 4, C)
    assert pl.shape == (5, 4, 7)
    for g in range(1, 5):
        assert torch.allclose(pl[:, g - 1], fl[:, -1, : 3 * g].mean(dim=1))
    assert torch.allclose(pl[:, -1], make_scheme("full").point_logits(fl)[:, 0])
    assert torch.allclose(DEPTH.point_logits(fl), fl.mean(dim=2))
    unified = make_scheme("unified", 4).point_logits(fl)  # (V, 12, C)
    assert torch.allclose(unified[:, 4], fl[:, 1, :6].mean(dim=1))  # g2/e2


def test_bad_frame_logits() -> None:
    with pytest.raises(ConfigError, match=r"\(V, K, T, C\)"):
        DEPTH.point_logits(torch.zeros(3, 4, 5))
    with pytest.raises(ConfigError, match="NaN"):
        DEPTH.point_logits(torch.full((1, 1, 2, 3), float("nan")))
    with pytest.raises(ConfigError, match="float"):
        DEPTH.point_logits(torch.zeros(1, 1, 2, 3, dtype=torch.long))


# ------------------------------------------------------------------------------ decision rule


def depth_videos() -> torch.Tensor:
    """``(3, 3, 4, 5)``: confident at exit 1 / only at exit 2 / never."""
    lo, hi = 0.3, 0.9
    videos = [
        [peaked(hi, 5, 0), peaked(hi, 5, 0), peaked(hi, 5, 0)],
        [peaked(lo, 5, 1), peaked(hi, 5, 2), peaked(hi, 5, 2)],
        [peaked(lo, 5, 3), peaked(lo, 5, 3), peaked(lo, 5, 4)],
    ]
    return torch.stack([constant_frames(v, 4) for v in videos])


def test_depth_rule_exact_stops() -> None:
    fl = depth_videos()
    labels = torch.tensor([0, 2, 3])
    res = simulate(DEPTH, fl, labels, COST, [0.8, 0.8, 0.8])
    assert res.stop.tolist() == [0, 1, 2]
    assert res.cost.tolist() == [4 * 1.0, 4 * 2.0, 4 * 4.0]  # T * cost_k
    assert res.pred.tolist() == [0, 2, 4]
    assert res.correct.tolist() == [True, True, False]
    assert res.top1 == pytest.approx(200 / 3)
    assert res.top5 == 100.0  # 5 classes: the label is always in the top 5
    assert res.stop_histogram == [1, 1, 1]
    assert res.mean_cost == pytest.approx(28 / 3)
    summary = res.summary()
    assert summary["stop_histogram"] == {"g1/e1": 1, "g1/e2": 1, "g1/e3": 1}
    # a confidence just below the threshold does not stop; exactly at it does
    assert simulate(DEPTH, fl, labels, COST, [0.9, 0.9, 0.9]).stop.tolist() == [0, 1, 2]
    assert simulate(DEPTH, fl, labels, COST, [0.91, 0.9, 0]).stop.tolist() == [1, 1, 2]


def test_input_rule_exact_stops() -> None:
    c = 4
    a, b, u = peaked(0.9, c, 0), peaked(0.9, c, 1), torch.zeros(c, dtype=torch.float64)
    # processing order, 3 groups of 2 frames: (0, 1), (2, 3), (4, 5)
    sure = torch.stack([a, a, u, u, u, u])  # confident after group 1
    torn = torch.stack([a, b, a, a, u, u])  # group 1 is undecided, groups 1-2 lean to class 0
    lost = torch.stack([u, u, u, u, u, u])  # never confident: the last group answers
    fl = torch.stack([sure, torn, lost])[:, None]  # (3, 1, T, C): one exit
    scheme = make_scheme("input", 3, "sequential")
    pl = scheme.point_logits(fl)  # (3, 3, C)
    conf = torch.softmax(pl, -1).amax(-1)
    assert conf[1, 0] < 0.7 <= conf[1, 1]
    res = simulate(scheme, fl, torch.tensor([0, 0, 0]), [3.0], 0.7)
    assert res.stop.tolist() == [0, 1, 2]
    assert res.cost.tolist() == [2 * 3.0, 4 * 3.0, 6 * 3.0]
    assert res.pred[:2].tolist() == [0, 0]


def test_unified_rule_visits_groups_then_exits() -> None:
    c = 3
    low, high = peaked(0.4, c, 0), peaked(0.95, c, 1)
    # frames 0-1 (group 1): only exit 3 is confident; frames 2-3: exit 1 is confident as well
    g1 = torch.stack([low, low, high])  # (K, C) per frame
    g2 = torch.stack([high, low, high])
    video = torch.stack([g1, g1, g2, g2], dim=1)  # (K, T, C)
    res = simulate(make_scheme("unified", 2), video[None], torch.tensor([1]), COST, 0.9)
    assert res.point_names[res.stop.item()] == "g1/e3"  # g1/e3 comes before g2/e1
    assert res.cost.item() == 2 * 4.0
    thr = [0.9, 0.9, 1.0, 0.7, 0.9, 0.9]  # g1/e3 never fires; g2/e1 averages low and high
    res = simulate(make_scheme("unified", 2), video[None], torch.tensor([1]), COST, thr)
    mean = torch.softmax((low + high) / 2, -1).max().item()
    expected = "g2/e1" if mean >= 0.7 else "g2/e3"
    assert res.point_names[res.stop.item()] == expected
    assert res.cost.item() == {"g2/e1": 2 * 4.0 + 2 * 1.0, "g2/e3": 16.0}[expected]


@pytest.mark.parametrize("scheme", all_schemes(), ids=lambda s: f"{s.name}-{s.order}")
def test_extreme_thresholds(scheme) -> None:
    torch.manual_seed(1)
    fl = torch.randn(20, 3, 8, 6)
    labels = torch.randint(0, 6, (20,))
    n_points = scheme.num_points(3)
    first = simulate(scheme, fl, labels, COST, 0.0)
    assert first.stop.tolist() == [0] * 20
    assert first.mean_cost == pytest.approx(scheme.point_costs(COST, 8)[0].item())
    last = simulate(scheme, fl, labels, COST, 1.0)
    assert last.stop.tolist() == [n_points - 1] * 20
    assert last.mean_cost == pytest.approx(scheme.point_costs(COST, 8)[-1].item())
    full = simulate(make_scheme("full"), fl, labels, COST, 0.0)
    if scheme.name in ("full", "depth"):
        assert torch.equal(last.pred, full.pred)  # the last point is full inference


def test_threshold_one_never_fires_even_on_saturated_softmax() -> None:
    fl = torch.zeros(1, 2, 2, 3)
    fl[..., 0] = 1000.0  # softmax rounds to exactly 1.0
    assert DEPTH.decide(DEPTH.point_logits(fl), [1.0, 0.0]).item() == 1
    assert DEPTH.decide(DEPTH.point_logits(fl), [0.99, 0.0]).item() == 0


def test_confidence_exactly_at_the_threshold_stops() -> None:
    """The rule is ``>=``: exactly representable confidences (equal logits of 2 classes give
    a softmax of exactly 0.5, of 4 classes 0.25; probabilities 0.75) stop at a threshold equal
    to them, and do not at the next float above."""
    above = math.nextafter(0.5, 1.0)
    fl = torch.zeros(3, 2, 4, 2)  # (V, K, T, C): every point has confidence exactly 0.5
    labels = torch.tensor([0, 1, 0])
    assert simulate(DEPTH, fl, labels, [1.0, 2.0], [0.5, 0.0]).stop.tolist() == [0] * 3
    assert simulate(DEPTH, fl, labels, [1.0, 2.0], [above, 0.0]).stop.tolist() == [1] * 3
    unified = make_scheme("unified", 2)
    res = simulate(unified, fl, labels, [1.0, 2.0], [1.0, 1.0, 0.5, 0.0])
    assert res.stop.tolist() == [2] * 3 and res.cost.tolist() == [6.0] * 3  # g2/e1 = 2*2 + 2*1
    fl4 = torch.zeros(2, 1, 2, 4)  # four equal logits: exactly 0.25
    two = make_scheme("input", 2)
    assert simulate(two, fl4, torch.tensor([0, 3]), [1.0], 0.25).stop.tolist() == [0, 0]
    assert simulate(make_scheme("input", 2), fl4, torch.tensor([0, 3]), [1.0],
                    math.nextafter(0.25, 1.0)).stop.tolist() == [1, 1]
    probs = torch.tensor([[[0.75, 0.25], [0.75, 0.25]]], dtype=torch.float64)  # (V, P, C)
    assert DEPTH.decide(probs, [0.75, 0.0], probs=True).tolist() == [0]
    assert DEPTH.decide(probs, [math.nextafter(0.75, 1.0), 0.0], probs=True).tolist() == [1]
    pl = DEPTH.point_logits(fl)
    conf0, _ = confidence(pl[:, 0])  # every video at 0.5
    assert fires(conf0, torch.tensor(0.5, dtype=torch.float64)).tolist() == [True] * 3
    assert fires(conf0, torch.tensor(above, dtype=torch.float64)).tolist() == [False] * 3
    conf = torch.tensor([[0.5, 0.75], [0.25, 0.75]], dtype=torch.float64)
    thr = torch.tensor([0.5, 0.75], dtype=torch.float64)
    assert first_confident(conf, thr).tolist() == [0, 1]


def test_last_point_always_answers() -> None:
    fl = torch.zeros(4, 3, 2, 10)  # uniform: confidence 0.1 everywhere
    stop = DEPTH.decide(DEPTH.point_logits(fl), [0.5, 0.5, 0.99])
    assert stop.tolist() == [2, 2, 2, 2]


def test_decide_on_probabilities() -> None:
    probs = torch.tensor([[[0.6, 0.4], [0.9, 0.1]], [[0.2, 0.8], [0.5, 0.5]]])  # (V, P, C)
    assert DEPTH.decide(probs, [0.7, 0.0], probs=True).tolist() == [1, 0]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_the_rule_one_point_at_a_time_agrees_with_decide(seed: int, threshold: float) -> None:
    """The engine's view (one point at a time with :func:`fires`, the last point answering)
    gives the stops of the simulation's :meth:`Scheme.decide`."""
    gen = torch.Generator().manual_seed(seed)
    scheme = make_scheme("unified", 2)
    fl = 2 * torch.randn(6, 2, 4, 5, generator=gen)
    pl = scheme.point_logits(fl)  # (V, P, C)
    n_points = pl.shape[1]
    stop = scheme.decide(pl, threshold)
    running = torch.ones(6, dtype=torch.bool)
    engine_stop = torch.full((6,), -1)
    for p in range(n_points):
        conf, _ = confidence(pl[:, p])
        now = (fires(conf, torch.tensor(threshold, dtype=torch.float64))
               | (p == n_points - 1)) & running
        engine_stop[now] = p
        running &= ~now
    assert torch.equal(engine_stop, stop)


@pytest.mark.parametrize(
    "bad, match",
    [
        (float("nan"), "NaN"),
        ([0.5, float("nan"), 0.5], "NaN"),
        (-0.1, r"\[0, 1\]"),
        (1.5, r"\[0, 1\]"),
        ([0.5, 0.5], "2 thresholds but this scheme has 3"),
        ([0.5] * 4, "4 thresholds"),
        (True, "numbers"),
        ("high", "sequence"),
    ],
)
def test_bad_thresholds(bad, match) -> None:
    with pytest.raises(ConfigError, match=match):
        validate_thresholds(bad, 3)
    with pytest.raises(ConfigError, match=match):
        simulate(DEPTH, torch.zeros(2, 3, 4, 5), torch.tensor([0, 1]), COST, bad)


def test_bad_labels_and_costs() -> None:
    fl = torch.zeros(2, 3, 4, 5)
    with pytest.raises(ConfigError, match="labels must be in 0..4"):
        simulate(DEPTH, fl, torch.tensor([0, 5]), COST, 0.5)
    with pytest.raises(ConfigError, match=r"labels must have shape \(2,\)"):
        simulate(DEPTH, fl, torch.tensor([0, 1, 2]), COST, 0.5)
    with pytest.raises(ConfigError, match="exit_cost has 2 values"):
        simulate(DEPTH, fl, torch.tensor([0, 1]), [1.0, 2.0], 0.5)


def test_top5_is_judged_at_the_stop_point() -> None:
    c = 8
    exit1 = torch.arange(c, dtype=torch.float64) * 10  # confident, label ranks last
    exit2 = torch.zeros(c, dtype=torch.float64)
    exit2[0] = 1.0  # unsure, label ranks first
    fl = constant_frames([exit1, exit2], 2)[None]  # (1, 2, 2, C)
    label = torch.tensor([0])
    assert simulate(DEPTH, fl, label, [1.0, 2.0], 0.5).correct5.tolist() == [False]
    assert simulate(DEPTH, fl, label, [1.0, 2.0], 1.0).correct5.tolist() == [True]
