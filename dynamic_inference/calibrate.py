"""Threshold calibration, accuracy-cost curves, Pareto front, oracle (paper: Approach).

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
sorted by confidence and the threshold lies half-way between the confidence of the sample that
fills the cumulative quota ``floor(V * (q_1 + ... + q_k))`` and the next lower one (not on a
confidence: the engine's float path may differ in the last bit; ties can let a few more exit; the
next quota is reduced by what actually exited). A point whose quota is already filled gets
threshold 1.0 (never fires). Sweeping ``p`` gives an accuracy-cost curve (:func:`budgeted_curve`).

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

**The default rule** (:func:`calibrate_within_loss`, beyond the paper): "the cheapest setting
whose validation top-1 is within 0.5 pt of full inference", taken at face value, picks among many
settings the one that was luckiest on validation: with the 50 val clips per class MiniActions
first had, a 0.5 pt tolerance was 4 clips, the paired standard error of a loss about 0.9 pt, and
the chosen cut jumped from 0% to 64% between data seeds (MiniActions now has 150 per class).
The rule therefore makes each setting's loss more pessimistic by
``z`` paired standard errors before comparing it with the tolerance (``z = 1``: the "one standard
error" rule of model selection): a setting is *admissible* when ``loss + z * SE <= max_loss``,
where ``loss`` is its top-1 loss against full inference on the same validation videos and
``SE = std(d) / sqrt(V)`` of the per-video differences ``d`` in {-1, 0, 1}. The interval is thus
part of the rule, and it has no cliff: settings that stop only a few very confident videos
have a small SE and stay admissible, so the cut shrinks gradually as validation gets noisier
instead of collapsing to full inference, which it returns only when no early stop is right
often enough. The candidates are full inference, the two
one-parameter families above and the per-exit descent; the descent also starts from the solution
of each *sub-scheme* (the unified scheme contains the input axis: its points at the last exit,
with the early exits off), which is itself a candidate, so the rule is **monotone**: a scheme is
never given a costlier setting than a scheme it contains, on the same validation split. Settings
are priced by the heads they really run (:class:`~dynamic_inference.schemes.HeadPricing`), so
switching the early exits off costs exactly what the input axis costs. Test is never used.

**The rule's curve** (:func:`within_loss_front`, :func:`rule_front`): to compare schemes at every
cost, not only at the default tolerance, a scheme's validation curve is the Pareto front of all
the settings the rule compares for a range of allowed losses (:data:`LOSS_GRID`, 0 to 16 pt),
joined with the front of every sub-scheme it contains. Asking the rule for its one choice per
allowed loss is not enough: at one tolerance the cheapest admissible setting of the unified
scheme can be a few clips less accurate than the input axis' choice, with no unified point in
between. The front of everything the rule looked at holds the contained scheme's front, so on
validation it is at least as accurate at every cost by construction; on test, with the same
frozen settings, it is measured.

Losses are reported with a paired bootstrap interval (:func:`paired_interval`).

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
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

from dynamic_inference.errors import ConfigError
from dynamic_inference.schemes import (
    HeadPricing,
    Scheme,
    Thresholds,
    check_exit_cost,
    check_frame_logits,
    check_labels,
    confidence,
    first_confident,
    validate_thresholds,
)

if TYPE_CHECKING:
    from dynamic_inference.logits import SplitLogits

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
    costs: Tensor  # (P,) float64, with no early head running
    heads: HeadPricing | None = None

    @property
    def num_points(self) -> int:
        return self.conf.shape[1]

    def priced(self, thresholds: Tensor) -> Tensor:
        """Point costs ``(S, P)`` of S settings ``(S, P)``: base cost + the heads each runs."""
        base = self.costs.expand(thresholds.shape[0], -1)
        if self.heads is None or self.heads.extra.shape[1] == 0:
            return base
        can_fire = thresholds[:, :-1] < 1.0  # (S, P-1): the last point's threshold is ignored
        owner = self.heads.head_of_point[:-1]  # (P-1,)
        one_hot = (owner[:, None] == torch.arange(self.heads.extra.shape[1])).double()  # (P-1,E)
        runs = (can_fire.double() @ one_hot) > 0  # (S, E): head e runs in setting s
        return base + runs.double() @ self.heads.extra.T  # (S, P)

    def stops(self, thresholds: Tensor) -> Tensor:
        """Stop point ``(S, V)`` of S settings ``(S, P)``: the one rule of
        :func:`~dynamic_inference.schemes.first_confident`, one row per setting."""
        return first_confident(self.conf, thresholds[:, None, :])  # (S, V)

    def evaluate(self, thresholds: Tensor) -> tuple[float, float]:
        """(top1 in percent, mean cost) of validated thresholds ``(P,)``."""
        top1, cost = self.evaluate_many(thresholds[None])
        return top1.item(), cost.item()

    def evaluate_many(self, thresholds: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`evaluate` for S settings at once: ``(S, P)`` -> top1 ``(S,)``, cost ``(S,)``."""
        stop = self.stops(thresholds)  # (S, V)
        correct = self.correct.gather(1, stop.T).T  # (S, V)
        top1 = 100.0 * correct.double().mean(dim=1)
        return top1, self.priced(thresholds).gather(1, stop).mean(dim=1)

    def losses(self, thresholds: Tensor) -> tuple[Tensor, Tensor]:
        """Paired top-1 loss against full inference of S settings, in points: mean ``(S,)`` and
        its standard error ``(S,)`` over the videos (the same videos answer both ways)."""
        stop = self.stops(thresholds)  # (S, V)
        correct = self.correct.gather(1, stop.T).T.double()  # (S, V)
        diff = self.correct[:, -1].double()[None] - correct  # (S, V) in {-1, 0, 1}
        v = diff.shape[1]
        se = diff.std(dim=1, correction=1) / math.sqrt(v) if v > 1 else torch.zeros(len(diff))
        return 100.0 * diff.mean(dim=1), 100.0 * se


