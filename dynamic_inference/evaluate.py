"""Evaluation of a scheme: top-1 and FLOPs per video on a split, with thresholds from val.

The metric pair of the paper is (top-1, average FLOPs per video) ("Evaluation Metrics").
:func:`evaluate` produces it for one checkpoint, split and scheme:

1. per-frame logits of every exit on the validation and the evaluated split, once per frame
   order (:mod:`dynamic_inference.logits`; a caller evaluating several schemes passes a
   :class:`~dynamic_inference.logits.LogitCache`);
2. thresholds chosen on **validation only**
   (:func:`~dynamic_inference.calibrate.choose_thresholds`): a shared threshold, MSDNet's
   budgeted calibration for a FLOPs or time budget, or by default the cheapest setting whose
   val loss plus one paired standard error is within 0.5 pt of full inference;
3. the split evaluated with the frozen thresholds by simulation and by the **real early-exit
   engine** (:mod:`dynamic_inference.engine`), which must agree; the engine's wall-clock time is
   measured next to full inference's. Costs follow the one rule of :mod:`dynamic_inference.cost`
   (full inference: all frames, all stages, the last head only).

:func:`evaluate` returns an :class:`Evaluation`; :meth:`Evaluation.to_report` makes the JSON
report of the ``evaluate`` command (``top1``, ``gflops_per_video``, ``full_gflops_per_video``,
``reduction_pct``, ``n_videos``, ``stop_histogram``, ``wall_clock_s``, losses with their paired
95% intervals, ...). :func:`curves` gives the accuracy-vs-cost curves of the notebooks.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from dynamic_inference.calibrate import (
    OperatingPoint,
    budgeted_curve,
    choose_thresholds,
    evaluate_thresholds,
    oracle,
    paired_interval,
    pareto_front,
    static_baselines,
    sweep_shared_threshold,
)
from dynamic_inference.checkpoint import DEFAULT_CHECKPOINT, TrainConfig, load_checkpoint
from dynamic_inference.checks import (
    atomic_write_text,
    check_classes,
    check_device,
    check_int,
    check_output_file,
)
from dynamic_inference.cost import (
    calibration_costs,
    exit_costs,
    fixed_exit_costs,
    full_cost,
    measure_latency,
    point_costs,
)
from dynamic_inference.engine import EarlyExitEngine, EngineResult
from dynamic_inference.errors import ConfigError, DatasetError
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.flops import CostTable, cost_table
from dynamic_inference.fold import fold_batchnorm
from dynamic_inference.logits import LogitCache, SplitLogits, eval_split, order_for, split_logits
from dynamic_inference.schemes import Scheme, SimResult, make_scheme, simulate


def _bucket(record: Any) -> str:
    d = getattr(record, "difficulty", None)
    if d is None:
        return "n/a"
    return "easy" if d < 1 / 3 else ("medium" if d < 2 / 3 else "hard")


def _accuracy_by(keys: list[str], correct: Tensor) -> dict[str, float]:
    out: dict[str, list[int]] = {}
    for k, c in zip(keys, correct.tolist()):
        out.setdefault(k, []).append(int(c))
    return {k: round(100.0 * sum(v) / len(v), 2) for k, v in sorted(out.items())}


def _mean_by(keys: list[str], values: Tensor) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for k, v in zip(keys, values.tolist()):
        out.setdefault(k, []).append(float(v))
    return {k: round(sum(v) / len(v), 4) for k, v in sorted(out.items())}


def run_engine(
    model: MultiExitNet,
    scheme: Scheme,
    thresholds: list[float],
    exit_cost: list[float],
    cfg: TrainConfig,
    dataset: Any,
    order: Tensor,
    batch_size: int = 32,
    device: str = "cpu",
) -> EngineResult:
    """Real early exit over a dataset; decoding is not timed.

    The whole split is one stream through the engine's serving mode
    (:meth:`EarlyExitEngine.serve`) with calls of at most ``batch_size`` clips' worth of frames
    (``batch_size * T``: the memory of full inference on ``batch_size`` clips, for every scheme).
    """
    engine = EarlyExitEngine(model.to(device), scheme, thresholds, exit_cost, cfg.frames)
    clips = (clip[order].to(device)
             for batch, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False)
             for clip in batch)
    return engine.serve(clips, frames_per_call=batch_size * cfg.frames)


@dataclass
class Evaluation:
    """What :func:`evaluate` measured: one scheme with frozen thresholds on one split."""

    checkpoint: Path
    split: str
    scheme: Scheme
    cfg: TrainConfig
    provenance: dict[str, Any]
    thresholds: list[float]  # chosen on val (unrounded: re-simulating must agree)
    rule: str  # how they were chosen, in words
    test: SplitLogits  # the evaluated split's logits, in the scheme's frame order
    sim: SimResult  # the scheme on the split, by simulation
    full_correct: Tensor  # (V,) bool: full inference right on each video of the split
    full_gflops: float  # GFLOPs per video of full inference (all stages, the last head only)
    val: OperatingPoint  # the same thresholds on val
    val_loss: tuple[float, float, float]  # val top-1 loss vs full inference, 95% interval
    oracle: OperatingPoint  # each video at the cheapest point that is right
    skipped: list[str]  # clips dropped by skip_bad, "path: why"
    latency: dict[str, Any] | None = None  # the time budget's figures (budget_ms)
    engine: EngineResult | None = None  # the real early exit on the split
    full_engine: EngineResult | None = None  # full inference through the same engine
    folded: bool = False  # logits and engine from the fold_batchnorm copy of the model

    @property
    def full_top1(self) -> float:
        return 100.0 * float(self.full_correct.double().mean())

    @property
    def reduction_pct(self) -> float:
        """How much cheaper than full inference, in percent of its cost."""
        return 100.0 * (1.0 - self.sim.mean_cost / self.full_gflops)

    @property
    def loss(self) -> tuple[float, float, float]:
        """Top-1 loss against full inference on the same videos, with its paired 95% interval."""
        return paired_interval(self.full_correct, self.sim.correct)

    def to_report(self) -> dict[str, Any]:
        """The JSON report of the ``evaluate`` command."""
        sim, sch, cfg, test = self.sim, self.scheme, self.cfg, self.test
        groups = [getattr(r, "group", None) or "all" for r in test.records]  # scene / temporal
        report: dict[str, Any] = {
            "checkpoint": self.checkpoint.name,
            "split": self.split,
            "scheme": sch.name,
            "order": sch.order if sch.groups > 1 else cfg.order,
            "groups": sch.groups,
            "frames": cfg.frames,
            "n_videos": sim.n_videos,
            "top1": round(sim.top1, 2),
            "top5": round(sim.top5, 2),
            "gflops_per_video": round(sim.mean_cost, 4),
            "full_gflops_per_video": round(self.full_gflops, 4),
            "reduction_pct": round(self.reduction_pct, 2),  # from the exact costs, not the rounded
            "thresholds": [float(t) for t in self.thresholds],
            "threshold_rule": self.rule,
            "val_top1": round(self.val.top1, 2),
            "val_gflops_per_video": round(self.val.mean_cost, 4),
            "stop_histogram": dict(zip(sim.point_names, sim.stop_histogram)),
            "top1_by_difficulty": _accuracy_by([_bucket(r) for r in test.records], sim.correct),
            "top1_by_group": _accuracy_by(groups, sim.correct),
            "gflops_by_group": _mean_by(groups, sim.cost),
            "val_top1_per_exit_at_training": self.provenance.get("val_top1_per_exit"),
            "skipped": {"count": len(self.skipped), "clips": self.skipped},
            "folded": self.folded,
        }
        report["full_top1"] = round(self.full_top1, 2)
        loss, low, high = self.loss
        report["top1_loss_pt"] = round(loss, 2)
        report["top1_loss_ci95"] = [round(low, 2), round(high, 2)]
        loss, low, high = self.val_loss
        report["val_top1_loss_pt"] = round(loss, 2)
        report["val_top1_loss_ci95"] = [round(low, 2), round(high, 2)]
        report["oracle"] = {"top1": round(self.oracle.top1, 2),
                            "gflops_per_video": round(self.oracle.mean_cost, 4)}
        if self.latency is not None:
            report.update(self.latency)
        if self.engine is not None and self.full_engine is not None:
            eng, wall, full_wall = self.engine, self.engine.wall_s, self.full_engine.wall_s
            report["engine_matches_simulation"] = bool(
                torch.equal(eng.pred, sim.pred) and torch.equal(eng.stop, sim.stop)
            )
            report["engine_disagreements"] = int((eng.stop != sim.stop).sum())
            report["wall_clock_s"] = round(wall, 3)
            report["clips_per_s"] = round(sim.n_videos / wall, 1)
            report["full_wall_clock_s"] = round(full_wall, 3)
            report["full_clips_per_s"] = round(sim.n_videos / full_wall, 1)
            report["wall_clock_speedup"] = round(full_wall / wall, 3)
            report["flops_speedup"] = round(
                report["full_gflops_per_video"] / report["gflops_per_video"], 3
            )
        else:
            report["wall_clock_s"] = None
        return report


def _check_options(batch_size: int, device: str, budget: float | None, threshold: float | None,
                   budget_ms: float | None) -> None:
    check_int("--batch-size", batch_size, 1)
    check_device(device)
    if threshold is not None and not 0.0 <= threshold <= 1.0:  # also rejects NaN
        raise ConfigError(f"--threshold must be in [0, 1], got {threshold}")
    if budget is not None and not budget > 0:
        raise ConfigError(f"--budget must be > 0 GFLOPs/video, got {budget}")
    if budget_ms is not None and (budget is not None or threshold is not None):
        raise ConfigError("--budget-ms cannot be combined with --budget or --threshold")
    if budget_ms is not None and not budget_ms > 0:  # also rejects NaN
        raise ConfigError(f"--budget-ms must be > 0 ms/video, got {budget_ms}")


def evaluate(
    checkpoint: str | Path = DEFAULT_CHECKPOINT,
    split: str = "test",
    scheme: str = "unified",
    order: str = "strided",
    groups: int = 4,
    budget: float | None = None,
    threshold: float | None = None,
    data: str | Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    engine: bool = True,
    budget_ms: float | None = None,
    skip_bad: bool = False,
    cache: LogitCache | None = None,
    fold: bool = False,
) -> Evaluation:
    """Evaluate ``scheme`` on ``split`` with thresholds calibrated on val.

    ``budget_ms``: a *time* budget (milliseconds of compute per video on this machine) instead
    of a FLOPs budget: a latency table is measured here (:func:`cost.measure_latency`, calls of
    one group of frames at ``batch_size`` videos) and MSDNet's calibration solves for it on val.
    ``skip_bad``: missing and undecodable clips are dropped and listed in ``skipped`` (else the
    first one stops the run). The dataset's classes must be the checkpoint's
    (:func:`~dynamic_inference.checks.check_classes`). ``cache``: decoded clips and logits to
    reuse across calls (default: a fresh one, so val and test are decoded once per call).
    ``fold``: the logits, the latency table and the engine come from the model's
    :func:`~dynamic_inference.fold.fold_batchnorm` copy (faster on a CPU, the same logits to float
    rounding, so a confidence on a threshold may fall the other way); the FLOPs are counted on
    the model as trained.
    """
    _check_options(batch_size, device, budget, threshold, budget_ms)
    model, cfg, prov = load_checkpoint(checkpoint, device=device)
    net = fold_batchnorm(model) if fold else model  # what runs
    if split == "val" and (budget is not None or threshold is None):
        print("note: thresholds are calibrated on val; evaluating on val too", file=sys.stderr)
    sch = make_scheme(scheme, groups, order, cfg.seed)
    if sch.groups > 1 and cfg.frames % sch.groups:
        raise ConfigError(f"--groups {groups} must divide the checkpoint's {cfg.frames} frames")
    cache = LogitCache() if cache is None else cache
    name = str(Path(checkpoint).resolve()) + (" (folded)" if fold else "")

    def logits(which: str, perm: Tensor) -> SplitLogits:
        return split_logits(net, cfg, which, perm, data, batch_size, device, skip_bad, cache,
                            name)

    perm = order_for(sch, cfg)
    val = logits("val", perm)
    where = str(data or cfg.data or f"the {cfg.dataset} dataset")
    check_classes(val.classes, prov["classes"], checkpoint, where)
    if threshold is None and budget is None and budget_ms is None and len(val.labels) < 2:
        raise DatasetError(f"the val split of {where} has {len(val.labels)} videos; the default "
                           "rule needs >= 2 to estimate the standard error of a loss (add val "
                           "videos, or pass --threshold)")
    test = logits(split, perm)
    check_classes(test.classes, prov["classes"], checkpoint, where)
    table = cost_table(model, cfg.input_size)
    latency: dict[str, Any] | None = None
    if budget_ms is not None:  # calibrate on measured time instead of FLOPs
        ms_table = measure_latency(net, cfg.frames // sch.groups, cfg.input_size, batch_size,
                                   device=device, heads="all" if sch.depth else "last")
        ms_costs = sch.point_costs(ms_table, cfg.frames)  # (P,) ms per video
        thresholds, rule = choose_thresholds(sch, val, ms_costs, budget_ms, unit="ms")
    else:  # every setting priced by the heads it runs
        base, heads = calibration_costs(table, sch, cfg.frames)
        thresholds, rule = choose_thresholds(sch, val, base, budget, threshold, heads=heads)
    # heads that cannot stop a video with these thresholds are neither run nor paid for
    paid = exit_costs(table, sch, thresholds)
    sim = simulate(sch, test.frame_logits, test.labels, paid, thresholds)
    val_pl = sch.point_logits(val.frame_logits)
    val_op = evaluate_thresholds(val_pl, val.labels, sch.point_costs(paid, cfg.frames),
                                 thresholds)
    # full inference on the same clips, in the order the checkpoint was trained with
    full_sch = make_scheme("full")
    full_perm = order_for(full_sch, cfg)
    full_correct = _full_correct(logits(split, full_perm), test.labels)
    val_full = _full_correct(logits("val", full_perm), val.labels)
    val_stop = sch.decide(val_pl, thresholds)
    val_correct = val_pl.argmax(2).gather(1, val_stop[:, None])[:, 0] == val.labels
    if budget_ms is not None:
        latency = {
            "latency_ms_per_frame": [round(v, 5) for v in ms_table],
            "budget_ms_per_video": budget_ms,
            "predicted_ms_per_video": round(float(ms_costs[sim.stop].mean()), 3),
            "val_predicted_ms_per_video": round(
                evaluate_thresholds(val_pl, val.labels, ms_costs, thresholds).mean_cost, 3),
            "full_predicted_ms_per_video": round(float(ms_costs[-1]), 3),
        }
    ev = Evaluation(
        checkpoint=Path(checkpoint), split=split, scheme=sch, cfg=cfg, provenance=prov,
        thresholds=[float(t) for t in thresholds], rule=rule, test=test, sim=sim,
        full_correct=full_correct, full_gflops=full_cost(table, cfg.frames), val=val_op,
        val_loss=paired_interval(val_full, val_correct),
        # every head priced: the oracle's bound (any point may stop)
        oracle=oracle(sch.point_logits(test.frame_logits), test.labels,
                      point_costs(table, sch, cfg.frames)),
        skipped=list(dict.fromkeys(val.skipped + test.skipped)),  # val may be the split
        latency=latency, folded=fold,
    )
    if engine:
        ds = eval_split(cfg, split, data, skip_bad, cache)
        ev.engine = run_engine(net, sch, thresholds, paid, cfg, ds, perm, batch_size, device)
        ev.full_engine = run_engine(net, full_sch, [0.0], exit_costs(table, full_sch), cfg,
                                    ds, full_perm, batch_size, device)
    return ev


def _full_correct(full: SplitLogits, labels: Tensor) -> Tensor:
    """(V,) bool: full inference (the last exit on all frames) right on each video."""
    return make_scheme("full").point_logits(full.frame_logits)[:, 0].argmax(1) == labels


def curves(
    scheme: Scheme,
    test: SplitLogits,
    table: CostTable,
    frames: int,
    val: SplitLogits | None = None,
) -> dict[str, Any]:
    """Accuracy-vs-cost of one scheme on a split: the curve, the oracle and the static points.

    With validation logits, every point of the curve is a threshold setting chosen on val (the
    Pareto front of MSDNet's budgeted calibration and of the shared-threshold sweep on val) and
    measured on this split, which is how the test curves of the notebooks are made. Without,
    thresholds are swept on the split itself (an optimistic curve, for exploration only). The
    curve prices every head (any point may stop); the static baselines are priced as they run
    (:func:`~dynamic_inference.cost.fixed_exit_costs`).
    """
    costs = point_costs(table, scheme, frames)
    pl = scheme.point_logits(test.frame_logits)
    if val is not None:
        vpl = scheme.point_logits(val.frame_logits)
        front = pareto_front(budgeted_curve(vpl, val.labels, costs)
                             + sweep_shared_threshold(vpl, val.labels, costs))
        curve = [evaluate_thresholds(pl, test.labels, costs, op.thresholds, name=op.name)
                 for op in front]
        curve.sort(key=lambda op: op.mean_cost)
    else:
        curve = pareto_front(budgeted_curve(pl, test.labels, costs)
                             + sweep_shared_threshold(pl, test.labels, costs))
    return {
        "curve": curve,
        "oracle": oracle(pl, test.labels, costs),
        "static": static_baselines(test.frame_logits, test.labels, fixed_exit_costs(table)),
    }


def pair_accuracy(logits: SplitLogits, exit_index: int = -1) -> dict[str, Any]:
    """Full-inference top-1 on the scene and temporal classes, and 2-way accuracy within each
    time-reversal pair (the two logits of the pair compared; chance 50%). MiniActions only."""
    from dynamic_inference.data.mini import CLASSES

    index = {c.name: c.index for c in CLASSES}
    video = logits.frame_logits[:, exit_index].mean(dim=1)  # (V, C)
    correct = video.argmax(1) == logits.labels
    group = [CLASSES[int(y)].group for y in logits.labels]
    out: dict[str, Any] = {}
    for g in ("scene", "temporal"):
        mask = torch.tensor([x == g for x in group])
        out[g] = round(100.0 * float(correct[mask].double().mean()), 2)
    out["pairs"] = {}
    for c in CLASSES:
        if c.reverse_of is None or index[c.reverse_of] < c.index:
            continue  # each pair once, named after its first class
        a, b = c.index, index[c.reverse_of]
        mask = (logits.labels == a) | (logits.labels == b)
        pick = torch.where(video[mask, a] >= video[mask, b], a, b)
        out["pairs"][f"{c.name}/{c.reverse_of}"] = round(
            100.0 * float((pick == logits.labels[mask]).double().mean()), 2)
    return out


def cli_evaluate(args: argparse.Namespace) -> int:
    if args.json_out:  # before the work, not after minutes of it
        check_output_file(args.json_out, "--json")
    report = evaluate(
        args.checkpoint, args.split, args.scheme, args.order, args.groups, args.budget,
        args.threshold, args.data, args.batch_size, args.device, budget_ms=args.budget_ms,
        skip_bad=args.skip_bad, fold=args.fold,
    ).to_report()
    text = json.dumps(report, indent=2)
    if args.json_out:
        atomic_write_text(args.json_out, text + "\n")
    if report["skipped"]["count"]:
        clips = report["skipped"]["clips"]
        print(f"skipped {len(clips)} clips: " + "; ".join(clips[:3])
              + (" ..." if len(clips) > 3 else ""))
    print(
        f"{report['scheme']}: top-1 {report['top1']:.2f}% at {report['gflops_per_video']:.3f} "
        f"GFLOPs/video ({report['reduction_pct']:.1f}% less than full inference "
        f"{report['full_gflops_per_video']:.3f}, top-1 {report['full_top1']:.2f}%), "
        f"{report['n_videos']} videos"
    )
    return 0
