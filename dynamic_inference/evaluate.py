"""Evaluation of the schemes: metrics, JSON reports, the demo and streaming (paper: Experiments).

The metric pair of the paper is (top-1, average FLOPs per video). :func:`evaluate` produces it for
one checkpoint, split and scheme:

1. the *fast path*: every decision point of the scheme is evaluated once from per-frame logits
   (:func:`split_logits`, cached per checkpoint/split/order) on the validation and the test split;
2. thresholds are chosen on **validation only**: a shared threshold (``threshold``), MSDNet's
   budgeted calibration for a cost budget (``budget``), or by default the cheapest setting
   (budgeted, shared, or one threshold per exit by descent) whose val loss plus one paired
   standard error is within ``max_val_loss`` (0.5 pt) of full inference
   (:func:`choose_thresholds`, :func:`~dynamic_inference.calibrate.calibrate_within_loss`);
3. test is evaluated with the frozen thresholds, by simulation and by the **real early-exit
   engine** (:mod:`dynamic_inference.engine`), which must agree; the engine's wall-clock time is
   reported next to full inference's.

The JSON report holds at least ``top1``, ``gflops_per_video``, ``full_gflops_per_video``,
``n_videos``, ``stop_histogram`` and ``wall_clock_s`` (DESIGN.md section 3).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm import tqdm

from dynamic_inference.calibrate import (
    budgeted_curve,
    calibrate_for_budget,
    calibrate_within_loss,
    evaluate_thresholds,
    exit_blocks,
    oracle,
    paired_interval,
    pareto_front,
    static_baselines,
    sweep_shared_threshold,
)
from dynamic_inference.checks import (
    atomic_write,
    atomic_write_text,
    check_classes,
    check_device,
    check_int,
    check_output_dir,
    check_output_file,
)
from dynamic_inference.engine import EarlyExitEngine, measure_latency
from dynamic_inference.errors import ConfigError, DatasetError
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.schemes import (
    HeadPricing,
    Scheme,
    Thresholds,
    frame_order,
    make_scheme,
    simulate,
)
from dynamic_inference.train import REPO_ROOT, TrainConfig, load_checkpoint

DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "tiny_online.pt"


@dataclass
class SplitLogits:
    """Per-frame logits of every exit on one split, frames in processing order."""

    frame_logits: Tensor  # (V, K, T, C)
    labels: Tensor  # (V,)
    records: list[Any]  # the dataset's records (label names, group, difficulty)
    order: Tensor  # (T,) the permutation applied to the sampled frames
    classes: list[str]
    skipped: list[str] = field(default_factory=list)  # clips dropped (--skip-bad): "path: why"


@torch.inference_mode()
def collect_logits(
    model: MultiExitNet,
    dataset: Any,
    order: Tensor,
    batch_size: int = 32,
    device: str = "cpu",
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Run every exit on every frame of ``dataset``: ``(V, K, T, C)`` logits and ``(V,)`` labels."""
    model.eval().to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out, labels = [], []
    for clips, y in tqdm(loader, desc="logits", disable=not progress, leave=False):
        res = model(clips[:, order].to(device))
        out.append(res.stacked_logits().float().cpu())
        labels.append(y)
    return torch.cat(out), torch.cat(labels)


_CACHE: dict[tuple, SplitLogits] = {}


def load_split(cfg: TrainConfig, split: str, data: str | Path | None = None, **kw: Any) -> Any:
    """The evaluation dataset of a checkpoint's config (centre sampling, no augmentation)."""
    from dynamic_inference.data.datasets import load_dataset

    root = data if data is not None else cfg.data
    return load_dataset(
        cfg.dataset, root, split, n_frames=cfg.frames, train=False, size=cfg.input_size, **kw
    )