def _table(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    probs: bool,
    heads: HeadPricing | None = None,
) -> _PointTable:
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
    if heads is not None and (heads.extra.shape[0] != p or heads.head_of_point.numel() != p):
        raise ConfigError(f"head pricing is for {heads.extra.shape[0]} points, the scores "
                          f"have {p}")
    conf, pred = confidence(point_logits, probs)  # (V, P)
    return _PointTable(conf, pred == labels[:, None], cost, heads)


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
        top = conf.topk(min(wanted + 1, conf.numel())).values
        # half-way into the gap below the last video that should exit: a threshold equal to a
        # confidence would let a last-bit difference (the engine's float path) flip that video
        t = top[wanted - 1].item() if wanted == conf.numel() else (
            top[wanted - 1].item() + top[wanted].item()) / 2
        t = min(t, _BELOW_ONE)
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


def _check_blocks(blocks: Sequence[Sequence[int]] | None, num_points: int) -> list[list[int]]:
    """Blocks of points that share one threshold; the last point is dropped (it always answers)."""
    last = num_points - 1
    if blocks is None:
        return [[k] for k in range(last)]
    out = [[int(k) for k in b if int(k) != last] for b in blocks]
    if any(not 0 <= k < last for b in out for k in b):
        raise ConfigError(f"blocks must hold point indices 0..{last}, got {blocks}")
    return [b for b in out if b]


