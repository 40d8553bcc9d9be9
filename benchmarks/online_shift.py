"""Per-frame latency of streaming online-shift inference (issue 9).

A streaming model sees one new frame at a time. With the online (causal) shift it keeps the
shifted channels of the last frame in a :class:`~dynamic_inference.shift.ShiftCache` and computes
each frame exactly once. Three ways to answer after every new frame, timed side by side (rounds
interleaved, median of per-round ratios with the quartiles):

* ``stream``: the online-shift net, one frame at a time through a ``ShiftCache``, a running sum of
  the last head's pooled features (what ``python -m dynamic_inference stream`` does);
* ``stream_noshift``: the same loop and weights with the shift off (TSN): the shift's overhead is
  ``stream / stream_noshift - 1`` (target <= 5 %);
* ``rerun_prefix``: without a cache, the net is re-run on the whole prefix ``0..t`` for each new
  frame ``t`` (what a model whose past features change, e.g. the bidirectional shift, must do):
  ``rerun_prefix / stream`` is what online shift saves per new frame (target >= 5x), averaged
  over a clip whose prefix grows from 1 to T frames;
* ``rerun_window``: the steady state of the same thing: once T frames have arrived, each new
  frame costs a re-run on a window of T frames, ``rerun_window / stream`` per new frame.

Also timed: the whole clip at once (``batch`` clips, all exits), online shift vs shift off, the
overhead a training or offline-evaluation pass pays. Streaming output is checked against the
whole-clip output (max abs diff <= 1e-5). Random weights (timing does not depend on
them): the tiny net at 64x64 and, unless ``--quick`` or ``--no-r50``, TSM-ResNet-50 at a small
size.

    python benchmarks/online_shift.py [--frames 16] [--repeats 20] [--threads 1] [--quick]
        [--no-r50] [--json OUT]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import torch
from bench_common import (
    add_common_args,
    as_overhead_pct,
    environment,
    fmt_spread,
    interleaved,
    print_table,
    ratio_stats,
    run_cli,
    set_threads,
    time_stats,
    write_json,
)
from torch import Tensor

from dynamic_inference.backbones import build_model
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.fold import fold_batchnorm
from dynamic_inference.shift import ShiftCache

TARGET_OVERHEAD_PCT = 5.0
TARGET_STREAM_SPEEDUP = 5.0


@torch.inference_mode()
def stream(model: MultiExitNet, clip: Tensor) -> Tensor:
    """Feed ``clip`` ``(T, 3, H, W)`` one frame at a time; returns ``(T, C)`` running logits.

    Row t is the last exit's video logits after frames ``0..t`` (mean of pooled features).
    """
    cache = ShiftCache()
    head = model.heads[-1]
    feat_sum: Tensor | None = None
    out = []
    for t in range(clip.shape[0]):
        state = model.stem(clip[t : t + 1])  # (1, C, H, W): one new frame
        for k in range(model.num_exits):
            state = model.stage(k, state, 1, cache)
        f = head.features(state)[0]  # (D,)
        feat_sum = f if feat_sum is None else feat_sum + f
        out.append(head.classifier(feat_sum / (t + 1)))
    return torch.stack(out)


@torch.inference_mode()
def rerun_prefix(model: MultiExitNet, clip: Tensor) -> Tensor:
    """For every new frame t, run the net on frames ``0..t`` from scratch; ``(T, C)`` logits."""
    out = []
    for t in range(clip.shape[0]):
        state = model.stem(clip[: t + 1])  # (t+1, C, H, W)
        for k in range(model.num_exits):
            state = model.stage(k, state, t + 1, None)
        out.append(model.heads[-1].classifier(model.heads[-1].features(state).mean(0)))
    return torch.stack(out)


@torch.inference_mode()
def rerun_window(model: MultiExitNet, clip: Tensor) -> Tensor:
    """One new frame in the steady state without a cache: the net on the last T frames, ``(C,)``."""
    state = model.stem(clip)  # (T, C, H, W)
    for k in range(model.num_exits):
        state = model.stage(k, state, clip.shape[0], None)
    return model.heads[-1].classifier(model.heads[-1].features(state).mean(0))


@torch.inference_mode()
def whole_clips(model: MultiExitNet, clips: Tensor) -> Tensor:
    """Every exit on whole clips ``(N, T, 3, H, W)`` at once; the last exit's video logits."""
    return model(clips).video_logits()