class DecodedClips(torch.utils.data.Dataset):
    """An evaluation split decoded once and kept in memory: ``clips (V, T, 3, H, W)``."""

    def __init__(self, dataset: Any) -> None:
        loader = DataLoader(dataset, batch_size=64, shuffle=False)
        pairs = [(c, y) for c, y in loader]
        self.clips = torch.cat([c for c, _ in pairs])
        self.labels = torch.cat([y for _, y in pairs])
        self.records = list(dataset.records)
        self.classes = list(dataset.classes)
        self.skipped = list(dataset.skipped)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.clips[i], int(self.labels[i])


_CLIPS: dict[tuple, DecodedClips] = {}


def eval_split(
    cfg: TrainConfig, split: str, data: str | Path | None = None, skip_bad: bool = False
) -> Any:
    """The evaluation clips of a split. MiniActions splits are small (800 clips of 16 x 64 x 64)
    and are decoded once per process and kept in memory, so the schemes, orders and the engine
    of a notebook do not decode them again; real datasets are streamed from disk."""
    if cfg.dataset != "mini":
        return load_split(cfg, split, data, skip_bad=skip_bad)
    key = (cfg.dataset, str(data if data is not None else cfg.data), split, cfg.frames,
           cfg.input_size, skip_bad)
    if key not in _CLIPS:
        _CLIPS[key] = DecodedClips(load_split(cfg, split, data, skip_bad=skip_bad))
    return _CLIPS[key]


def split_logits(
    model: MultiExitNet,
    cfg: TrainConfig,
    split: str,
    order: Tensor,
    data: str | Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    key: str | None = None,
    skip_bad: bool = False,
) -> SplitLogits:
    """:func:`collect_logits` on a split, cached in memory under ``key`` (e.g. checkpoint path).
    ``skip_bad``: drop missing and undecodable clips (listed in ``SplitLogits.skipped``)."""
    ck = (key or id(model), split, tuple(order.tolist()), str(data), cfg.frames, skip_bad)
    if ck not in _CACHE:
        ds = eval_split(cfg, split, data, skip_bad)
        fl, y = collect_logits(model, ds, order, batch_size, device)
        _CACHE[ck] = SplitLogits(fl, y, list(ds.records), order, list(ds.classes),
                                 [f"{p}: {why}" for p, why in getattr(ds, "skipped", [])])
    return _CACHE[ck]


def exit_gflops(model: MultiExitNet, cfg: TrainConfig) -> list[float]:
    """Cumulative GFLOPs per frame up to each exit, earlier heads included (cached table)."""
    from dynamic_inference.flops import cost_table

    return list(cost_table(model, cfg.input_size).gflops_per_frame)


def full_gflops(model: MultiExitNet, cfg: TrainConfig) -> float:
    """GFLOPs per video of full inference: all frames, all stages, the last head only."""
    from dynamic_inference.flops import cost_table

    return cfg.frames * cost_table(model, cfg.input_size).full_gflops_per_frame


def scheme_exit_gflops(
    scheme: Scheme, model: MultiExitNet, cfg: TrainConfig, thresholds: Thresholds | None = None
) -> list[float]:
    """The per-frame exit costs a scheme pays: schemes that only use the last exit (full
    inference, input axis) never evaluate the earlier heads, so their last entry is the cost of
    stem + stages + the last head; depth and unified schemes pay for every head on the way, or,
    given ``thresholds``, only for the heads that can stop a video (:meth:`Scheme.live_exits`;
    the engine skips the others)."""
    from dynamic_inference.flops import cost_table

    table = cost_table(model, cfg.input_size)
    if not scheme.depth:
        costs = list(table.gflops_per_frame)
        costs[-1] = table.full_gflops_per_frame
        return costs
    k_all = model.num_exits
    live = [True] * k_all if thresholds is None else scheme.live_exits(thresholds, k_all)
    stages = list(table.stage_gflops)  # stem counted in stage 0
    return [
        sum(stages[: k + 1]) + sum(h for h, on in zip(table.head_gflops[: k + 1], live) if on)
        for k in range(model.num_exits)
    ]


