"""What a scheme pays: the one cost rule (paper "Evaluation Metrics": average FLOPs per video).

:func:`dynamic_inference.flops.cost_table` counts what each piece of a network costs per frame:
the stem with stage 1, every stage, every exit head. This module is the one place that turns
those counts into what a scheme pays, so the report, the calibration, the curves, the engine and
the notebooks all use the same figures:

* **full inference** (:func:`full_cost`): all T frames through all stages and *the last head
  only* -- the paper's "Full Inference", the reference of every reduction;
* **the heads a scheme runs** (:func:`exit_costs`): per frame, the cumulative cost up to exit k
  is the stages up to k plus the heads the scheme evaluates on the way. Full inference and the
  input axis decide at the last exit only and run only its head; the depth axis and the unified
  scheme run every early head whose decision points can fire (a threshold < 1.0; with no
  thresholds given, every head);
* **the cost at each decision point** (:func:`point_costs`): that per-frame table through the
  schemes' rule for groups of frames (:meth:`~dynamic_inference.schemes.Scheme.point_costs`:
  earlier groups went through the whole network, the current one up to exit k);
* **static baselines** (:func:`fixed_exit_costs`): a network cut after exit k that runs head k
  only, as it would be deployed -- it is never charged for heads it would not run;
* **calibration** (:func:`calibration_costs`): the point costs with no early head running and
  what each early head adds when it runs, so that every candidate threshold setting is priced by
  the heads it really runs;
* **time instead of FLOPs** (:func:`measure_latency`): milliseconds per frame up to each exit,
  measured by the early-exit engine itself on this machine, usable wherever a FLOPs table is.

Costs are per-frame tables (any unit: GFLOPs or ms) of one entry per exit, as the schemes and the
engine take them.
"""

from __future__ import annotations

import statistics

import torch
from torch import Tensor

from dynamic_inference.errors import ConfigError
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.flops import CostTable
from dynamic_inference.schemes import HeadPricing, Scheme, Thresholds, make_scheme


def full_cost(table: CostTable, frames: int) -> float:
    """Cost per video of full inference: ``frames`` frames, all stages, the last head only."""
    return frames * table.full_gflops_per_frame


def fixed_exit_costs(table: CostTable) -> list[float]:
    """Per-frame cost of a network cut after exit k that runs head k only (static baselines)."""
    stages = table.stage_gflops  # the stem is counted in stage 0
    return [sum(stages[: k + 1]) + table.head_gflops[k] for k in range(table.num_exits)]


def exit_costs(
    table: CostTable, scheme: Scheme, thresholds: Thresholds | None = None
) -> list[float]:
    """Per-frame cumulative cost up to each exit that ``scheme`` pays (module docstring).

    Schemes that decide at the last exit only run its head (entry k: stages up to k and head
    k, as :func:`fixed_exit_costs`). Depth and unified schemes run every early head on the way
    or, given ``thresholds``, only the heads that can stop a video
    (:meth:`~dynamic_inference.schemes.Scheme.live_exits`; the engine skips the others).
    """
    if not scheme.depth:
        return fixed_exit_costs(table)
    k_all = table.num_exits
    live = [True] * k_all if thresholds is None else scheme.live_exits(thresholds, k_all)
    stages = table.stage_gflops
    return [
        sum(stages[: k + 1]) + sum(h for h, on in zip(table.head_gflops[: k + 1], live) if on)
        for k in range(k_all)
    ]


def point_costs(
    table: CostTable, scheme: Scheme, frames: int, thresholds: Thresholds | None = None
) -> Tensor:
    """``(P,)`` float64: the cost per video a scheme pays at each of its decision points."""
    return scheme.point_costs(exit_costs(table, scheme, thresholds), frames)


def calibration_costs(
    table: CostTable, scheme: Scheme, frames: int
) -> tuple[Tensor, HeadPricing]:
    """What the default calibration prices settings with: the cost per video of each point with
    no early head running ``(P,)``, and what each early head adds when it runs
    (:meth:`~dynamic_inference.schemes.Scheme.head_pricing`)."""
    n_points = scheme.num_points(table.num_exits)
    base = point_costs(table, scheme, frames, [1.0] * n_points)
    return base, scheme.head_pricing(table.head_gflops, frames)


def _engine_ms(
    model: MultiExitNet, num_frames: int, size: int, batch: int, repeats: int, device: str,
    every_head: bool,
) -> list[float]:
    """Cumulative ms per frame at the end of each engine segment, median of ``repeats`` runs of
    ``batch`` random clips that are all sent to the last exit (one warm-up run first)."""
    from dynamic_inference.engine import EarlyExitEngine

    scheme = make_scheme("depth")
    n_points = scheme.num_points(model.num_exits)
    thresholds = [0.5 if every_head else 1.0] * n_points  # 1.0 switches a head off
    engine = EarlyExitEngine(model, scheme, thresholds, [1.0] * model.num_exits, num_frames)
    clips = torch.randn(batch, num_frames, 3, size, size, device=device)
    to_the_end = torch.full((batch,), n_points - 1, dtype=torch.long)
    samples: list[list[float]] = [[] for _ in engine.segments]
    for r in range(repeats + 1):
        res = engine.run(clips, stop_at=to_the_end)
        if r == 0:  # warm-up
            continue
        total = 0.0
        for s in range(len(engine.segments)):
            total += sum(res.seconds[kind][s] for kind in res.seconds)
            samples[s].append(total)
    return [1e3 * statistics.median(v) / (batch * num_frames) for v in samples]


def measure_latency(
    model: MultiExitNet,
    num_frames: int,
    size: int,
    batch: int = 8,
    repeats: int = 5,
    device: str = "cpu",
    heads: str = "all",
) -> list[float]:
    """Measured cumulative milliseconds per frame up to each exit (head included).

    The early-exit engine (:class:`~dynamic_inference.engine.EarlyExitEngine`) runs ``batch``
    random clips of ``num_frames`` frames to the last exit and its own per-segment clock is read
    (median of ``repeats`` after a warm-up): the table is what the engine pays, bookkeeping and
    stop tests included. ``heads="all"``: every head up to exit k runs, as in the depth axis;
    ``"last"``: the last entry is measured with only the last head running, as in full inference
    and the input axis (the earlier entries, which those schemes never stop at, are the
    ``"all"`` ones). Use it as ``exit_cost`` to calibrate for a time budget instead of a FLOPs
    budget (``evaluate(..., budget_ms=...)``). Call it with ``num_frames`` = the frames of one
    group: the engine feeds the network group by group.
    """
    if heads not in ("all", "last"):
        raise ConfigError(f"heads must be 'all' or 'last', got {heads!r}")
    model = model.eval().to(device)
    table = _engine_ms(model, num_frames, size, batch, repeats, device, every_head=True)
    if heads == "last":
        table[-1] = _engine_ms(model, num_frames, size, batch, repeats, device, False)[-1]
    return table
