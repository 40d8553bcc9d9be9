"""Does real early exit save wall-clock time in proportion to FLOPs? (issue 9)

The early-exit engine (:class:`dynamic_inference.engine.EarlyExitEngine`) runs a scheme on at
most ``batch`` videos at once and drops the confident ones from the batch after each decision
point. This script times it against full inference (the engine's ``full`` scheme) on the same
clips, already decoded in memory (decoding is not timed), at batch sizes 1, 8, 32 and 64, in two
ways:

* **chunks**: the clips are cut into batches of ``batch`` and each batch runs until its last
  video stops, so the batch shrinks as videos leave;
* **continuous** (``engine.run(clips, batch=...)``, the reported speedup): waiting videos take
  the places of the ones that stopped at the start of the next group, so the batch stays full.

It compares the measured speedup with

* the **FLOPs reduction factor** of the same stops: full GFLOPs / mean GFLOPs of the stops
  (target: speedup >= 0.8 x, checked at batch 8 and above);
* the speedup **predicted by a measured latency table**: :func:`cost.measure_latency` gives the
  cumulative ms per frame up to each exit at that batch size; the prediction is ``T x`` (full
  inference's ms per frame, last head only) over the mean latency cost of the stops. Measured
  on whole clips it includes the cost of the scheme's smaller calls (T/G frames per video);
  measured on calls of T/G frames (the group table: what the engine actually issues), the gap
  left is the engine's own cost: compaction, decisions, smaller batches after compaction. The
  target (>= 0.9 x: compaction and bookkeeping cost <= 10%) is checked against the group table;
  both ratios are reported.

Full and dynamic passes are timed side by side (rounds interleaved); speedups are the median of
per-round ratios with the quartiles. Thresholds: by default chosen on the validation split as
:func:`dynamic_inference.evaluate.evaluate` does (its default operating point); ``--threshold X``
uses a shared threshold; ``--synthetic`` uses random clips and MSDNet budgeted thresholds
computed on those clips (``--p``), for development without data.

    python benchmarks/early_exit_speed.py [--checkpoint checkpoints/tiny_online.pt]
        [--scheme unified] [--clips 128] [--batch-sizes 1,8,32,64] [--repeats 5] [--threshold X]
        [--synthetic] [--data DIR] [--threads 1] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import torch
from bench_common import (
    DEFAULT_CHECKPOINT,
    BenchmarkError,
    add_common_args,
    decoded_clips,
    environment,
    fmt_spread,
    interleaved,
    open_split,
    print_table,
    ratio_stats,
    require_checkpoint,
    run_cli,
    set_threads,
    time_stats,
    write_json,
)
from torch import Tensor

from dynamic_inference.calibrate import budgeted_thresholds
from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.cost import exit_costs, full_cost, measure_latency
from dynamic_inference.engine import EarlyExitEngine
from dynamic_inference.evaluate import evaluate
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.flops import cost_table
from dynamic_inference.logits import order_for
from dynamic_inference.schemes import Scheme, make_scheme

TARGET_VS_FLOPS = 0.8  # at batch >= 8
TARGET_VS_LATENCY = 0.9  # against the latency table of group-sized calls
FLOPS_TARGET_MIN_BATCH = 8


@torch.inference_mode()
def full_latency(
    model: MultiExitNet, num_frames: int, size: int, batch: int, repeats: int
) -> float:
    """Milliseconds per frame of full inference (stem, every stage, the last head only).

    Measured like :func:`cost.measure_latency` (random clips, median of ``repeats`` after one
    warm-up), whose table includes every earlier head.
    """
    x = torch.randn(batch * num_frames, 3, size, size)
    samples = []
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        state = model.stem(x)
        for k in range(model.num_exits):
            state = model.stage(k, state, num_frames, None)
        model.heads[-1](state)
        if r > 0:
            samples.append(time.perf_counter() - t0)
    return 1e3 * time_stats(samples, 1.0)["median"] / (batch * num_frames)


def run_chunks(engine: EarlyExitEngine, clips: Tensor, batch: int) -> list[Any]:
    """Run ``engine`` over ``clips`` cut into batches of ``batch`` (each batch shrinks as its
    videos stop); the engine results."""
    return [engine.run(clips[i : i + batch]) for i in range(0, clips.shape[0], batch)]


def synthetic_thresholds(
    model: MultiExitNet, scheme: Scheme, clips: Tensor, costs: Tensor, p: float
) -> list[float]:
    """MSDNet budgeted thresholds (parameter ``p``) from the clips' own confidences."""
    with torch.inference_mode():
        frame_logits = model(clips).stacked_logits().float()
    labels = torch.zeros(clips.shape[0], dtype=torch.long)  # top-1 is irrelevant here
    return list(budgeted_thresholds(scheme.point_logits(frame_logits), labels, costs, p).thresholds)