def calibration_costs(
    scheme: Scheme, model: MultiExitNet, cfg: TrainConfig
) -> tuple[Tensor, HeadPricing]:
    """What :func:`choose_thresholds` prices settings with: the GFLOPs per video of each point
    with no early head running ``(P,)``, and what each early head adds when it runs."""
    from dynamic_inference.flops import cost_table

    n_points = scheme.num_points(model.num_exits)
    base = scheme.point_costs(scheme_exit_gflops(scheme, model, cfg, [1.0] * n_points),
                              cfg.frames)
    heads = scheme.head_pricing(cost_table(model, cfg.input_size).head_gflops, cfg.frames)
    return base, heads


def order_for(scheme: Scheme, cfg: TrainConfig) -> Tensor:
    """The frame permutation a scheme uses with a checkpoint.

    Input-axis and unified schemes use their own order and group count; full inference and the
    depth axis see all frames at once and use the order the checkpoint was trained with.
    """
    if scheme.groups > 1:
        return frame_order(scheme.order, cfg.frames, scheme.groups, scheme.seed)
    return frame_order(cfg.order, cfg.frames, cfg.groups, cfg.seed)


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
    points = scheme.points(val.frame_logits.shape[1])
    blocks = exit_blocks([pt.exit for pt in points])
    last_exit = points[-1].exit
    contains = [[i for i, pt in enumerate(points) if pt.exit == last_exit]] if (
        scheme.depth and scheme.groups > 1) else []
    choice = calibrate_within_loss(pl, val.labels, costs, max_val_loss, z, blocks, contains,
                                   heads)
    return list(choice.point.thresholds or ()), (
        f"cheapest setting on val whose loss + {z:g} SE is within {max_val_loss:g} pt of full "
        f"inference ({choice.point.name}: {choice.loss:.2f} +- {choice.loss_se:.2f} pt)"
    )


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