def _descend(
    table: _PointTable,
    admissible: Callable[[Tensor], Tensor],
    start: Tensor,
    blocks: list[list[int]],
    grid: Tensor,
    max_sweeps: int = 5,
) -> Tensor:
    """Coordinate descent from an admissible ``start`` ``(P,)``: each block in turn takes the
    grid value of lowest mean cost among the admissible settings (``admissible``: settings
    ``(S, P)`` -> ``(S,)`` bool), until a sweep changes nothing. Only cheaper settings are
    accepted, so the result never costs more than ``start``."""
    thr = start.clone()
    best_cost = table.evaluate(thr)[1]
    for _ in range(max_sweeps):
        changed = False
        for block in blocks:
            trials = thr.repeat(len(grid), 1)  # (S, P): this block takes each grid value
            trials[:, block] = grid[:, None]
            _, cost = table.evaluate_many(trials)
            ok = admissible(trials)
            if not ok.any():
                continue
            cheapest = cost[ok].min().item()
            if cheapest < best_cost - 1e-12:  # the first grid value that costs that little
                i = int((ok & (cost <= cheapest + 1e-12)).nonzero()[0])
                thr, best_cost, changed = trials[i], cost[i].item(), True
        if not changed:
            break
    return thr


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
    validation less closely."""
    table = _table(point_logits, labels, costs, probs)
    values = [float(t) for t in (default_threshold_grid() if grid is None else grid)]
    if not math.isfinite(min_top1):
        raise ConfigError(f"min_top1 must be a finite percentage, got {min_top1!r}")
    free = _check_blocks(blocks, table.num_points)
    start = torch.ones(table.num_points, dtype=torch.float64)
    thr = _descend(table, lambda t: table.evaluate_many(t)[0] >= min_top1, start, free,
                   torch.tensor(values, dtype=torch.float64), max_sweeps)
    top1, cost = table.evaluate(thr)
    return OperatingPoint(f"descent@{min_top1:.4g}", cost, top1, tuple(thr.tolist()), min_top1)


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


def _full_inference(table: _PointTable) -> OperatingPoint:
    """Only the last point answers (every other threshold 1.0)."""
    full = torch.ones(table.num_points, dtype=torch.float64)
    top1, cost = table.evaluate(full)
    return OperatingPoint("full", cost, top1, tuple(full.tolist()))


@dataclass(frozen=True)
class LossChoice:
    """What :func:`calibrate_within_loss` chose, with its validation loss and standard error."""

    point: OperatingPoint  # the setting, measured on all of validation
    loss: float  # its validation top-1 loss against full inference (points; < 0 is a gain)
    loss_se: float  # the paired standard error of that loss (points)
    max_loss: float  # the loss allowed
    z: float  # how many standard errors the rule adds to the loss before comparing
    candidates: int  # settings compared


def _settings(table: _PointTable, grid: Tensor) -> Tensor:
    """The one-parameter families as settings ``(S, P)``: a shared threshold per grid value
    (one per block and point alike) and MSDNet's budgeted thresholds for each ``p``."""
    shared = grid[:, None].expand(-1, table.num_points)
    budgeted = torch.stack([_budgeted(table, p) for p in default_p_grid()])
    return torch.cat([shared, budgeted])


