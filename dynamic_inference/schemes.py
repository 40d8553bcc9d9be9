"""Decision rules of the dynamic schemes, computed from per-frame logits (paper Approach (a)-(d)).

The four schemes of the paper differ only in *where* a video may stop:

* **full inference**: the last exit on all T frames; one decision point;
* **(a) depth axis** (``make_scheme("depth")``): exits 1..K on all T frames;
* **(b)/(c) input axis** (``"input"``): the T frames are split into G groups of T/G frames
  that enter the network one group after another; the last exit answers on the running mean of
  the groups seen so far. (b) uses the ``sequential`` frame order, (c) a permuted one (``strided``,
  coarse to fine, by default);
* **(d) unified** (``"unified"``): groups x exits, visited as
  ``(g=1: k=1..K), (g=2: k=1..K), ...``.

**Why logits are enough.** Every exit head ends with a linear classifier applied to frame-averaged
features (:mod:`dynamic_inference.exits`), so the video logits of exit k over a set of frames are
the mean of its per-frame logits over those frames. Every decision point of every scheme is
therefore a slice of ``frame_logits: (V, K, T, C)``: per video, per exit, per frame (in
*processing order*, i.e. already permuted by the scheme's frame order), per class. With the online
(causal) temporal shift the logits of a frame depend only on frames processed before it, so the
prefix of the first g groups is exactly what the network has seen after g groups.

**The rule.** A video stops at the first decision point whose top-1 softmax probability is
``>= threshold`` of that point; the last point always answers (its threshold is ignored). The
softmax of finite logits is strictly below 1, so a threshold of exactly 1.0 never fires (even
where float rounding makes a confidence equal to 1.0): 0.0 stops every video at the first point,
1.0 sends every video on, and all thresholds live in [0, 1].

**Cost.** ``exit_cost[k]`` is the cumulative per-frame cost up to and including head k (GFLOPs or
measured milliseconds; any unit). With ``n = T / G`` frames per group, stopping at group g, exit k
costs ``(g - 1) * n * exit_cost[K] + n * exit_cost[k]`` per video: the earlier groups went through
the whole network, the current one up to head k. The depth scheme is the case G = 1, the input
scheme the case k = K, full inference both.

**Frame orders** (:class:`FrameOrder`, :func:`frame_order`). The ``strided`` order is coarse to
fine: group j holds the frames ``o_j, o_j + G, o_j + 2G, ...`` (a stride-G comb, so the first group
already spans the whole clip), the offsets ``o_j`` follow :func:`coarse_to_fine` (the van der
Corput / bit-reversal order: 0, G/2, G/4, 3G/4, ...), and inside a group the frames keep their
temporal order. For T=16, G=4 the groups are {0,4,8,12}, {2,6,10,14}, {1,5,9,13}, {3,7,11,15}.
Keeping time order inside a group matters for the online shift: within a
group every processed frame follows an earlier one by the same stride, so the shifted channels
always carry the past, as in training on ordinary clips; only the jump between groups goes back.
**Groups must divide T** (every group has the same number of frames, as in the paper); anything
else raises :class:`~dynamic_inference.errors.ConfigError` listing the valid group counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor

from dynamic_inference.errors import ConfigError

ORDERS = ("sequential", "strided", "random")
SCHEMES = ("full", "depth", "input", "unified")

Thresholds = Union[float, Sequence[float], Tensor]


# --------------------------------------------------------------------------------------------
# Frame orders


def coarse_to_fine(n: int) -> list[int]:
    """The integers 0..n-1 in coarse-to-fine order (van der Corput sequence in base 2).

    Takes the base-2 van der Corput points 0, 1/2, 1/4, 3/4, 1/8, 5/8, ... scaled to ``n`` and
    floored, keeping first occurrences. For a power of two ``n`` this is the bit-reversal order
    (n=4: 0, 2, 1, 3; n=8: 0, 4, 2, 6, 1, 5, 3, 7); for other ``n`` it is its natural extension
    (n=6: 0, 3, 1, 4, 2, 5). Every prefix is spread as evenly as the sequence allows.
    """
    if n < 1:
        raise ConfigError(f"coarse_to_fine needs n >= 1, got {n}")
    bits = max(1, math.ceil(math.log2(n)))
    seen: set[int] = set()
    out: list[int] = []
    for i in range(2**bits):
        radical_inverse = int(format(i, f"0{bits}b")[::-1], 2) / 2**bits  # in [0, 1)
        value = math.floor(radical_inverse * n)
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out  # 2**bits >= n points with spacing <= 1/n hit every integer 0..n-1


def _check_frames_and_groups(num_frames: int, groups: int) -> None:
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise ConfigError(f"number of frames T must be a positive int, got {num_frames!r}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ConfigError(f"number of groups G must be a positive int, got {groups!r}")
    if num_frames % groups != 0:
        divisors = [d for d in range(1, num_frames + 1) if num_frames % d == 0]
        raise ConfigError(
            f"groups={groups} does not divide T={num_frames} frames; every group must hold the "
            f"same number of frames, choose groups in {divisors}"
        )


@dataclass(frozen=True)
class FrameOrder:
    """The order in which the T sampled frames of a clip enter the network.

    ``sequential``: 0..T-1. ``strided``: coarse to fine (module docstring). ``random``: a random
    permutation drawn from ``seed`` (the same for every video).
    """

    name: str = "strided"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in ORDERS:
            raise ConfigError(f"unknown frame order {self.name!r}; expected one of {ORDERS}")

    def permutation(self, num_frames: int, groups: int = 1) -> Tensor:
        """``(T,)`` LongTensor: position i of the processing order holds frame ``perm[i]``.

        Group j (0-based) is ``perm[j * T // G : (j + 1) * T // G]``.
        """
        _check_frames_and_groups(num_frames, groups)
        if self.name == "sequential":
            return torch.arange(num_frames)
        if self.name == "random":
            generator = torch.Generator().manual_seed(self.seed)
            return torch.randperm(num_frames, generator=generator)
        per_group = num_frames // groups
        perm = [
            offset + j * groups
            for offset in coarse_to_fine(groups)  # which comb, coarse to fine
            for j in range(per_group)  # the teeth of the comb, in temporal order
        ]
        return torch.tensor(perm, dtype=torch.long)


def frame_order(name: str, num_frames: int, groups: int = 1, seed: int = 0) -> Tensor:
    """``(T,)`` permutation of the frame order ``name`` for T frames in ``groups`` groups."""
    return FrameOrder(name, seed).permutation(num_frames, groups)


# --------------------------------------------------------------------------------------------
# Confidence and the stopping rule


def confidence(scores: Tensor, probs: bool = False) -> tuple[Tensor, Tensor]:
    """Top-1 probability and top-1 class of ``scores`` ``(..., C)``: two tensors ``(...)``.

    ``scores`` are logits (softmax taken here, in float64) or, with ``probs=True``, probabilities.
    """
    if not torch.is_floating_point(scores):
        raise ConfigError(f"scores must be a float tensor, got dtype {scores.dtype}")
    p = scores.double() if probs else torch.softmax(scores.double(), dim=-1)
    conf, pred = p.max(dim=-1)
    return conf, pred


def validate_thresholds(thresholds: Thresholds, num_points: int) -> Tensor:
    """``(P,)`` float64 tensor of per-point thresholds; a single number is shared by all points.

    Raises ConfigError on a wrong count, NaN, or a value outside [0, 1].
    """
    if isinstance(thresholds, bool):
        raise ConfigError(f"thresholds must be numbers in [0, 1], got {thresholds!r}")
    if isinstance(thresholds, (int, float)):
        thr = torch.full((num_points,), float(thresholds), dtype=torch.float64)
    else:
        try:
            thr = torch.as_tensor(thresholds, dtype=torch.float64)
            thr = thr.expand(num_points) if thr.dim() == 0 else thr.reshape(-1)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ConfigError(
                f"thresholds must be a number or a sequence of {num_points} numbers, "
                f"got {thresholds!r}"
            ) from err
        if thr.numel() != num_points:
            raise ConfigError(
                f"got {thr.numel()} thresholds but this scheme has {num_points} decision points; "
                f"give one per point (the last one is ignored) or a single shared number"
            )
    if torch.isnan(thr).any():
        raise ConfigError(f"thresholds contain NaN: {thr.tolist()}")
    bad = (thr < 0) | (thr > 1)
    if bad.any():
        raise ConfigError(
            f"thresholds must be in [0, 1], got {thr[bad].tolist()} at points "
            f"{bad.nonzero().flatten().tolist()}"
        )
    return thr


def fires(conf: Tensor, thresholds: Tensor) -> Tensor:
    """The stop rule at a decision point: ``conf >= threshold``, and a threshold of 1.0 never
    fires (module docstring). ``conf`` and ``thresholds`` broadcast; the result is bool. Whether
    the *last* point answers regardless is the caller's part (:func:`first_confident`, the engine).
    """
    thr = thresholds.to(conf)
    return (conf >= thr) & (thr < 1.0)


def first_confident(conf: Tensor, thresholds: Tensor) -> Tensor:
    """Stop index: the first point p where the rule :func:`fires`, else the last point.

    ``conf``: ``(V, P)`` top-1 probabilities; ``thresholds``: validated ``(P,)``, or ``(S, 1, P)``
    for S settings at once (then the result is ``(S, V)``, else ``(V,)``). The simulation and
    calibration call it on every point at once; the engine, which sees one point at a time,
    calls :func:`fires` and answers at the last point.
    """
    stop = fires(conf, thresholds)  # (..., V, P)
    stop[..., -1] = True  # the last point always answers
    return stop.to(torch.uint8).argmax(dim=-1)  # argmax returns the first maximum


# --------------------------------------------------------------------------------------------
# Schemes


@dataclass(frozen=True)
class HeadPricing:
    """What the early exits' heads add to each point's cost, when they run.

    A head runs only if one of its decision points (other than the last point) can fire, i.e. has
    a threshold < 1.0 (:meth:`Scheme.live_exits`); the engine skips the others. Pricing every
    setting by the heads it really runs keeps a setting that switches the early exits off exactly
    as cheap as the input axis alone. Built by :meth:`Scheme.head_pricing`.
    """

    extra: Tensor  # (P, E) float64: cost added to point p when early head e runs
    head_of_point: Tensor  # (P,) long: the early head read at point p, -1 for the last exit

    def every_head(self, costs: Tensor) -> Tensor:
        """Point costs ``(P,)`` with every early head running, from those with none."""
        return costs + self.extra.sum(dim=1)


@dataclass(frozen=True)
class DecisionPoint:
    """Where a video may stop: after ``group`` groups (1-based) at exit ``exit`` (1-based)."""

    name: str
    group: int
    exit: int


def check_frame_logits(frame_logits: Tensor) -> None:
    if not isinstance(frame_logits, Tensor) or frame_logits.dim() != 4:
        shape = tuple(frame_logits.shape) if isinstance(frame_logits, Tensor) else frame_logits
        raise ConfigError(
            f"frame_logits must be a tensor (V, K, T, C) = (videos, exits, frames, classes), "
            f"got {shape!r}"
        )
    if not torch.is_floating_point(frame_logits):
        raise ConfigError(f"frame_logits must be a float tensor, got dtype {frame_logits.dtype}")
    if min(frame_logits.shape) < 1:
        raise ConfigError(f"frame_logits has an empty axis: {tuple(frame_logits.shape)}")
    if not torch.isfinite(frame_logits).all():
        raise ConfigError("frame_logits contain NaN or inf")


def check_exit_cost(exit_cost: Sequence[float] | Tensor) -> Tensor:
    try:
        cost = torch.as_tensor(exit_cost, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ConfigError(f"exit_cost must be a sequence of K numbers, got {exit_cost!r}") from err
    if cost.numel() == 0 or not torch.isfinite(cost).all() or (cost <= 0).any():
        raise ConfigError(
            f"exit_cost must hold K finite positive per-frame costs (one per exit), "
            f"got {cost.tolist()}"
        )
    return cost


@dataclass(frozen=True)
class Scheme:
    """Where a video may stop: G groups of frames x the exits that decide (module docstring).

    One dataclass for the four schemes of the paper; :func:`make_scheme` builds them by name.
    """

    name: str  # "full", "depth", "input" or "unified" (SCHEMES)
    depth: bool  # True: every exit is a decision point; False: only the last exit
    groups: int = 1  # G: groups of T/G frames that enter the network one after another
    order: str = "sequential"  # the frame order of the groups (ORDERS)
    seed: int = 0  # seed of the "random" order

    def __post_init__(self) -> None:
        if self.name not in SCHEMES:
            raise ConfigError(f"unknown scheme {self.name!r}; expected one of {SCHEMES}")
        if isinstance(self.groups, bool) or not isinstance(self.groups, int) or self.groups < 1:
            raise ConfigError(f"groups must be a positive int, got {self.groups!r}")
        if self.order not in ORDERS:
            raise ConfigError(f"unknown frame order {self.order!r}; expected one of {ORDERS}")

    def points(self, num_exits: int) -> list[DecisionPoint]:
        """The decision points in visiting order, named like ``"g2/e3"``."""
        if num_exits < 1:
            raise ConfigError(f"num_exits must be >= 1, got {num_exits}")
        exits = range(1, num_exits + 1) if self.depth else [num_exits]
        return [
            DecisionPoint(f"g{g}/e{k}", g, k) for g in range(1, self.groups + 1) for k in exits
        ]

    def num_points(self, num_exits: int) -> int:
        return len(self.points(num_exits))

    def live_exits(self, thresholds: Thresholds, num_exits: int) -> list[bool]:
        """Which exits' heads can end a video: exit k is live if one of its decision points,
        other than the last point, has a threshold < 1.0 (a threshold of 1.0 never fires); the
        last exit always is. The heads of the other exits need not run, nor be paid for
        (:func:`dynamic_inference.cost.exit_costs`; the engine skips them)."""
        points = self.points(num_exits)
        thr = validate_thresholds(thresholds, len(points))
        live = [False] * num_exits
        live[-1] = True
        for p, t in zip(points[:-1], thr[:-1].tolist()):
            live[p.exit - 1] = live[p.exit - 1] or t < 1.0
        return live

    def point_costs(self, exit_cost: Sequence[float] | Tensor, num_frames: int) -> Tensor:
        """``(P,)`` float64: cost per video of stopping at each point (module docstring)."""
        cost = check_exit_cost(exit_cost)  # (K,)
        _check_frames_and_groups(num_frames, self.groups)
        per_group = num_frames // self.groups
        last = cost[-1]
        return torch.stack(
            [
                (p.group - 1) * per_group * last + per_group * cost[p.exit - 1]
                for p in self.points(cost.numel())
            ]
        )

    def head_pricing(self, head_cost: Sequence[float] | Tensor, num_frames: int) -> HeadPricing:
        """What each early head adds to each point's cost when it runs (:class:`HeadPricing`).

        ``head_cost``: ``(K,)`` per-frame cost of each exit's head. At point (g, k) the head of an
        early exit e runs on the frames of groups 1..g-1 (they passed every exit) and, if e < k,
        on the current group if e <= k: ``(g - 1) * T/G * h_e + T/G * h_e * [e <= k]``.
        """
        h = torch.as_tensor(head_cost, dtype=torch.float64).reshape(-1)  # (K,)
        _check_frames_and_groups(num_frames, self.groups)
        per_group = num_frames // self.groups
        points = self.points(h.numel())
        early = h.numel() - 1 if self.depth else 0
        extra = torch.zeros(len(points), early, dtype=torch.float64)  # (P, E)
        for i, p in enumerate(points):
            for e in range(early):
                extra[i, e] = per_group * h[e] * ((p.group - 1) + (e <= p.exit - 1))
        owner = [p.exit - 1 if p.exit - 1 < early else -1 for p in points]
        return HeadPricing(extra, torch.tensor(owner, dtype=torch.long))

    def point_logits(self, frame_logits: Tensor) -> Tensor:
        """``(V, P, C)``: video logits at each point from ``frame_logits`` ``(V, K, T, C)``.

        At point (g, k): the mean of exit k's per-frame logits over the frames of groups 1..g.
        """
        check_frame_logits(frame_logits)
        v, k, t, c = frame_logits.shape
        _check_frames_and_groups(t, self.groups)
        per_group = t // self.groups
        group_sums = frame_logits.reshape(v, k, self.groups, per_group, c).sum(dim=3)  # V,K,G,C
        seen = per_group * torch.arange(1, self.groups + 1, dtype=frame_logits.dtype)  # (G,)
        prefix_means = group_sums.cumsum(dim=2) / seen.view(1, 1, -1, 1)  # (V, K, G, C)
        pts = self.points(k)
        exit_index = torch.tensor([p.exit - 1 for p in pts])  # (P,)
        group_index = torch.tensor([p.group - 1 for p in pts])  # (P,)
        return prefix_means[:, exit_index, group_index]  # (V, P, C)

    def decide(self, scores: Tensor, thresholds: Thresholds, probs: bool = False) -> Tensor:
        """Stop index ``(V,)`` for point scores ``(V, P, C)`` (logits, or probs with ``probs``)."""
        if scores.dim() != 3:
            raise ConfigError(f"scores must be (V, P, C), got shape {tuple(scores.shape)}")
        thr = validate_thresholds(thresholds, scores.shape[1])
        conf, _ = confidence(scores, probs)  # (V, P)
        return first_confident(conf, thr)


def make_scheme(name: str, groups: int = 4, order: str = "strided", seed: int = 0) -> Scheme:
    """The scheme called ``name`` (one of ``SCHEMES``, as on the command line).

    Full inference and the depth axis see all T frames at once: ``groups``, ``order`` and
    ``seed`` only apply to the input axis and the unified scheme.
    """
    if name == "full":
        return Scheme("full", depth=False)
    if name == "depth":
        return Scheme("depth", depth=True)
    if name in ("input", "unified"):
        return Scheme(name, depth=name == "unified", groups=groups, order=order, seed=seed)
    raise ConfigError(f"unknown scheme {name!r}; expected one of {SCHEMES}")


# --------------------------------------------------------------------------------------------
# Simulation


def check_labels(labels: Tensor, num_videos: int, num_classes: int) -> Tensor:
    """``labels`` as a ``(V,)`` LongTensor; ConfigError on a wrong shape or an unknown class."""
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.shape[0] != num_videos:
        raise ConfigError(f"labels must have shape ({num_videos},), got {tuple(labels.shape)}")
    if torch.is_floating_point(labels) or labels.dtype == torch.bool:
        raise ConfigError(f"labels must be integer class indices, got dtype {labels.dtype}")
    labels = labels.long()
    if num_videos and (labels.min() < 0 or labels.max() >= num_classes):
        raise ConfigError(
            f"labels must be in 0..{num_classes - 1}, got values in "
            f"{int(labels.min())}..{int(labels.max())}"
        )
    return labels


@dataclass
class SimResult:
    """Outcome of a scheme with fixed thresholds on V videos.

    Per video: ``pred``, ``stop`` (point index), ``cost``, ``correct`` (top-1), ``correct5``
    (label within the top 5 of the logits at the stop point). Accuracies are in percent.
    """

    scheme: str
    point_names: list[str]
    thresholds: list[float]
    pred: Tensor  # (V,) long
    stop: Tensor  # (V,) long, index into point_names
    cost: Tensor  # (V,) float64
    correct: Tensor  # (V,) bool
    correct5: Tensor  # (V,) bool

    @property
    def n_videos(self) -> int:
        return int(self.pred.numel())

    @property
    def top1(self) -> float:
        return 100.0 * self.correct.double().mean().item()

    @property
    def top5(self) -> float:
        return 100.0 * self.correct5.double().mean().item()

    @property
    def mean_cost(self) -> float:
        return self.cost.mean().item()

    @property
    def stop_histogram(self) -> list[int]:
        """Number of videos that stopped at each point."""
        return torch.bincount(self.stop, minlength=len(self.point_names)).tolist()

    def summary(self) -> dict:
        """JSON-friendly aggregates."""
        return {
            "scheme": self.scheme,
            "n_videos": self.n_videos,
            "top1": self.top1,
            "top5": self.top5,
            "mean_cost": self.mean_cost,
            "stop_histogram": dict(zip(self.point_names, self.stop_histogram, strict=True)),
            "thresholds": self.thresholds,
        }


def simulate(
    scheme: Scheme,
    frame_logits: Tensor,
    labels: Tensor,
    exit_cost: Sequence[float] | Tensor,
    thresholds: Thresholds,
) -> SimResult:
    """Run ``scheme`` with ``thresholds`` on ``frame_logits`` ``(V, K, T, C)`` (processing order).

    Top-5 is judged on the logits of the point where each video stopped (the prediction it made).
    """
    check_frame_logits(frame_logits)
    v, k, t, c = frame_logits.shape
    cost_per_frame = check_exit_cost(exit_cost)
    if cost_per_frame.numel() != k:
        raise ConfigError(f"exit_cost has {cost_per_frame.numel()} values but the logits {k} exits")
    labels = check_labels(labels, v, c)
    logits = scheme.point_logits(frame_logits)  # (V, P, C)
    costs = scheme.point_costs(cost_per_frame, t)  # (P,)
    thr = validate_thresholds(thresholds, logits.shape[1])
    conf, pred_all = confidence(logits)  # (V, P)
    stop = first_confident(conf, thr)  # (V,)
    pred = pred_all.gather(1, stop[:, None]).squeeze(1)  # (V,)
    stopped_logits = logits[torch.arange(v), stop]  # (V, C)
    top5 = stopped_logits.topk(min(5, c), dim=1).indices  # (V, 5)
    return SimResult(
        scheme=scheme.name,
        point_names=[p.name for p in scheme.points(k)],
        thresholds=thr.tolist(),
        pred=pred,
        stop=stop,
        cost=costs[stop],
        correct=pred == labels,
        correct5=(top5 == labels[:, None]).any(dim=1),
    )