def _skipped(*splits: SplitLogits) -> dict[str, Any]:
    """The report's ``skipped``: how many and which clips of the splits were dropped."""
    clips = list(dict.fromkeys(c for sl in splits for c in sl.skipped))  # val may be the split
    return {"count": len(clips), "clips": clips}


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
) -> tuple[Tensor, Tensor, float]:
    """Real early exit over a dataset: (pred, stop, compute seconds). Decoding is not timed.

    The whole split is one stream through the engine's serving mode
    (:meth:`EarlyExitEngine.serve`) with calls of at most ``batch_size`` clips' worth of frames
    (``batch_size * T``: the memory of full inference on ``batch_size`` clips, for every scheme).
    """
    engine = EarlyExitEngine(model.to(device), scheme, thresholds, exit_cost, cfg.frames)
    clips = (clip[order].to(device)
             for batch, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False)
             for clip in batch)
    res = engine.serve(clips, frames_per_call=batch_size * cfg.frames)
    return res.pred, res.stop, res.wall_s


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
) -> dict[str, Any]:
    """Evaluate ``scheme`` on ``split`` with thresholds calibrated on val; returns the report.

    ``budget_ms``: a *time* budget (milliseconds of compute per video on this machine) instead
    of a FLOPs budget: a latency table is measured here (:func:`engine.measure_latency`, calls of
    one group of frames at ``batch_size`` videos) and MSDNet's calibration solves for it on val.
    ``skip_bad``: missing and undecodable clips are dropped and listed in the report's
    ``skipped`` (else the first one stops the run). The dataset's classes must be the
    checkpoint's (:func:`~dynamic_inference.checks.check_classes`).
    """
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
    model, cfg, prov = load_checkpoint(checkpoint, device=device)
    if split == "val" and (budget is not None or threshold is None):
        print("note: thresholds are calibrated on val; evaluating on val too", file=sys.stderr)
    sch = make_scheme(scheme, groups, order, cfg.seed)
    if sch.groups > 1 and cfg.frames % sch.groups:
        raise ConfigError(f"--groups {groups} must divide the checkpoint's {cfg.frames} frames")
    perm = order_for(sch, cfg)
    # every head priced: what calibration compares and the oracle's bound (any point may stop)
    costs = sch.point_costs(scheme_exit_gflops(sch, model, cfg), cfg.frames)
    key = str(Path(checkpoint).resolve())
    val = split_logits(model, cfg, "val", perm, data, batch_size, device, key, skip_bad)
    where = str(data or cfg.data or f"the {cfg.dataset} dataset")
    check_classes(val.classes, prov["classes"], checkpoint, where)
    if threshold is None and budget is None and budget_ms is None and len(val.labels) < 2:
        raise DatasetError(f"the val split of {where} has {len(val.labels)} videos; the default "
                           "rule needs >= 2 to estimate the standard error of a loss (add val "
                           "videos, or pass --threshold)")
    test = split_logits(model, cfg, split, perm, data, batch_size, device, key, skip_bad)
    check_classes(test.classes, prov["classes"], checkpoint, where)
    latency: list[float] | None = None
    if budget_ms is not None:  # calibrate on measured time instead of FLOPs
        latency = measure_latency(model, cfg.frames // sch.groups, cfg.input_size, batch_size,
                                  device=device, heads="all" if sch.depth else "last")
        ms_costs = sch.point_costs(latency, cfg.frames)  # (P,) ms per video
        thresholds, rule = choose_thresholds(sch, val, ms_costs, budget_ms, unit="ms")
    else:  # every setting priced by the heads it runs
        base, heads = calibration_costs(sch, model, cfg)
        thresholds, rule = choose_thresholds(sch, val, base, budget, threshold, heads=heads)
    # heads that cannot stop a video with these thresholds are neither run nor paid for
    exit_cost = scheme_exit_gflops(sch, model, cfg, thresholds)
    paid = sch.point_costs(exit_cost, cfg.frames)
    sim = simulate(sch, test.frame_logits, test.labels, exit_cost, thresholds)
    val_pl = sch.point_logits(val.frame_logits)
    val_op = evaluate_thresholds(val_pl, val.labels, paid, thresholds)
    points = sch.points(model.num_exits)
    correct = sim.correct
    groups = [getattr(r, "group", None) or "all" for r in test.records]  # scene / temporal
    report: dict[str, Any] = {
        "checkpoint": Path(checkpoint).name,
        "split": split,
        "scheme": scheme,
        "order": sch.order if sch.groups > 1 else cfg.order,
        "groups": sch.groups,
        "frames": cfg.frames,
        "n_videos": sim.n_videos,
        "top1": round(sim.top1, 2),
        "top5": round(sim.top5, 2),
        "gflops_per_video": round(sim.mean_cost, 4),
        # full inference evaluates the last head only (the paper's "Full Inference"); the
        # dynamic schemes also pay for the earlier heads they evaluate, so this is the honest
        # (smaller) reference for the reduction
        "full_gflops_per_video": round(full_gflops(model, cfg), 4),
        "reduction_pct": None,
        "thresholds": [float(t) for t in thresholds],  # unrounded: re-simulating must agree
        "threshold_rule": rule,
        "val_top1": round(val_op.top1, 2),
        "val_gflops_per_video": round(val_op.mean_cost, 4),
        "stop_histogram": {p.name: c for p, c in zip(points, sim.stop_histogram)},
        "top1_by_difficulty": _accuracy_by([_bucket(r) for r in test.records], correct),
        "top1_by_group": _accuracy_by(groups, correct),
        "gflops_by_group": _mean_by(groups, sim.cost),
        "val_top1_per_exit_at_training": prov.get("val_top1_per_exit"),
        "skipped": _skipped(val, test),
    }
    report["reduction_pct"] = round(
        100.0 * (1 - report["gflops_per_video"] / report["full_gflops_per_video"]), 2
    )
    full_sch = make_scheme("full")
    full_perm = order_for(full_sch, cfg)  # the checkpoint's order, whatever the scheme's
    full_test = split_logits(model, cfg, split, full_perm, data, batch_size, device, key, skip_bad)
    full_correct = full_sch.point_logits(full_test.frame_logits)[:, 0].argmax(1) == test.labels
    report["full_top1"] = round(100.0 * float(full_correct.double().mean()), 2)
    # paired 95% bootstrap interval of the loss: the same clips answer both ways
    loss, low, high = paired_interval(full_correct, correct)
    report["top1_loss_pt"] = round(loss, 2)
    report["top1_loss_ci95"] = [round(low, 2), round(high, 2)]
    full_val = split_logits(model, cfg, "val", full_perm, data, batch_size, device, key, skip_bad)
    val_full = full_sch.point_logits(full_val.frame_logits)[:, 0].argmax(1) == val.labels
    val_stop = sch.decide(val_pl, thresholds)
    val_correct = val_pl.argmax(2).gather(1, val_stop[:, None])[:, 0] == val.labels
    loss, low, high = paired_interval(val_full, val_correct)
    report["val_top1_loss_pt"] = round(loss, 2)
    report["val_top1_loss_ci95"] = [round(low, 2), round(high, 2)]
    orc = oracle(sch.point_logits(test.frame_logits), test.labels, costs)
    report["oracle"] = {"top1": round(orc.top1, 2), "gflops_per_video": round(orc.mean_cost, 4)}
    if latency is not None:
        report["latency_ms_per_frame"] = [round(v, 5) for v in latency]
        report["budget_ms_per_video"] = budget_ms
        report["predicted_ms_per_video"] = round(float(ms_costs[sim.stop].mean()), 3)
        report["val_predicted_ms_per_video"] = round(
            evaluate_thresholds(val_pl, val.labels, ms_costs, thresholds).mean_cost, 3)
        report["full_predicted_ms_per_video"] = round(float(ms_costs[-1]), 3)
    if engine:
        ds = eval_split(cfg, split, data, skip_bad)
        pred, stop, wall = run_engine(
            model, sch, thresholds, exit_cost, cfg, ds, perm, batch_size, device
        )
        _, _, full_wall = run_engine(
            model, full_sch, [0.0], scheme_exit_gflops(full_sch, model, cfg), cfg, ds,
            full_perm, batch_size, device,
        )
        report["engine_matches_simulation"] = bool(
            torch.equal(pred, sim.pred) and torch.equal(stop, sim.stop)
        )
        report["engine_disagreements"] = int((stop != sim.stop).sum())
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