def _check_rule_args(max_loss: float, z: float) -> None:
    for name, value in (("max_loss", max_loss), ("z", z)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if z < 0:
        raise ConfigError(f"z must be >= 0 standard errors, got {z!r}")


def _sub_scheme(sub: Sequence[int], n_points: int) -> list[int]:
    sub = [int(k) for k in sub]
    if not sub or sub[-1] != n_points - 1 or sorted(set(sub)) != sub:
        raise ConfigError(f"a sub-scheme must list increasing point indices ending with the "
                          f"last point {n_points - 1}, got {sub}")
    return sub


def _sub_args(sub: list[int], free: list[list[int]], costs: Tensor,
              heads: HeadPricing | None) -> tuple[list[list[int]], Tensor, HeadPricing | None]:
    """The blocks, costs and head pricing of the sub-scheme made of points ``sub``."""
    inner = [[sub.index(k) for k in b if k in sub] for b in free]
    sub_heads = None if heads is None else HeadPricing(heads.extra[sub], heads.head_of_point[sub])
    return inner, costs[sub], sub_heads


def _embed(settings: Tensor, sub: list[int], n_points: int) -> Tensor:
    """Sub-scheme settings ``(S, len(sub))`` as settings ``(S, P)`` of the whole scheme (1.0,
    never fires, at the points outside ``sub``)."""
    out = torch.ones(len(settings), n_points, dtype=torch.float64)
    out[:, sub] = settings
    return out


def _candidates(
    table: _PointTable,
    point_logits: Tensor,
    labels: Tensor,
    max_loss: float,
    z: float,
    free: list[list[int]],
    contains: Sequence[Sequence[int]],
    heads: HeadPricing | None,
    probs: bool,
) -> tuple[Tensor, Tensor]:
    """The settings the default rule compares for ``max_loss`` ``(S, P)``, full inference
    first, and which of them are admissible ``(S,)`` (the function below)."""
    n_points = table.num_points
    grid = torch.tensor(default_threshold_grid(), dtype=torch.float64)

    def admissible(settings: Tensor) -> Tensor:
        loss, se = table.losses(settings)
        return loss + z * se <= max_loss + 1e-9

    full = torch.ones(n_points, dtype=torch.float64)
    starts = [full]
    for sub in contains:
        sub = _sub_scheme(sub, n_points)
        inner, sub_costs, sub_heads = _sub_args(sub, free, table.costs, heads)
        choice = calibrate_within_loss(point_logits[:, sub], labels, sub_costs, max_loss, z,
                                       inner, (), sub_heads, probs)
        thr = torch.tensor(choice.point.thresholds, dtype=torch.float64)
        starts.append(_embed(thr[None], sub, n_points)[0])
    descents = [_descend(table, admissible, start, free, grid) for start in starts]
    candidates = torch.cat([torch.stack(starts), torch.stack(descents),
                            _settings(table, grid)])  # (S, P)
    ok = admissible(candidates)
    ok[0] = True  # full inference is always allowed (its loss is 0 by definition)
    return candidates, ok


def calibrate_within_loss(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    max_loss: float = 0.5,
    z: float = 1.0,
    blocks: Sequence[Sequence[int]] | None = None,
    contains: Sequence[Sequence[int]] = (),
    heads: HeadPricing | None = None,
    probs: bool = False,
) -> LossChoice:
    """The default rule: the cheapest setting whose validation loss, made ``z`` paired standard
    errors more pessimistic, is within ``max_loss`` points of full inference (module docstring,
    "The default rule").

    Candidates: full inference, the shared-threshold sweep, MSDNet's budgeted curve, and
    coordinate descent (:func:`descend_thresholds`' search, with ``blocks``) started from full
    inference and from the solution of every sub-scheme in ``contains``. A sub-scheme is a list
    of point indices ending with the last point (e.g. the last exit's points of the unified
    scheme: the input axis with the early exits off); it is solved by this same rule on those
    points, and its solution, with threshold 1.0 elsewhere, is a candidate here too. So a scheme
    is never given a costlier setting than a scheme it contains. ``heads`` prices each setting
    by the heads it runs.
    """
    _check_rule_args(max_loss, z)
    table = _table(point_logits, labels, costs, probs, heads)
    free = _check_blocks(blocks, table.num_points)
    candidates, ok = _candidates(table, point_logits, labels, max_loss, z, free, contains, heads,
                                 probs)
    top1, cost = table.evaluate_many(candidates)
    order = sorted(ok.nonzero().flatten().tolist(), key=lambda i: (cost[i].item(), -top1[i]))
    best = order[0]
    loss, se = table.losses(candidates[best:best + 1])
    thr = candidates[best]
    name = "full" if best == 0 else f"within {max_loss:g} pt + {z:g} SE"
    point = OperatingPoint(name, cost[best].item(), top1[best].item(), tuple(thr.tolist()))
    return LossChoice(point, loss.item(), se.item(), float(max_loss), float(z), len(candidates))


LOSS_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
"""The allowed val losses (points) that :func:`within_loss_front` spans by default."""


def within_loss_front(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    max_losses: Sequence[float] = LOSS_GRID,
    z: float = 1.0,
    blocks: Sequence[Sequence[int]] | None = None,
    contains: Sequence[Sequence[int]] = (),
    heads: HeadPricing | None = None,
    probs: bool = False,
) -> list[OperatingPoint]:
    """The default rule's validation curve: the Pareto front (:func:`pareto_front`) of every
    setting :func:`calibrate_within_loss` compares for any allowed loss of ``max_losses``, and
    of the front of every sub-scheme in ``contains`` (embedded with 1.0 at its other points).

    Asking the rule for one point per allowed loss does not give a curve that dominates a
    contained scheme's: at one allowed loss the cheapest admissible setting can be a few clips
    less accurate than the contained scheme's choice, with no point of its own in between. The
    front of all the settings the rule looked at includes the contained scheme's whole front, so
    on validation it is at least as accurate at every cost as any scheme it contains, by
    construction. Points are named ``"front"``; ``thresholds`` hold the setting.
    """
    for value in max_losses:
        _check_rule_args(value, z)
    table = _table(point_logits, labels, costs, probs, heads)
    n_points = table.num_points
    free = _check_blocks(blocks, n_points)
    settings = [_candidates(table, point_logits, labels, float(loss), z, free, contains, heads,
                            probs)[0] for loss in max_losses]
    for sub in contains:
        sub = _sub_scheme(sub, n_points)
        inner, sub_costs, sub_heads = _sub_args(sub, free, table.costs, heads)
        front = within_loss_front(point_logits[:, sub], labels, sub_costs, max_losses, z, inner,
                                  (), sub_heads, probs)
        inside = torch.tensor([op.thresholds for op in front], dtype=torch.float64)
        settings.append(_embed(inside, sub, n_points))
    every = torch.unique(torch.cat(settings), dim=0)  # (S, P)
    top1, cost = table.evaluate_many(every)
    return pareto_front([OperatingPoint("front", c, a, tuple(t))
                         for t, a, c in zip(every.tolist(), top1.tolist(), cost.tolist())])


def cheapest_within(
    point_logits: Tensor,
    labels: Tensor,
    costs: Sequence[float] | Tensor,
    max_loss: float,
    blocks: Sequence[Sequence[int]] | None = None,
    probs: bool = False,
) -> OperatingPoint:
    """The cheapest setting whose validation top-1 is within ``max_loss`` points of full
    inference, taken at face value: :func:`calibrate_within_loss` with ``z=0``. ``max_loss`` may
    be negative (a setting must then *beat* full inference); if none does: full inference."""
    return calibrate_within_loss(point_logits, labels, costs, max_loss, 0.0, blocks,
                                 probs=probs).point


def paired_interval(
    reference: Tensor, correct: Tensor, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Top-1 loss of ``correct`` against ``reference`` (both ``(V,)`` bool, the same videos), in
    points, and its paired bootstrap interval: ``(loss, low, high)``. Videos are resampled with
    replacement ``n_boot`` times (seeded), the two answers of a video staying together; the
    interval is the central ``level`` quantile range of the resampled losses."""
    if reference.shape != correct.shape or reference.dim() != 1 or reference.numel() == 0:
        raise ConfigError(f"need two (V,) correctness vectors of the same videos, got "
                          f"{tuple(reference.shape)} and {tuple(correct.shape)}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level!r}")
    diff = 100.0 * (reference.double() - correct.double())  # (V,) in {-100, 0, 100}
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, diff.numel(), (n_boot, diff.numel()), generator=gen)
    boot = diff[idx].mean(dim=1)  # (n_boot,)
    tail = (1 - level) / 2
    low, high = torch.quantile(boot, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return diff.mean().item(), low.item(), high.item()


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


def dominance(curve: Sequence[OperatingPoint], other: Sequence[OperatingPoint]) -> dict[str, Any]:
    """How far ``curve`` is from Pareto-dominating ``other`` (at equal cost, at least as accurate).

    For every point of ``other``, the *gap* is its top-1 minus the best top-1 of ``curve`` at no
    more cost (:func:`accuracy_at_cost`), in points; ``curve`` dominates ``other`` when no gap is
    positive. A point of ``other`` cheaper than every point of ``curve`` cannot be matched: it
    counts as not dominated (``uncovered``). Returns ``points``, ``dominated`` (gaps <= 0),
    ``uncovered`` and ``worst_gap_pt`` (the largest gap, None if every point is uncovered).
    """
    gaps = []
    for op in other:
        best = accuracy_at_cost(curve, op.mean_cost)
        gaps.append(None if best is None else op.top1 - best)
    known = [g for g in gaps if g is not None]
    return {
        "points": len(gaps),
        "dominated": sum(g <= 1e-9 for g in known),
        "uncovered": len(gaps) - len(known),
        "worst_gap_pt": round(max(known), 4) if known else None,
    }


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

    ``exit_cost``: per-frame cost of a network cut after exit k that runs head k only
    (:func:`dynamic_inference.cost.fixed_exit_costs`: a static baseline is priced as it would
    run, never for heads it would not evaluate).

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


# --------------------------------------------------------------------------------------------
# The rule a scheme's thresholds come from


def _rule_structure(scheme: Scheme, n_frames: int) -> tuple[list[list[int]], list[list[int]]]:
    """The default rule's ``blocks`` (one threshold per exit) and ``contains`` (the unified
    scheme's last-exit points: the input axis with the early exits off) for ``scheme``."""
    points = scheme.points(n_frames)
    blocks = exit_blocks([pt.exit for pt in points])
    last_exit = points[-1].exit
    contains = [[i for i, pt in enumerate(points) if pt.exit == last_exit]] if (
        scheme.depth and scheme.groups > 1) else []
    return blocks, contains


def choose_thresholds(
    scheme: Scheme,
    val: SplitLogits,
    costs: Tensor,
    budget: float | None = None,
    threshold: float | None = None,
    max_val_loss: float = 0.5,
    unit: str = "GFLOPs",
    heads: HeadPricing | None = None,
    z: float = 1.0,
) -> tuple[list[float], str]:
    """Thresholds from validation only; returns them and a one-line description of the rule.

    ``costs``: cost per video of each decision point, in ``unit`` (GFLOPs, or milliseconds from
    a measured latency table); ``budget`` is in the same unit. With ``heads``
    (:meth:`Scheme.head_pricing`), ``costs`` are the point costs with no early head running and
    every setting is priced by the heads it runs (the default rule); the budgeted rule prices
    every head.

    Default rule (:func:`~dynamic_inference.calibrate.calibrate_within_loss`): the cheapest
    setting whose val loss plus ``z`` paired standard errors is within ``max_val_loss`` points
    of full inference, one threshold per exit; the unified scheme also starts from the input
    axis' own solution (its points at the last exit), so it is never costlier than the input
    axis on the same val split.
    """
    n_points = len(costs)
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0 or threshold != threshold:
            raise ConfigError(f"--threshold must be in [0, 1], got {threshold}")
        return [float(threshold)] * n_points, f"shared threshold {threshold:g}"
    pl = scheme.point_logits(val.frame_logits)
    if budget is not None:
        every = costs if heads is None else heads.every_head(costs)
        full = float(every[-1])
        first = float(every[0])
        if not first <= budget <= full * (1 + 1e-9):
            raise ConfigError(
                f"the budget must be in [{first:.4g}, {full:.4g}] {unit}/video (from stopping "
                f"everything at the first decision point to the full cost), got {budget:g}"
            )
        cal = calibrate_for_budget(pl, val.labels, every, budget)
        return list(cal.thresholds), f"budgeted (MSDNet) for {budget:g} {unit}/video on val"
    if n_points == 1:
        return [0.0], "single decision point"
    blocks, contains = _rule_structure(scheme, val.frame_logits.shape[1])
    choice = calibrate_within_loss(pl, val.labels, costs, max_val_loss, z, blocks, contains,
                                   heads)
    return list(choice.point.thresholds or ()), (
        f"cheapest setting on val whose loss + {z:g} SE is within {max_val_loss:g} pt of full "
        f"inference ({choice.point.name}: {choice.loss:.2f} +- {choice.loss_se:.2f} pt)"
    )


def rule_front(
    scheme: Scheme,
    val: SplitLogits,
    costs: Tensor,
    heads: HeadPricing | None = None,
    max_losses: Sequence[float] = LOSS_GRID,
    z: float = 1.0,
) -> list[OperatingPoint]:
    """The default rule's validation curve of ``scheme`` (:func:`within_loss_front`, with the
    blocks and sub-scheme of :func:`choose_thresholds`): the settings to compare schemes by
    at every cost, not only at the default allowed loss. ``costs`` and ``heads`` as there."""
    pl = scheme.point_logits(val.frame_logits)
    blocks, contains = _rule_structure(scheme, val.frame_logits.shape[1])
    return within_loss_front(pl, val.labels, costs, max_losses, z, blocks, contains, heads)
