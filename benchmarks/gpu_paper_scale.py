"""Paper-scale throughput on a CUDA GPU: full vs dynamic inference, shift overhead, stage shares.

Random weights and synthetic clips (timing does not depend on them): TSM-ResNet-50 and MSDNet-38
at 16 x 224 x 224 by default, AMP bf16, optional ``channels_last`` and ``torch.compile``. Per
model, timed side by side (rounds interleaved, median of per-round ratios with the quartiles):

* ``full``: full inference through the early-exit engine's ``full`` scheme (every frame, every
  stage, the last head);
* ``dynamic``: the engine with the depth scheme and a *forced* stop distribution (``--fractions``,
  default 40/30/30 for the ResNets' three exits, MSDNet's geometric law ``p = 0.75`` for five):
  the real stopping rule is evaluated at every decision point but its answer is replaced by
  each video's assigned exit (the engine's ``stop_at``), since random weights have no
  meaningful confidence. Its wall-clock speedup is compared with the FLOPs reduction factor of
  the same stop distribution (target on a GPU: >= 0.85 x);
* ``noshift``: the same net with the shift off (TSN), full inference: the shift's overhead is
  ``full / noshift - 1`` in the same compile mode (target <= 5 %);
* per-stage shares of wall time (stem + stage k + head k, synchronised) next to the FLOPs shares.

All three are served through the engine's serving mode
(:meth:`~dynamic_inference.engine.EarlyExitEngine.serve`): a stream of ``--clips`` clips (default
4 x ``--batch``) with ``--frames-per-call`` frames per call (default ``--batch`` x ``--frames``,
the same memory for every variant), videos waiting at each exit until a full call has gathered.

Without CUDA it prints ``CUDA not available: skipped`` and exits 0 (the report says so).
``--device cpu`` runs the same code on the CPU (for tests of the script; not a paper-scale
number).

    python benchmarks/gpu_paper_scale.py [--models tsm_resnet50,msdnet38] [--batch 8]
        [--clips 32] [--frames-per-call 128] [--frames 16] [--size 224] [--dtype bf16|fp32]
        [--channels-last] [--fold]
        [--compile none|default|max-autotune] [--fractions 0.4,0.3,0.3] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from bench_common import (
    BenchmarkError,
    add_common_args,
    as_overhead_pct,
    environment,
    fmt_spread,
    forced_targets,
    interleaved,
    print_table,
    ratio_stats,
    run_cli,
    set_threads,
    sync,
    time_stats,
    write_json,
)
from torch import nn

from dynamic_inference.backbones import build_model
from dynamic_inference.calibrate import exit_fractions
from dynamic_inference.engine import EarlyExitEngine
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.flops import cost_table
from dynamic_inference.fold import fold_batchnorm
from dynamic_inference.schemes import make_scheme

SKIP_MESSAGE = "CUDA not available: skipped"
TARGET_SPEEDUP_VS_FLOPS = 0.85
TARGET_SHIFT_OVERHEAD_PCT = 5.0


def default_fractions(num_points: int) -> list[float]:
    """40/30/30 for three decision points, MSDNet's geometric law (p = 0.75) otherwise."""
    if num_points == 3:
        return [0.4, 0.3, 0.3]
    return [float(f) for f in exit_fractions(0.75, num_points)]


def compile_parts(model: MultiExitNet, mode: str) -> None:
    """Replace stem, stages and head feature extractors by ``torch.compile``d modules.

    The engine calls them one by one, with batch sizes that shrink as videos leave, so they are
    compiled separately with dynamic shapes.
    """
    if mode == "none":
        return
    kw: dict[str, Any] = {"dynamic": True}
    if mode != "default":
        kw["mode"] = mode
    model.stem_layers = torch.compile(model.stem_layers, **kw)
    for k in range(model.num_exits):
        model.stages[k] = torch.compile(model.stages[k], **kw)
        model.heads[k].features = torch.compile(model.heads[k].features, **kw)