def curves(
    frame_logits: Tensor,
    labels: Tensor,
    scheme: Scheme,
    exit_cost: list[float],
    frames: int,
    val_frame_logits: Tensor | None = None,
    val_labels: Tensor | None = None,
) -> dict[str, Any]:
    """Accuracy-vs-cost of one scheme on a split: the curve, the oracle and the static points.

    With validation logits, every point of the curve is a threshold setting chosen on val (the
    Pareto front of MSDNet's budgeted calibration and of the shared-threshold sweep on val) and
    measured on this split, which is how the test curves of the notebooks are made. Without,
    thresholds are swept on the split itself (an optimistic curve, for exploration only).
    """
    costs = scheme.point_costs(exit_cost, frames)
    pl = scheme.point_logits(frame_logits)
    if val_frame_logits is not None:
        vpl = scheme.point_logits(val_frame_logits)
        front = pareto_front(budgeted_curve(vpl, val_labels, costs)
                             + sweep_shared_threshold(vpl, val_labels, costs))
        curve = [evaluate_thresholds(pl, labels, costs, op.thresholds, name=op.name)
                 for op in front]
        curve.sort(key=lambda op: op.mean_cost)
    else:
        curve = pareto_front(budgeted_curve(pl, labels, costs)
                             + sweep_shared_threshold(pl, labels, costs))
    return {
        "curve": curve,
        "oracle": oracle(pl, labels, costs),
        "static": static_baselines(frame_logits, labels, exit_cost),
    }