def measure_model(
    name: str, size: int, frames: int, batch: int, repeats: int, classes: int = 16,
    fold: bool = False,
) -> dict[str, Any]:
    """Time the streaming, no-shift and prefix-rerun variants of one backbone (``fold``: both
    nets as :func:`~dynamic_inference.fold.fold_batchnorm` copies)."""
    torch.manual_seed(0)
    online = build_model(name, classes, shift="online").eval()
    noshift = build_model(name.replace("tsm_", "tsn_"), classes, shift="off").eval()
    noshift.load_state_dict(online.state_dict())  # the shift has no weights: same net
    if fold:
        online, noshift = fold_batchnorm(online), fold_batchnorm(noshift)
    clip = torch.randn(frames, 3, size, size)
    clips = torch.randn(batch, frames, 3, size, size)

    streamed = stream(online, clip)
    with torch.inference_mode():
        whole = online(clip[None]).logits[-1][0].cumsum(0) / torch.arange(1, frames + 1)[:, None]
    max_diff = float((streamed - whole).abs().max())
    prefix_diff = float((rerun_prefix(online, clip) - streamed).abs().max())

    per_frame = interleaved(
        {
            "stream": lambda: stream(online, clip),
            "stream_noshift": lambda: stream(noshift, clip),
            "rerun_prefix": lambda: rerun_prefix(online, clip),
            "rerun_window": lambda: [rerun_window(online, clip) for _ in range(frames)],
        },
        repeats,
    )
    batched = interleaved(
        {
            "online": lambda: whole_clips(online, clips),
            "noshift": lambda: whole_clips(noshift, clips),
        },
        2 * repeats,
    )
    overhead = ratio_stats(per_frame["stream"], per_frame["stream_noshift"])
    saving = ratio_stats(per_frame["rerun_prefix"], per_frame["stream"])
    steady = ratio_stats(per_frame["rerun_window"], per_frame["stream"])
    batch_overhead = ratio_stats(batched["online"], batched["noshift"])
    return {
        "model": name,
        "folded": fold,
        "size": size,
        "frames": frames,
        "batch": batch,
        "repeats": repeats,
        "stream_equals_whole_clip_max_abs_diff": max_diff,
        "rerun_prefix_equals_stream_max_abs_diff": prefix_diff,
        # per new frame: the time of the whole loop over T frames divided by T
        "ms_per_new_frame": {k: time_stats([s / frames for s in v]) for k, v in per_frame.items()},
        "whole_clip_ms": {k: time_stats(v) for k, v in batched.items()},
        "stream_shift_overhead_pct": as_overhead_pct(overhead),
        "whole_clip_shift_overhead_pct": as_overhead_pct(batch_overhead),
        "stream_speedup_vs_rerun_prefix": saving,
        "stream_speedup_vs_rerun_window": steady,
        "meets_overhead_target": overhead["median"] - 1 <= TARGET_OVERHEAD_PCT / 100,
        "meets_whole_clip_overhead_target": batch_overhead["median"] - 1
        <= TARGET_OVERHEAD_PCT / 100,
        "meets_speedup_target": saving["median"] >= TARGET_STREAM_SPEEDUP,
        "meets_steady_speedup_target": steady["median"] >= TARGET_STREAM_SPEEDUP,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure, print the table, return (and optionally write) the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    p.add_argument("--batch", type=int, default=8, help="clips in the whole-clip timing")
    p.add_argument("--repeats", type=int, default=20, help="timed rounds (default 20)")
    p.add_argument("--no-r50", action="store_true", help="skip TSM-ResNet-50")
    p.add_argument("--r50-size", type=int, default=64, help="TSM-ResNet-50 input side")
    p.add_argument("--r50-frames", type=int, default=8, help="TSM-ResNet-50 frames")
    p.add_argument("--fold", action="store_true",
                   help="time the fold_batchnorm copies (BatchNorm folded, weights prepacked)")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    frames, repeats, batch = (4, 3, 2) if a.quick else (a.frames, a.repeats, a.batch)
    rows = [measure_model("tiny", 64, frames, batch, repeats, fold=a.fold)]
    if not (a.quick or a.no_r50):
        rows.append(measure_model("tsm_resnet50", a.r50_size, a.r50_frames, 2,
                                  max(3, repeats // 4), fold=a.fold))
    print(f"online shift, streaming one frame at a time; {threads} thread(s), random weights"
          f"{', folded copies' if a.fold else ''}; median [quartiles] of per-round ratios")
    print_table(
        ["model", "size", "T", "stream ms/frame", "no-shift ms/frame", "re-run prefix ms/frame",
         "re-run window ms/frame", "shift overhead %", "whole-clip overhead %",
         "x vs re-run prefix", "x vs re-run window", "max |diff|"],
        [[r["model"], r["size"], r["frames"], f"{r['ms_per_new_frame']['stream']['median']:.3f}",
          f"{r['ms_per_new_frame']['stream_noshift']['median']:.3f}",
          f"{r['ms_per_new_frame']['rerun_prefix']['median']:.3f}",
          f"{r['ms_per_new_frame']['rerun_window']['median']:.3f}",
          fmt_spread(r["stream_shift_overhead_pct"], 1),
          fmt_spread(r["whole_clip_shift_overhead_pct"], 1),
          fmt_spread(r["stream_speedup_vs_rerun_prefix"]),
          fmt_spread(r["stream_speedup_vs_rerun_window"]),
          f"{r['stream_equals_whole_clip_max_abs_diff']:.1e}"] for r in rows],
    )
    print(f"targets: shift overhead <= {TARGET_OVERHEAD_PCT:g} %, streaming >= "
          f"{TARGET_STREAM_SPEEDUP:g}x faster per new frame than re-running the prefix, "
          "streaming == whole clip (<= 1e-5)")
    for r in rows:
        print(f"  {r['model']}: overhead target "
              f"{'met' if r['meets_overhead_target'] else 'MISSED'} (stream), "
              f"{'met' if r['meets_whole_clip_overhead_target'] else 'MISSED'} (whole clip); "
              f"speedup target {'met' if r['meets_speedup_target'] else 'MISSED'} (prefix), "
              f"{'met' if r['meets_steady_speedup_target'] else 'MISSED'} (window)")
    report = {"benchmark": "online_shift", "quick": a.quick, "env": environment(),
              "targets": {"overhead_pct": TARGET_OVERHEAD_PCT,
                          "stream_speedup": TARGET_STREAM_SPEEDUP},
              "rows": rows}
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
