"""Threshold calibration, accuracy-cost curves, Pareto front, oracle (paper: Approach; DESIGN 1).

Everything here works on *point scores* of one scheme: ``point_logits: (V, P, C)`` (from
:meth:`~dynamic_inference.schemes.Scheme.point_logits`, or probabilities with ``probs=True``),
``labels: (V,)`` and ``costs: (P,)`` (from :meth:`~dynamic_inference.schemes.Scheme.point_costs`;
GFLOPs or milliseconds, the code does not care). The stopping rule is the one of
:mod:`dynamic_inference.schemes`: stop at the first point whose top-1 probability is >= its
threshold; the last point always answers.

**Validation only.** Thresholds are chosen on the validation split. The test split is only ever
evaluated with frozen thresholds (:func:`evaluate_thresholds`, :func:`val_test_gap`).

**Shared threshold sweep** (:func:`sweep_shared_threshold`): one threshold for every point.

**Budgeted calibration** (Huang et al., MSDNet, ICLR 2018, section 4 "budgeted batch
classification"): for a parameter ``p > 0`` the fraction of validation samples that should exit at
point k is ``q_k = z * p**(k-1)`` with ``z`` normalising over the P points (p < 1 favours early
points, p > 1 late ones). Points are visited in order; at point k the samples still running are
sorted by confidence and the threshold is the confidence of the sample that fills the cumulative
quota ``floor(V * (q_1 + ... + q_k))`` (ties can let a few more exit; the next quota is reduced by
what actually exited). A point whose quota is already filled gets threshold 1.0 (never fires).
Sweeping ``p`` gives an accuracy-cost curve (:func:`budgeted_curve`).

**Solving for a budget** (:func:`calibrate_for_budget`): without ties among the confidences,
exactly ``floor(V * (q_1 + ... + q_k))`` videos have exited by point k, a number that shrinks as
``p`` grows, so the validation mean cost grows with ``p`` (point costs grow along the visiting
order). We return the thresholds of the *largest* ``p`` whose validation mean cost is <= the
budget: a log-spaced grid of ``p`` from 1e-3 to 1e3 plus the limit p -> 0 (everybody stops at the
first point, which any budget >= the first point's cost allows), refined by bisection on
``log p``. The chosen cost is therefore as close to the budget as the grid allows and grows with
the budget. ``method="shared"`` solves the same way for one shared threshold (the cost grows with
it video by video), ``method="both"`` keeps the more accurate of the two on validation.

**Per-point thresholds** (:func:`descend_thresholds`, beyond the paper): the two rules above
give every point a threshold of the same kind, and a point whose classifier is confident *and
wrong* (an early exit of a weak model) then forces a high threshold on all of them. Coordinate
descent on validation sets each point's threshold on its own: start from "only the last point
answers" (full accuracy, full cost), visit the points in order and give each the grid value with
the lowest validation mean cost whose top-1 stays >= a floor, until a sweep changes nothing. A
point that does not pay keeps 1.0 (never fires), so e.g. the unified scheme can fall back to the
input-axis points alone. More free parameters fit validation more closely: report the
val-to-test gap (:func:`val_test_gap`). ``blocks`` ties points together (:func:`exit_blocks`:
one threshold per exit, shared by the groups of the unified scheme: 4 free thresholds instead
of 15).

**Choosing the floor** (:func:`calibrate_within_loss`, beyond the paper): "the cheapest setting
whose validation top-1 is within 0.5 pt of full inference" picks, among many settings, the one
that is luckiest on validation, so it loses more on new videos (with the per-point descent on
the 800 mini val clips: 2.9 pt held out on average for 0.5 pt on validation). The rule is
therefore cross-validated on validation: it is run on 4/5 of the videos and measured on the
fifth (5 folds, twice), and the floor it is given is tightened (0.5, 0.25, 0, -0.25, ... pt)
until its held-out loss is within the allowed 0.5 pt. Test is never used.

**Oracle** (:func:`oracle`): each video stops at the cheapest point whose prediction is correct; a
video wrong everywhere goes to the last point (``unresolved="last"``, default) or to the cheapest
point (``unresolved="cheapest"``). Only the second is a lower bound on the cost of every rule that
reaches the oracle's accuracy; the first charges hopeless videos the full cost, as a real system
that cannot know they are hopeless would pay at most.

Accuracies are in percent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from dynamic_inference.errors import ConfigError
from dynamic_inference.schemes import (
    Thresholds,
    check_exit_cost,
    check_frame_logits,
    check_labels,
    confidence,
    first_confident,
    validate_thresholds,
)

_BELOW_ONE = math.nextafter(1.0, 0.0)  # a threshold that still fires on a saturated softmax


@dataclass(frozen=True)
class OperatingPoint:
    """One (cost, accuracy) point: a threshold setting, a static baseline or the oracle.

    ``thresholds`` is None for settings that are not threshold rules; ``param`` is the swept
    parameter (the shared threshold, MSDNet's ``p``), if any.
    """

    name: str
    mean_cost: float
    top1: float
    thresholds: tuple[float, ...] | None = None
    param: float | None = None


@dataclass(frozen=True)
class Calibration:
    """Thresholds chosen on validation for a cost budget, with their validation metrics."""

    thresholds: tuple[float, ...]
    budget: float
    val_top1: float
    val_mean_cost: float
    method: str
    param: float | None


@dataclass(frozen=True)
class Gap:
    """A frozen operating point measured on validation and on test (test minus val)."""

    val: OperatingPoint
    test: OperatingPoint

    @property
    def top1_gap(self) -> float:
        return self.test.top1 - self.val.top1

    @property
    def cost_gap(self) -> float:
        return self.test.mean_cost - self.val.mean_cost


# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class _PointTable:
    """Per video and point: confidence and correctness; per point: cost. Built once per split."""

    conf: Tensor  # (V, P) float64
    correct: Tensor  # (V, P) bool
    costs: Tensor  # (P,) float64

    @property
    def num_points(self) -> int:
        return self.conf.shape[1]

    def evaluate(self, thresholds: Tensor) -> tuple[float, float]:
        """(top1 in percent, mean cost) of validated thresholds ``(P,)``."""
        stop = first_confident(self.conf, thresholds)  # (V,)
        top1 = 100.0 * self.correct.gather(1, stop[:, None]).double().mean().item()
        return top1, self.costs[stop].mean().item()

    def evaluate_many(self, thresholds: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`evaluate` for S settings at once: ``(S, P)`` -> top1 ``(S,)``, cost ``(S,)``.

        Same rule as :func:`~dynamic_inference.schemes.first_confident`, one row per setting.
        """
        fires = (self.conf[None] >= thresholds[:, None]) & (thresholds[:, None] < 1.0)  # (S,V,P)
        fires[..., -1] = True  # the last point always answers
        stop = fires.to(torch.uint8).argmax(dim=2)  # (S, V)
        correct = self.correct.gather(1, stop.T).T  # (S, V)
        top1 = 100.0 * correct.double().mean(dim=1)
        return top1, self.costs[stop].mean(dim=1)


def _table(point_logits: Tensor, labels: Tensor, costs: Sequence[float] | Tensor, probs: bool):
    if not isinstance(point_logits, Tensor) or point_logits.dim() != 3:
        shape = tuple(point_logits.shape) if isinstance(point_logits, Tensor) else point_logits
        raise ConfigError(f"point scores must be a tensor (V, P, C), got {shape!r}")
    v, p, c = point_logits.shape
    if v < 1 or p < 1 or c < 1:
        raise ConfigError(f"point scores have an empty axis: {(v, p, c)}")
    if not torch.is_floating_point(point_logits) or not torch.isfinite(point_logits).all():
        raise ConfigError("point scores must be finite float values")
    try:
        cost = torch.as_tensor(costs, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ConfigError(f"costs must be a sequence of {p} numbers, got {costs!r}") from err
    if cost.numel() != p:
        raise ConfigError(f"got {cost.numel()} point costs for {p} decision points")
    if not torch.isfinite(cost).all() or (cost <= 0).any():
        raise ConfigError(f"point costs must be finite and positive, got {cost.tolist()}")
    labels = check_labels(labels, v, c)
    conf, pred = confidence(point_logits, probs)  # (V, P)
    return _PointTable(conf, pred == labels[:, None], cost)


def evaluate_thresholds(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    thresholds: Thresholds,
    probs: bool = False,
    name: str = "thresholds",
) -> OperatingPoint:
    """Top-1 and mean cost of frozen ``thresholds`` on a split (e.g. test)."""
    table = _table(point_logits, labels, costs, probs)
    thr = validate_thresholds(thresholds, table.num_points)
    top1, cost = table.evaluate(thr)
    return OperatingPoint(name, cost, top1, tuple(thr.tolist()))


# --------------------------------------------------------------------------------------------
# Shared threshold


def default_threshold_grid() -> list[float]:
    """0, 0.01, ..., 0.99, then finer steps towards 1 (trained nets are often very confident)."""
    coarse = [i / 100 for i in range(100)]
    fine = [1 - 10 ** (-e / 2) for e in range(5, 13)]  # 0.9968, 0.999, ..., 0.999999
    return coarse + fine + [1.0]


def sweep_shared_threshold(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    thresholds: Sequence[float] | None = None,
    probs: bool = False,
) -> list[OperatingPoint]:
    """One operating point per shared threshold (default :func:`default_threshold_grid`)."""
    table = _table(point_logits, labels, costs, probs)
    grid = default_threshold_grid() if thresholds is None else list(thresholds)
    settings = torch.stack([validate_thresholds(float(t), table.num_points) for t in grid])
    top1, cost = table.evaluate_many(settings)  # (S,), (S,)
    return [
        OperatingPoint(f"shared@{float(t):.6g}", c, a, tuple(thr.tolist()), t)
        for t, thr, a, c in zip(grid, settings, top1.tolist(), cost.tolist())
    ]


# --------------------------------------------------------------------------------------------
# MSDNet budgeted calibration


def exit_fractions(p: float, num_points: int) -> Tensor:
    """``(P,)`` float64: q_k = z * p**(k-1), normalised to sum 1 (computed in log space)."""
    if not (isinstance(p, (int, float)) and math.isfinite(p) and p > 0):
        raise ConfigError(f"p must be a finite number > 0, got {p!r}")
    log_w = math.log(p) * torch.arange(num_points, dtype=torch.float64)
    return torch.softmax(log_w, dim=0)


def _budgeted(table: _PointTable, p: float) -> Tensor:
    """MSDNet thresholds ``(P,)`` for parameter ``p`` (module docstring)."""
    v, n_points = table.conf.shape
    quota = torch.floor(v * exit_fractions(p, n_points).cumsum(0) + 1e-9).long()  # (P,)
    thr = torch.ones(n_points, dtype=torch.float64)
    thr[-1] = 0.0  # ignored: the last point always answers
    running = torch.ones(v, dtype=torch.bool)
    exited = 0
    for k in range(n_points - 1):
        wanted = int(quota[k]) - exited
        conf = table.conf[running, k]  # confidences of the videos still running
        if wanted <= 0 or conf.numel() == 0:
            continue  # threshold 1.0: nobody exits here
        wanted = min(wanted, conf.numel())
        t = min(conf.topk(wanted).values[-1].item(), _BELOW_ONE)
        thr[k] = t
        stops = running & (table.conf[:, k] >= t)
        exited += int(stops.sum())
        running &= ~stops
    return thr


def budgeted_thresholds(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    p: float,
    probs: bool = False,
) -> OperatingPoint:
    """MSDNet's thresholds for one ``p`` and their validation top-1 and mean cost."""
    table = _table(point_logits, labels, costs, probs)
    thr = _budgeted(table, p)
    top1, cost = table.evaluate(thr)
    return OperatingPoint(f"budgeted@p={p:.4g}", cost, top1, tuple(thr.tolist()), p)


def default_p_grid() -> list[float]:
    """MSDNet's grid p = 0.05, 0.10, ..., 1.95 (their evaluation code), plus 1e-3 and 1e3."""
    return [1e-3] + [i / 20 for i in range(1, 40)] + [1e3]


def budgeted_curve(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    ps: Sequence[float] | None = None,
    probs: bool = False,
) -> list[OperatingPoint]:
    """One operating point per ``p`` (default :func:`default_p_grid`), in the order of ``ps``."""
    table = _table(point_logits, labels, costs, probs)
    curve = []
    for p in default_p_grid() if ps is None else ps:
        thr = _budgeted(table, p)
        top1, cost = table.evaluate(thr)
        curve.append(OperatingPoint(f"budgeted@p={p:.4g}", cost, top1, tuple(thr.tolist()), p))
    return curve


def descend_thresholds(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    min_top1: float,
    grid: Sequence[float] | None = None,
    max_sweeps: int = 5,
    probs: bool = False,
    blocks: Sequence[Sequence[int]] | None = None,
) -> OperatingPoint:
    """Per-point thresholds by coordinate descent: the cheapest setting found on these scores
    whose top-1 is >= ``min_top1`` (module docstring). Starts from all thresholds 1.0; if even
    that misses ``min_top1``, returns it unchanged. Grid: :func:`default_threshold_grid`.

    ``blocks``: lists of points that share one threshold (e.g. the points of one exit, for every
    group: :func:`exit_blocks`); by default every point has its own. Fewer free thresholds fit
    validation less closely (module docstring, "Choosing the floor")."""
    table = _table(point_logits, labels, costs, probs)
    values = [float(t) for t in (default_threshold_grid() if grid is None else grid)]
    if not math.isfinite(min_top1):
        raise ConfigError(f"min_top1 must be a finite percentage, got {min_top1!r}")
    last = table.num_points - 1
    if blocks is None:
        blocks = [[k] for k in range(last)]
    blocks = [[int(k) for k in b if int(k) != last] for b in blocks]  # the last always answers
    if any(not 0 <= k < last for b in blocks for k in b):
        raise ConfigError(f"blocks must hold point indices 0..{last}, got {blocks}")
    thr = torch.ones(table.num_points, dtype=torch.float64)
    best_top1, best_cost = table.evaluate(thr)
    grid = torch.tensor(values, dtype=torch.float64)
    for _ in range(max_sweeps):
        changed = False
        for block in (b for b in blocks if b):
            trials = thr.repeat(len(values), 1)  # (S, P): this block takes each grid value
            trials[:, block] = grid[:, None]
            top1, cost = table.evaluate_many(trials)
            ok = top1 >= min_top1
            if not ok.any():
                continue
            cheapest = cost[ok].min().item()
            if cheapest < best_cost - 1e-12:  # the first grid value that costs that little
                i = int((ok & (cost <= cheapest + 1e-12)).nonzero()[0])
                thr, best_top1, best_cost, changed = trials[i], top1[i].item(), cost[i].item(), True
        if not changed:
            break
    return OperatingPoint(f"descent@{min_top1:.4g}", best_cost, best_top1, tuple(thr.tolist()),
                          min_top1)


def _solve(
    table: _PointTable, thresholds_at: Callable[[float], Tensor], grid: list[float], budget: float
) -> tuple[Tensor, float]:
    """Largest x (approximately) with validation mean cost <= budget; ``grid`` is increasing.

    ``thresholds_at(x)`` must have a validation cost that grows with x. The largest feasible grid
    point is refined by 40 bisection steps towards the next, infeasible, grid point.
    """
    feasible = [x for x in grid if table.evaluate(thresholds_at(x))[1] <= budget]
    if not feasible:
        raise ConfigError(f"no setting meets budget {budget:g}")
    lo = max(feasible)
    above = [x for x in grid if x > lo]
    if above:
        hi = min(above)
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if table.evaluate(thresholds_at(mid))[1] <= budget else (lo, mid)
    return thresholds_at(lo), lo


def calibrate_for_budget(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    budget: float,
    method: Literal["budgeted", "shared", "both"] = "budgeted",
    probs: bool = False,
) -> Calibration:
    """Validation thresholds whose validation mean cost is <= ``budget`` (module docstring).

    ``budget`` is per video, in the unit of ``costs``, between the cost of the first decision point
    and the full cost (the cost of the last point). ``method``: ``"budgeted"`` solves MSDNet's
    ``p`` (the largest p within budget), ``"shared"`` the largest shared threshold within budget,
    ``"both"`` returns the more accurate of the two on validation.
    """
    table = _table(point_logits, labels, costs, probs)
    first, full = table.costs[0].item(), table.costs[-1].item()
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise ConfigError(f"budget must be a number, got {budget!r}")
    if not math.isfinite(budget) or budget <= 0:
        raise ConfigError(f"budget must be a finite number > 0, got {budget!r}")
    if budget > full * (1 + 1e-12):
        raise ConfigError(f"budget {budget:g} is above the full inference cost {full:g}")
    if budget < first:
        raise ConfigError(
            f"budget {budget:g} is below the cost of the first decision point {first:g}: "
            f"no setting can meet it"
        )
    if method not in ("budgeted", "shared", "both"):
        raise ConfigError(f"unknown method {method!r}; expected 'budgeted', 'shared' or 'both'")

    solutions: list[Calibration] = []
    if method in ("shared", "both"):
        thr, t = _solve(
            table,
            lambda x: validate_thresholds(x, table.num_points),
            default_threshold_grid(),
            budget,
        )
        top1, cost = table.evaluate(thr)
        solutions.append(Calibration(tuple(thr.tolist()), float(budget), top1, cost, "shared", t))
    if method in ("budgeted", "both"):
        # "everybody stops at point 1" (thresholds 0) is the p -> 0 limit; start the grid there
        log_grid = [-math.inf] + torch.linspace(math.log(1e-3), math.log(1e3), 41).tolist()

        def thresholds_at(log_p: float) -> Tensor:
            if log_p == -math.inf:
                return torch.zeros(table.num_points, dtype=torch.float64)
            return _budgeted(table, math.exp(log_p))

        thr, log_p = _solve(table, thresholds_at, log_grid, budget)
        top1, cost = table.evaluate(thr)
        p = math.exp(log_p)
        solutions.append(Calibration(tuple(thr.tolist()), float(budget), top1, cost, "budgeted", p))
    return max(solutions, key=lambda cal: (cal.val_top1, -cal.val_mean_cost))


def exit_blocks(exit_of_point: Sequence[int]) -> list[list[int]]:
    """Points grouped by the exit they read (``exit_of_point[i]``: exit of point i), for
    :func:`descend_thresholds`: one threshold per exit classifier, shared by the groups."""
    exits = sorted(set(exit_of_point))
    return [[i for i, e in enumerate(exit_of_point) if e == k] for k in exits]


def threshold_curves(
    point_logits: Tensor, labels: Tensor, costs: Sequence[float] | Tensor, probs: bool = False
) -> list[OperatingPoint]:
    """The one-parameter families on these scores: MSDNet's budgeted curve and the shared sweep."""
    return budgeted_curve(point_logits, labels, costs, probs=probs) + sweep_shared_threshold(
        point_logits, labels, costs, probs=probs
    )


def cheapest_within(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    max_loss: float,
    blocks: Sequence[Sequence[int]] | None = None,
    probs: bool = False,
    curves: Sequence[OperatingPoint] | None = None,
) -> OperatingPoint:
    """The cheapest setting on these scores whose top-1 is within ``max_loss`` points of full
    inference (only the last point answers). Candidates: :func:`threshold_curves` (pass
    ``curves`` if already computed on the same scores) and the descent with ``blocks``.
    ``max_loss`` may be negative (a setting must then *beat* full inference by that much); when
    no setting qualifies, full inference is returned."""
    full = _full_inference(_table(point_logits, labels, costs, probs))
    floor = full.top1 - max_loss
    if curves is None:
        curves = threshold_curves(point_logits, labels, costs, probs)
    descent = descend_thresholds(point_logits, labels, costs, floor, probs=probs, blocks=blocks)
    ok = [op for op in [*curves, descent] if op.top1 >= floor]
    return min(ok, key=lambda op: (op.mean_cost, -op.top1)) if ok else full


def _full_inference(table: _PointTable) -> OperatingPoint:
    """Only the last point answers (every other threshold 1.0)."""
    full = torch.ones(table.num_points, dtype=torch.float64)
    top1, cost = table.evaluate(full)
    return OperatingPoint("full", cost, top1, tuple(full.tolist()))


@dataclass(frozen=True)
class FloorChoice:
    """What :func:`calibrate_within_loss` chose: the setting and how its floor was checked."""

    point: OperatingPoint  # on all of validation
    val_floor: float  # the loss allowed on validation (points below full inference)
    cv_loss: float  # mean held-out loss of the rule with that floor (points)
    cv_cost: float  # its mean held-out cost


def calibrate_within_loss(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    max_loss: float = 0.5,
    blocks: Sequence[Sequence[int]] | None = None,
    margins: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5),
    folds: int = 5,
    repeats: int = 2,
    seed: int = 0,
    probs: bool = False,
) -> FloorChoice:
    """The cheapest setting within ``max_loss`` points of full inference, with a floor that
    also holds on held-out folds (module docstring, "Choosing the floor").

    The videos are split into ``folds`` random folds, ``repeats`` times (seeded). For each margin
    in turn, the rule "cheapest setting within ``max_loss - margin``" (:func:`cheapest_within`)
    is run on all folds but one and measured on the one left out; the first margin whose mean
    held-out loss is <= ``max_loss`` is applied to all of the videos. If none is: full inference.
    """
    if not math.isfinite(max_loss):
        raise ConfigError(f"max_loss must be a finite number of points, got {max_loss!r}")
    table = _table(point_logits, labels, costs, probs)
    v = table.conf.shape[0]
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= v:
        raise ConfigError(f"folds must be an integer in 2..{v} (the number of videos), "
                          f"got {folds!r}")
    gen = torch.Generator().manual_seed(seed)
    splits = []  # (videos to choose on, their curves, held-out table, its full-inference top-1)
    for _ in range(repeats):
        parts = torch.randperm(v, generator=gen).chunk(folds)
        for i, held in enumerate(parts):
            rest = torch.cat([p for j, p in enumerate(parts) if j != i])
            curves = threshold_curves(point_logits[rest], labels[rest], costs, probs)
            held_table = _PointTable(table.conf[held], table.correct[held], table.costs)
            splits.append((rest, curves, held_table, _full_inference(held_table).top1))
    for margin in margins:
        floor = max_loss - margin
        loss = cost = 0.0
        for rest, curves, held_table, held_full_top1 in splits:
            op = cheapest_within(
                point_logits[rest], labels[rest], costs, floor, blocks, probs, curves
            )
            top1, held_cost = held_table.evaluate(torch.tensor(op.thresholds))
            n_held = held_table.conf.shape[0]
            loss += n_held * (held_full_top1 - top1)
            cost += n_held * held_cost
        loss, cost = loss / (repeats * v), cost / (repeats * v)
        if loss <= max_loss + 1e-9:
            point = cheapest_within(point_logits, labels, costs, floor, blocks, probs)
            return FloorChoice(point, floor, loss, cost)
    full = _full_inference(table)
    return FloorChoice(full, 0.0, 0.0, full.mean_cost)


# --------------------------------------------------------------------------------------------
# Pareto front, oracle, static baselines, val-to-test gap


def pareto_front(points: Sequence[OperatingPoint]) -> list[OperatingPoint]:
    """The operating points not dominated by another, sorted by increasing cost.

    A point is dominated if another one costs no more and is at least as accurate, one of the two
    strictly. Of exact duplicates the first is kept.
    """
    ordered = sorted(points, key=lambda op: (op.mean_cost, -op.top1))
    front: list[OperatingPoint] = []
    for op in ordered:
        if not front or op.top1 > front[-1].top1:
            front.append(op)
    return front


def accuracy_at_cost(curve: Sequence[OperatingPoint], cost: float) -> float | None:
    """Best top-1 of ``curve`` at a mean cost <= ``cost`` (None if no point is that cheap)."""
    feasible = [op.top1 for op in curve if op.mean_cost <= cost * (1 + 1e-9)]
    return max(feasible) if feasible else None


def oracle(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    unresolved: Literal["last", "cheapest"] = "last",
    probs: bool = False,
) -> OperatingPoint:
    """Each video stops at the cheapest point whose prediction is correct (module docstring)."""
    if unresolved not in ("last", "cheapest"):
        raise ConfigError(f"unresolved must be 'last' or 'cheapest', got {unresolved!r}")
    table = _table(point_logits, labels, costs, probs)
    v, n_points = table.correct.shape
    cost_if_correct = torch.where(table.correct, table.costs, torch.inf)  # (V, P)
    best = cost_if_correct.min(dim=1).values  # (V,)
    hopeless = ~table.correct.any(dim=1)
    fallback = table.costs[-1] if unresolved == "last" else table.costs.min()
    per_video = torch.where(hopeless, fallback, best)
    top1 = 100.0 * (~hopeless).double().mean().item()
    return OperatingPoint(f"oracle({unresolved})", per_video.mean().item(), top1)


def static_baselines(
    frame_logits: Tensor,
    labels: Tensor,
    exit_cost: Sequence[float] | Tensor,
) -> list[OperatingPoint]:
    """Static settings from the same frame logits ``(V, K, T, C)`` (processing order).

    * ``static/e{k}``: exit k on all T frames, cost ``T * exit_cost[k]`` (``e{K}`` = full);
    * ``static/n{n}``: the last exit on the first n frames of the processing order, n = 1, 2, 4,
      ... < T, cost ``n * exit_cost[K]``. With the strided order, a prefix of whole groups
      (n = T/G, 2T/G, ...) is n uniformly spread frames (shorter prefixes are the first frames of
      the first group); with the online shift it is exactly what a model run on those n frames
      sees.
    """
    check_frame_logits(frame_logits)
    v, k, t, c = frame_logits.shape
    cost = check_exit_cost(exit_cost)  # (K,)
    if cost.numel() != k:
        raise ConfigError(f"exit_cost has {cost.numel()} values but the logits {k} exits")
    labels = check_labels(labels, v, c)
    out = []
    for e in range(k):
        pred = frame_logits[:, e].mean(dim=1).argmax(dim=1)  # (V,)
        top1 = 100.0 * (pred == labels).double().mean().item()
        out.append(OperatingPoint(f"static/e{e + 1}", t * cost[e].item(), top1))
    n = 1
    while n < t:
        pred = frame_logits[:, -1, :n].mean(dim=1).argmax(dim=1)  # (V,)
        top1 = 100.0 * (pred == labels).double().mean().item()
        out.append(OperatingPoint(f"static/n{n}", n * cost[-1].item(), top1))
        n *= 2
    return out


def val_test_gap(
    val_point_logits: Tensor,
    val_labels: Tensor,
    test_point_logits: Tensor,
    test_labels: Tensor,
    costs: Sequence[float] | Tensor,
    thresholds: Thresholds | Calibration,
    probs: bool = False,
) -> Gap:
    """The same frozen thresholds (chosen on val) measured on val and on test."""
    if isinstance(thresholds, Calibration):
        thresholds = list(thresholds.thresholds)
    val = evaluate_thresholds(val_point_logits, val_labels, costs, thresholds, probs, "val")
    test = evaluate_thresholds(test_point_logits, test_labels, costs, thresholds, probs, "test")
    return Gap(val, test)