def cli_evaluate(args: argparse.Namespace) -> int:
    if args.json_out:  # before the work, not after minutes of it
        check_output_file(args.json_out, "--json")
    report = evaluate(
        args.checkpoint, args.split, args.scheme, args.order, args.groups, args.budget,
        args.threshold, args.data, args.batch_size, args.device, budget_ms=args.budget_ms,
        skip_bad=args.skip_bad,
    )
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


def cli_demo(args: argparse.Namespace) -> int:
    """The main job: the shipped model on the shipped test clips, unified scheme."""
    import matplotlib

    matplotlib.use("Agg")
    from dynamic_inference import plots

    if args.limit is not None:
        check_int("--limit", args.limit, 1)
    check_output_dir(args.out, "--out")
    if not DEFAULT_CHECKPOINT.is_file():
        raise ConfigError(
            f"the shipped checkpoint {DEFAULT_CHECKPOINT.name} is missing: run "
            "`python -m dynamic_inference train --out checkpoints/tiny_online.pt`"
        )
    t0 = time.time()
    model, cfg, _ = load_checkpoint(DEFAULT_CHECKPOINT)
    report = evaluate(DEFAULT_CHECKPOINT, "test", "unified")
    sch = make_scheme("unified", 4, "strided", cfg.seed)
    test = split_logits(model, cfg, "test", order_for(sch, cfg),
                        key=str(DEFAULT_CHECKPOINT.resolve()))
    exit_cost = scheme_exit_gflops(sch, model, cfg)
    sim = simulate(sch, test.frame_logits, test.labels, exit_cost, report["thresholds"])
    points = sch.points(model.num_exits)
    n = len(test.labels)
    n_show = 16 if args.limit is None else min(args.limit, n)
    shown = torch.linspace(0, n - 1, n_show).round().long().unique().tolist()  # across classes
    names = {i: Path(str(getattr(test.records[i], "path", i))).name for i in shown}
    wv = max(len("video"), *(len(x) for x in names.values())) + 2  # column widths
    wc = max(len(c) for c in test.classes) + 2
    print(f"{'video':<{wv}}{'true':<{wc}}{'predicted':<{wc}}{'stopped at':<12}{'GFLOPs':>8}"
          f"{'of full':>9}")
    full = report["full_gflops_per_video"]
    for i in shown:
        print(f"{names[i]:<{wv}}{test.classes[int(test.labels[i])]:<{wc}}"
              f"{test.classes[int(sim.pred[i])]:<{wc}}{points[int(sim.stop[i])].name:<12}"
              f"{float(sim.cost[i]):>8.3f}{100 * float(sim.cost[i]) / full:>8.0f}%")
    print(
        f"\nunified scheme on {report['n_videos']} test videos: top-1 {report['top1']:.2f}% "
        f"(full inference {report['full_top1']:.2f}%), {report['gflops_per_video']:.3f} vs "
        f"{full:.3f} GFLOPs/video ({report['reduction_pct']:.1f}% less), "
        f"{report['clips_per_s']:.0f} clips/s vs {report['full_clips_per_s']:.0f} full "
        f"(x{report['wall_clock_speedup']:.2f} wall clock, x{report['flops_speedup']:.2f} FLOPs)"
    )
    val = split_logits(model, cfg, "val", order_for(sch, cfg),
                       key=str(DEFAULT_CHECKPOINT.resolve()))
    c = curves(test.frame_logits, test.labels, sch, exit_cost, cfg.frames,
               val.frame_logits, val.labels)
    ax = plots.accuracy_vs_cost(
        {"unified (test, thresholds from val)": ([op.mean_cost for op in c["curve"]],
                                              [op.top1 for op in c["curve"]])},
        {op.name: (op.mean_cost, op.top1) for op in c["static"]},
        oracle=(c["oracle"].mean_cost, c["oracle"].top1),
        operating_point=(report["gflops_per_video"], report["top1"]),
        title="MiniActions test: accuracy vs FLOPs",
    )
    out = Path(args.out)
    ax.figure.tight_layout()
    atomic_write(out / "demo.png", lambda tmp: ax.figure.savefig(tmp, dpi=120, format="png"))
    atomic_write_text(out / "demo.json", json.dumps(report, indent=2) + "\n")
    print(f"wrote {out / 'demo.png'} and {out / 'demo.json'} in {time.time() - t0:.0f} s")
    return 0