def measure_batch(
    model: MultiExitNet,
    scheme: Scheme,
    engines: tuple[EarlyExitEngine, EarlyExitEngine],
    clips: tuple[Tensor, Tensor],
    stop: Tensor,
    batch: int,
    size: int,
    repeats: int,
    flops_factor: float,
) -> dict[str, Any]:
    """Timings, speedups and the latency-table prediction at one batch size."""
    dyn, full = engines
    dyn_clips, full_clips = clips
    frames = dyn_clips.shape[1]
    lat_repeats = max(3, repeats)
    lat = measure_latency(model, frames, size, batch=batch, repeats=lat_repeats)
    lat_full = full_latency(model, frames, size, batch, lat_repeats)
    point_ms = scheme.point_costs(lat, frames)  # (P,) ms per video
    predicted = frames * lat_full / float(point_ms[stop].mean())
    per_group = frames // scheme.groups
    if scheme.groups > 1:  # per-frame ms when the network is called on one group at a time
        lat_g = measure_latency(model, per_group, size, batch=batch, repeats=lat_repeats)
        predicted_g = frames * lat_full / float(scheme.point_costs(lat_g, frames)[stop].mean())
    else:
        lat_g, predicted_g = lat, predicted
    times = interleaved(
        {
            "full": lambda: full.run(full_clips, batch=batch),
            "dynamic": lambda: dyn.run(dyn_clips, batch=batch),
            "chunks": lambda: run_chunks(dyn, dyn_clips, batch),
        },
        repeats,
    )
    speedup = ratio_stats(times["full"], times["dynamic"])
    n = dyn_clips.shape[0]
    return {
        "batch": batch,
        "full_ms": time_stats(times["full"]),
        "dynamic_ms": time_stats(times["dynamic"]),
        "chunks_ms": time_stats(times["chunks"]),
        "full_clips_per_s": n / time_stats(times["full"], 1.0)["median"],
        "dynamic_clips_per_s": n / time_stats(times["dynamic"], 1.0)["median"],
        "wall_speedup": speedup,
        "chunks_wall_speedup": ratio_stats(times["full"], times["chunks"]),
        "latency_table_ms_per_frame": [round(v, 5) for v in lat],
        "full_latency_ms_per_frame": round(lat_full, 5),
        "predicted_speedup": predicted,
        "group_latency_table_ms_per_frame": [round(v, 5) for v in lat_g],
        "predicted_speedup_group_calls": predicted_g,
        "speedup_over_flops_factor": speedup["median"] / flops_factor,
        "speedup_over_predicted": speedup["median"] / predicted,
        "speedup_over_predicted_group_calls": speedup["median"] / predicted_g,
        "meets_flops_target": (speedup["median"] / flops_factor >= TARGET_VS_FLOPS)
        if batch >= FLOPS_TARGET_MIN_BATCH else None,
        "meets_latency_target": speedup["median"] / predicted_g >= TARGET_VS_LATENCY,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure, print the table, return (and optionally write) the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--scheme", default="unified", choices=["depth", "input", "unified"])
    p.add_argument("--order", default="strided", choices=["sequential", "strided", "random"])
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--clips", type=int, default=128, help="test clips held in memory")
    p.add_argument("--batch-sizes", default="1,8,32,64")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threshold", type=float, default=None, help="shared threshold")
    p.add_argument("--synthetic", action="store_true", help="random clips, no data needed")
    p.add_argument("--p", type=float, default=0.85,
                   help="MSDNet budget parameter for --synthetic thresholds")
    p.add_argument("--data", default=None, help="dataset root (default: the checkpoint's)")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    ckpt = require_checkpoint(a.checkpoint)
    try:
        batch_sizes = [int(b) for b in a.batch_sizes.split(",")]
    except ValueError:
        raise BenchmarkError(f"--batch-sizes must be integers, got {a.batch_sizes!r}") from None
    if a.quick:
        a.clips, a.repeats = 8, 2
        batch_sizes = [1, 8]

    model, cfg, _ = load_checkpoint(ckpt)
    scheme = make_scheme(a.scheme, a.groups, a.order, cfg.seed)
    full_scheme = make_scheme("full")
    perm, full_perm = order_for(scheme, cfg), order_for(full_scheme, cfg)
    table = cost_table(model, cfg.input_size)
    exit_cost = list(table.gflops_per_frame)
    costs = scheme.point_costs(exit_cost, cfg.frames)
    t0 = time.perf_counter()
    if a.synthetic:
        torch.manual_seed(0)
        raw = torch.randn(a.clips, cfg.frames, 3, cfg.input_size, cfg.input_size)
        source = "synthetic (random clips)"
    else:
        raw, _ = decoded_clips(open_split(cfg, "test", a.data), a.clips)
        source = f"test split, {raw.shape[0]} clips evenly spaced"
    decode_s = time.perf_counter() - t0
    if a.threshold is not None:
        thresholds = [a.threshold] * len(costs)
        rule = f"shared threshold {a.threshold:g}"
    elif a.synthetic:
        thresholds = synthetic_thresholds(model, scheme, raw[:, perm], costs, a.p)
        rule = f"MSDNet budgeted p={a.p:g} on the timing clips (synthetic)"
    else:
        rep = evaluate(ckpt, "test", a.scheme, a.order, a.groups, data=a.data,
                       engine=False).to_report()
        thresholds, rule = rep["thresholds"], rep["threshold_rule"] + " (evaluate(), val)"

    paid = exit_costs(table, scheme, thresholds)  # heads that can fire
    dyn = EarlyExitEngine(model, scheme, thresholds, paid, cfg.frames)
    full = EarlyExitEngine(model, full_scheme, [0.0], exit_cost, cfg.frames)
    dyn_clips, full_clips = raw[:, perm].contiguous(), raw[:, full_perm].contiguous()
    res = dyn.run(dyn_clips)
    stop = res.stop
    mean_gflops = res.mean_cost
    full_gf = full_cost(table, cfg.frames)
    flops_factor = full_gf / mean_gflops
    rows = [
        measure_batch(model, scheme, (dyn, full), (dyn_clips, full_clips), stop, b,
                      cfg.input_size, a.repeats, flops_factor)
        for b in batch_sizes
    ]
    points = scheme.points(model.num_exits)
    hist = torch.bincount(stop, minlength=len(points)).tolist()

    print(f"{ckpt.name}: {a.scheme} scheme, {source}; thresholds: {rule}; {threads} thread(s); "
          f"clips decoded before timing ({decode_s:.1f} s, not timed)")
    print(f"FLOPs: {mean_gflops:.4f} vs full {full_gf:.4f} GFLOPs/video -> reduction factor "
          f"x{flops_factor:.2f}; stops: "
          + ", ".join(f"{pt.name} {c}" for pt, c in zip(points, hist) if c))
    print_table(
        ["batch", "full ms", "dynamic ms", "clips/s full", "clips/s dyn", "wall x [IQR]",
         "chunks x", "FLOPs x", "clip-table x", "group-table x", "wall/FLOPs", "wall/clip-t",
         "wall/group-t"],
        [[r["batch"], f"{r['full_ms']['median']:.1f}", f"{r['dynamic_ms']['median']:.1f}",
          f"{r['full_clips_per_s']:.1f}", f"{r['dynamic_clips_per_s']:.1f}",
          fmt_spread(r["wall_speedup"]), f"{r['chunks_wall_speedup']['median']:.2f}",
          f"{flops_factor:.2f}",
          f"{r['predicted_speedup']:.2f}", f"{r['predicted_speedup_group_calls']:.2f}",
          f"{r['speedup_over_flops_factor']:.2f}", f"{r['speedup_over_predicted']:.2f}",
          f"{r['speedup_over_predicted_group_calls']:.2f}"] for r in rows],
    )
    print(f"targets: wall/FLOPs >= {TARGET_VS_FLOPS} at batch >= {FLOPS_TARGET_MIN_BATCH}; "
          f"wall/group-table >= {TARGET_VS_LATENCY}")
    for r in rows:
        flops_ok = r["meets_flops_target"]
        print(f"  batch {r['batch']}: FLOPs target "
              f"{'n/a' if flops_ok is None else ('met' if flops_ok else 'MISSED')}, latency "
              f"target {'met' if r['meets_latency_target'] else 'MISSED'}")
    report = {
        "benchmark": "early_exit_speed",
        "quick": a.quick,
        "env": environment(),
        "checkpoint": ckpt.name,
        "scheme": a.scheme,
        "order": a.order,
        "groups": scheme.groups,
        "clips": source,
        "n_clips": int(raw.shape[0]),
        "thresholds": [round(float(t), 6) for t in thresholds],
        "threshold_rule": rule,
        "stop_histogram": {pt.name: c for pt, c in zip(points, hist)},
        "gflops_per_video": mean_gflops,
        "full_gflops_per_video": full_gf,
        "flops_reduction_factor": flops_factor,
        "targets": {"vs_flops": TARGET_VS_FLOPS, "vs_flops_min_batch": FLOPS_TARGET_MIN_BATCH,
                    "vs_latency": TARGET_VS_LATENCY},
        "rows": rows,
    }
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