def prepare(
    model: MultiExitNet, device: str, channels_last: bool, compile_mode: str, fold: bool = False
) -> nn.Module:
    """Eval mode on ``device``, optional BatchNorm folding, channels_last and compilation."""
    model = model.eval().to(device)
    if fold:  # on a GPU only the folding (one op less per conv); prepacking is for CPUs
        model = fold_batchnorm(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    compile_parts(model, compile_mode)
    return model


@contextlib.contextmanager
def precision(device: str, dtype: str) -> Iterator[None]:
    """``torch.autocast`` to bf16 (``dtype="bf16"``), or nothing for fp32."""
    if dtype == "fp32":
        yield
        return
    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
        yield


@torch.inference_mode()
def stage_times(
    model: MultiExitNet, clips: torch.Tensor, repeats: int, device: str
) -> list[dict[str, float]]:
    """Milliseconds of each segment (stem + stage k + head k), synchronised, median of repeats."""
    n, t = clips.shape[:2]
    x = clips.reshape(n * t, *clips.shape[2:])
    samples: list[list[float]] = [[] for _ in range(model.num_exits)]
    import time

    for r in range(repeats + 1):
        sync(device)
        t0 = time.perf_counter()
        state = model.stem(x)
        for k in range(model.num_exits):
            state = model.stage(k, state, t, None)
            model.heads[k](state)
            sync(device)
            t1 = time.perf_counter()
            if r > 0:  # the first round warms up
                samples[k].append(t1 - t0)
            t0 = t1
    return [time_stats(s) for s in samples]


def measure_model(name: str, a: argparse.Namespace) -> dict[str, Any]:
    """Full vs forced-dynamic vs no-shift timings and stage shares of one backbone."""
    torch.manual_seed(0)
    classes = 16 if name == "tiny" else 400
    model = build_model(name, classes)
    table = cost_table(model, a.size, name)
    noshift = build_model(name.replace("tsm_", "tsn_"), classes, shift="off")
    noshift.load_state_dict(model.state_dict())  # the shift has no weights: the same net
    model = prepare(model, a.device, a.channels_last, a.compile, a.fold)
    noshift = prepare(noshift, a.device, a.channels_last, a.compile, a.fold)

    depth = make_scheme("depth")
    n_points = len(depth.points(model.num_exits))
    fractions = a.fractions or default_fractions(n_points)
    if len(fractions) != n_points:
        raise BenchmarkError(
            f"--fractions has {len(fractions)} values but {name}'s depth scheme has {n_points} "
            "decision points"
        )
    n_clips = a.clips or 4 * a.batch
    budget = a.frames_per_call or a.batch * a.frames
    targets = forced_targets(fractions, n_clips, seed=0)
    exit_cost = list(table.gflops_per_frame)
    dyn = EarlyExitEngine(model, depth, [0.0] * n_points, exit_cost, a.frames)  # stop_at rules
    full = EarlyExitEngine(model, make_scheme("full"), [0.0], exit_cost, a.frames)
    full_ns = EarlyExitEngine(noshift, make_scheme("full"), [0.0], exit_cost, a.frames)
    clips = torch.randn(n_clips, a.frames, 3, a.size, a.size, device=a.device)

    def timed(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with precision(a.device, a.dtype):
                return fn()
        return run

    variants = {
        "full": timed(lambda: full.serve(iter(clips), budget)),
        "dynamic": timed(lambda: dyn.serve(iter(clips), budget, stop_at=targets)),
        "noshift": timed(lambda: full_ns.serve(iter(clips), budget)),
    }
    times = interleaved(variants, a.repeats, warmup=a.warmup, device=a.device)
    with precision(a.device, a.dtype):
        check = dyn.serve(iter(clips), budget, stop_at=targets)
        segs = stage_times(model, clips[: a.batch], a.repeats, a.device)
    if not torch.equal(check.stop, targets):
        raise BenchmarkError("the forced-stop engine did not stop where it was told (bug)")
    full_gflops = a.frames * table.full_gflops_per_frame
    dyn_gflops = float(depth.point_costs(exit_cost, a.frames)[targets].mean())
    flops_factor = full_gflops / dyn_gflops
    speedup = ratio_stats(times["full"], times["dynamic"])
    overhead = ratio_stats(times["full"], times["noshift"])
    seg_flops = [s + h for s, h in zip(table.stage_gflops, table.head_gflops)]
    seg_ms = [s["median"] for s in segs]
    return {
        "model": name,
        "classes": classes,
        "fractions": [round(f, 4) for f in fractions],
        "exit_names": list(table.exit_names),
        "full_gflops_per_video": round(full_gflops, 3),
        "dynamic_gflops_per_video": round(dyn_gflops, 3),
        "flops_reduction_factor": round(flops_factor, 3),
        "ms": {k: time_stats(v) for k, v in times.items()},
        "clips_per_s": {k: n_clips / (time_stats(v, 1.0)["median"]) for k, v in times.items()},
        "n_clips": n_clips,
        "frames_per_call": budget,
        "calls": len(check.calls),
        "full_calls": sum(f == budget for _, f in check.calls),
        "wall_speedup": speedup,
        "speedup_over_flops_factor": speedup["median"] / flops_factor,
        "meets_speedup_target": speedup["median"] / flops_factor >= TARGET_SPEEDUP_VS_FLOPS,
        "shift_overhead_pct": as_overhead_pct(overhead),
        "meets_shift_target": 100 * (overhead["median"] - 1) <= TARGET_SHIFT_OVERHEAD_PCT,
        "stages": [
            {"exit": e, "ms": s, "time_share": ms / sum(seg_ms), "flops_share": f / sum(seg_flops)}
            for e, s, ms, f in zip(table.exit_names, segs, seg_ms, seg_flops)
        ],
    }


def parse_fractions(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise BenchmarkError(f"--fractions must be comma-separated numbers, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure every model (or skip without CUDA), print the tables, return the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--models", default="tsm_resnet50,msdnet38")
    p.add_argument("--batch", type=int, default=8,
                   help="clips' worth of frames per call (default 8: 8 x 16 frames)")
    p.add_argument("--clips", type=int, default=None,
                   help="clips in the served stream (default 4 x --batch)")
    p.add_argument("--frames-per-call", type=int, default=None,
                   help="serving budget (default --batch x --frames)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds (compilation)")
    p.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--fold", action="store_true", help="BatchNorm folded into the convolutions")
    p.add_argument("--compile", choices=["none", "default", "max-autotune"], default="none")
    p.add_argument("--fractions", default=None,
                   help="stop fraction per depth exit, e.g. 0.4,0.3,0.3 (default: per model)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (script tests only)")
    a = p.parse_args(argv)
    a.fractions = parse_fractions(a.fractions)
    if a.quick:
        a.repeats, a.warmup = 2, 1
    report: dict[str, Any] = {"benchmark": "gpu_paper_scale", "quick": a.quick}
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print(SKIP_MESSAGE)
        report.update(skipped=True, reason=SKIP_MESSAGE, env=environment())
        write_json(report, a.json_out)
        return report
    set_threads(a.threads)
    args = {k: v for k, v in vars(a).items() if k != "json_out"}
    rows = [measure_model(m.strip(), a) for m in a.models.split(",") if m.strip()]
    print(f"{a.device} ({environment()['cuda'] or 'cpu'}), serving {rows[0]['n_clips']} clips "
          f"x {a.frames} x {a.size}^2 at {rows[0]['frames_per_call']} frames per call, {a.dtype}, "
          f"channels_last={a.channels_last}, fold={a.fold}, compile={a.compile}; "
          "random weights, forced stop fractions; median [quartiles] of per-round ratios")
    print_table(
        ["model", "fractions", "full ms", "dynamic ms", "clips/s full", "clips/s dyn",
         "wall x", "FLOPs x", "wall/FLOPs", "shift overhead %"],
        [[r["model"], "/".join(f"{100 * f:.0f}" for f in r["fractions"]),
          f"{r['ms']['full']['median']:.1f}", f"{r['ms']['dynamic']['median']:.1f}",
          f"{r['clips_per_s']['full']:.1f}", f"{r['clips_per_s']['dynamic']:.1f}",
          fmt_spread(r["wall_speedup"]), f"{r['flops_reduction_factor']:.2f}",
          f"{r['speedup_over_flops_factor']:.2f}", fmt_spread(r["shift_overhead_pct"], 1)]
         for r in rows],
    )
    print(f"targets: wall speedup >= {TARGET_SPEEDUP_VS_FLOPS} x FLOPs factor; "
          f"shift overhead <= {TARGET_SHIFT_OVERHEAD_PCT:g} %")
    for r in rows:
        print(f"{r['model']} per-segment shares (stem + stage k + head k):")
        print_table(["exit", "ms", "time share", "FLOPs share"],
                    [[s["exit"], f"{s['ms']['median']:.2f}", f"{100 * s['time_share']:.1f}%",
                      f"{100 * s['flops_share']:.1f}%"] for s in r["stages"]])
    report.update(skipped=False, env=environment(), args=args, rows=rows,
                  targets={"speedup_over_flops": TARGET_SPEEDUP_VS_FLOPS,
                           "shift_overhead_pct": TARGET_SHIFT_OVERHEAD_PCT})
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