def load_clip(path: str | Path, frames: int, size: int) -> Tensor:
    """One video file as an evaluation clip ``(T, 3, size, size)``: decode (PyAV), TSN segment
    centres, resize the short side and centre-crop when the video is not already ``size``."""
    import numpy as np

    from dynamic_inference.data.video import (
        ClipTransform,
        TransformConfig,
        load_frames,
        sample_indices,
    )

    video = load_frames(path)  # (F, H, W, 3) uint8
    picks = sample_indices(video.shape[0], frames, mode="tsn", train=False,
                           rng=np.random.default_rng(0))
    native = video.shape[1] == size and video.shape[2] == size
    transform = ClipTransform(TransformConfig() if native else
                              TransformConfig(resize=size, size=size))
    return transform(video[torch.from_numpy(picks)], train=False, rng=np.random.default_rng(0))


def shipped_checkpoint(name: str) -> Path:
    """``checkpoints/<name>.pt`` of the repository (e.g. ``tiny_online``), checked to exist."""
    path = REPO_ROOT / "checkpoints" / f"{name}.pt"
    if not path.is_file():
        raise ConfigError(
            f"checkpoint {path.name} is missing; its provenance file {path.stem}.json in "
            "checkpoints/ (or the README) gives the command that trains it"
        )
    return path


def split_logits_for(
    checkpoint: str | Path, split: str, order: str | None = None, groups: int | None = None,
    data: str | Path | None = None, device: str = "cpu",
) -> SplitLogits:
    """Per-frame logits of a checkpoint on a split, frames in ``order`` (default: the order the
    checkpoint was trained with). Cached per checkpoint, split and order."""
    model, cfg, _ = load_checkpoint(checkpoint, device=device)
    perm = frame_order(order or cfg.order, cfg.frames, groups or cfg.groups, cfg.seed)
    return split_logits(model, cfg, split, perm, data=data, device=device,
                        key=str(Path(checkpoint).resolve()))


def checkpoint_exit_gflops(checkpoint: str | Path, scheme: Scheme) -> list[float]:
    """Per-frame exit costs (GFLOPs) a scheme pays with a checkpoint's model."""
    model, cfg, _ = load_checkpoint(checkpoint)
    return scheme_exit_gflops(scheme, model, cfg)


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


def stream_video(
    path: str | Path, checkpoint: str | Path, group: int = 2, threshold: float = 0.9,
    frames: int = 16, order: str | None = None,
) -> dict[str, Any]:
    """Online inference on one video file, decoded frame by frame (input-axis rule, last exit).

    The ``frames`` input frames are the TSN segment centres of the video (its frame count from
    the container, or from one counting pass when the container has none). They enter the
    network ``group`` at a time in ``order`` (default: the checkpoint's training order and
    group count; with ``sequential`` the groups are in time order, as from a live camera). The
    file is decoded one
    frame at a time and a group runs as soon as its frames have been decoded, continuing the
    videos' :class:`~dynamic_inference.shift.ShiftCache`; after each group the running top-3 is
    printed, and decoding stops as soon as the top-1 probability reaches ``threshold``. Returns
    the prediction, its class probabilities, the input frames used and how many frames of the
    file were decoded.
    """
    from dynamic_inference.data.video import (
        ClipTransform,
        FrameReader,
        TransformConfig,
        sample_indices,
    )
    from dynamic_inference.engine import shift_mode
    from dynamic_inference.errors import VideoDecodeError
    from dynamic_inference.shift import ShiftCache

    if not 0.0 <= threshold <= 1.0 or threshold != threshold:
        raise ConfigError(f"--threshold must be in [0, 1], got {threshold}")
    if group < 1 or frames < 1 or frames % group:
        raise ConfigError(f"--group {group} must divide --frames {frames} (both >= 1)")
    model, cfg, prov = load_checkpoint(checkpoint)
    if shift_mode(model) == "offline":
        raise ConfigError("streaming needs an online-shift (or no-shift) checkpoint")
    n_groups = frames // group
    # the permutation of training (its group count), fed `group` frames at a time
    order_groups = cfg.groups if frames % cfg.groups == 0 else n_groups
    perm = frame_order(order or cfg.order, frames, order_groups, cfg.seed).tolist()
    with FrameReader(path) as probe:
        total = probe.frame_count
    if total is None:  # no count in the container: count once (cheap next to the network)
        total = sum(1 for _ in FrameReader(path))
    picks = sample_indices(total, frames, mode="tsn", train=False).tolist()  # sorted
    wanted: dict[int, list[int]] = {}  # frame index in the file -> input positions
    for position, index in enumerate(picks):
        wanted.setdefault(index, []).append(position)
    classes = prov["classes"]
    transform: ClipTransform | None = None
    buffer: dict[int, Tensor] = {}  # input position -> (3, H, W) frame
    cache, feat_sum, seen, prob = ShiftCache(), None, 0, None
    reader = FrameReader(path)
    confident = False
    with torch.inference_mode(), reader:
        for index, image in enumerate(reader):
            for position in wanted.get(index, []):
                if transform is None:
                    native = image.shape[0] == image.shape[1] == cfg.input_size
                    transform = ClipTransform(TransformConfig() if native else TransformConfig(
                        resize=cfg.input_size, size=cfg.input_size))
                buffer[position] = transform(torch.from_numpy(image[None]), train=False)[0]
            # every group whose frames are all decoded runs now: with a strided order the last
            # frames of the file complete several groups at once
            while seen < frames and all(p in buffer for p in perm[seen:seen + group]):
                x = torch.stack([buffer.pop(p) for p in perm[seen:seen + group]])
                state = model.stem(x)  # (group, C, H, W): one video, `group` new frames
                for k in range(model.num_exits):
                    state = model.stage(k, state, group, cache)
                f = model.heads[-1].features(state).sum(0)  # (D,)
                feat_sum = f if feat_sum is None else feat_sum + f
                seen += group
                prob = torch.softmax(model.heads[-1].classifier(feat_sum / seen).double(), 0)
                top = prob.topk(min(3, len(classes)))
                tops = ", ".join(f"{classes[i]} {p:.2f}" for p, i in zip(top.values, top.indices))
                print(f"frames {seen:>3}/{frames} (decoded {reader.decoded}): {tops}")
                # the schemes' rule: a threshold of 1.0 never fires
                confident = float(top.values[0]) >= threshold and threshold < 1.0
                if confident:
                    break
            if confident or seen == frames:
                break
    if prob is None:
        raise VideoDecodeError(
            f"{path}: only {reader.decoded} frames decoded"
            + (f" ({reader.error})" if reader.error else "")
            + f", not enough for the first group of {group} input frames"
        )
    answer = classes[int(prob.argmax())]
    if confident and seen < frames:
        print(f"confident after {seen} of {frames} input frames ({reader.decoded} of {total} "
              f"decoded): {answer}")
    elif seen < frames:
        why = reader.error or f"its container said {total}"
        print(f"the video ended after {reader.decoded} frames ({why}); answer from {seen} of "
              f"{frames} input frames: {answer}")
    else:
        print(f"answered after all {frames} input frames: {answer}")
    return {"prediction": answer, "frames_used": seen, "frames_decoded": reader.decoded,
            "frames_in_video": total, "probs": prob.tolist()}
