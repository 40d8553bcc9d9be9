"""Dynamic schemes vs static baselines of equal FLOPs on the mini test split (issue 9).

For each scheme of the paper (full inference, (a) depth axis, (b) input axis with the sequential
order, (c) input axis with the strided order, (d) unified) this script runs
:func:`dynamic_inference.evaluate.evaluate` at its default operating point (thresholds chosen on
the validation split only: the cheapest setting within 0.5 pt of full inference on val) and
reports test top-1, GFLOPs per video, the reduction against full inference and the clips per
second of the real early-exit engine (decoding not timed, ``--threads`` threads).

Static baselines (:func:`dynamic_inference.calibrate.static_baselines`, from the same test
logits): a fixed earlier exit on all frames, or the last exit on fewer frames (prefixes of the
strided order, i.e. uniformly spread frames). Each dynamic row is compared with the best static
baseline that costs no more than it ("static @ <= cost"), the target being that
dynamic beats every static setting of equal FLOPs.

The figure (``--plot``, PNG) draws, per scheme, the test accuracy-vs-GFLOPs Pareto front of
threshold settings (:func:`dynamic_inference.evaluate.curves`), the static points, the chosen
operating points and the unified scheme's oracle bound.

    python benchmarks/dynamic_vs_static.py [--checkpoint checkpoints/tiny_online.pt]
        [--data DIR] [--split test] [--no-engine] [--plot OUT.png] [--threads 1] [--quick]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_common import (
    DEFAULT_CHECKPOINT,
    BenchmarkError,
    add_common_args,
    environment,
    print_table,
    require_checkpoint,
    run_cli,
    set_threads,
    write_json,
)

from dynamic_inference.calibrate import OperatingPoint, accuracy_at_cost
from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.evaluate import curves, evaluate
from dynamic_inference.flops import cost_table
from dynamic_inference.logits import LogitCache, order_for, split_logits
from dynamic_inference.schemes import make_scheme

# (row label, scheme, frame order): the paper's Approaches (a)-(d) and full inference
SCHEMES: tuple[tuple[str, str, str], ...] = (
    ("full", "full", "strided"),
    ("depth", "depth", "strided"),
    ("input sequential", "input", "sequential"),
    ("input strided", "input", "strided"),
    ("unified", "unified", "strided"),
)
QUICK_SCHEMES = (SCHEMES[0], SCHEMES[1], SCHEMES[4])


def _op(op: OperatingPoint) -> dict[str, Any]:
    return {"name": op.name, "gflops_per_video": op.mean_cost, "top1": op.top1}


def best_static_at(static: Sequence[OperatingPoint], cost: float) -> OperatingPoint | None:
    """The most accurate static setting costing at most ``cost`` (None if none is that cheap)."""
    top1 = accuracy_at_cost(static, cost)
    if top1 is None:
        return None
    feasible = [s for s in static if s.mean_cost <= cost * (1 + 1e-9) and s.top1 == top1]
    return min(feasible, key=lambda s: s.mean_cost)


def plot(rows: list[dict[str, Any]], static: list[dict[str, Any]], oracle: dict[str, Any],
         out: Path, title: str) -> None:
    """Accuracy vs GFLOPs: a Pareto curve per scheme, static points, operating points, oracle."""
    import matplotlib

    matplotlib.use("Agg")
    from dynamic_inference.plots import accuracy_vs_cost

    curves_ = {r["label"]: ([p["gflops_per_video"] for p in r["curve"]],
                            [p["top1"] for p in r["curve"]]) for r in rows if len(r["curve"]) > 1}
    points = {s["name"]: (s["gflops_per_video"], s["top1"]) for s in static}
    ax = accuracy_vs_cost(curves_, points, oracle=(oracle["gflops_per_video"], oracle["top1"]),
                          title=title)
    for r in rows:
        ax.plot([r["gflops_per_video"]], [r["top1"]], "k.", ms=8)
        ax.annotate(r["label"], (r["gflops_per_video"], r["top1"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    ax.figure.set_size_inches(7.5, 5.0)
    ax.figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(out, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Evaluate every scheme, print the table, draw the figure, return the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--data", default=None, help="dataset root (default: the checkpoint's)")
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-engine", action="store_true",
                   help="simulation only: no real early exit, no clips/s")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="figure path (default: next to --json, else no figure)")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    ckpt = require_checkpoint(a.checkpoint)
    model, cfg, _ = load_checkpoint(ckpt)
    table = cost_table(model, cfg.input_size)
    key = str(ckpt.resolve())
    cache = LogitCache()  # every scheme and order reuses the decoded clips
    rows: list[dict[str, Any]] = []
    static_ops: list[OperatingPoint] = []
    oracle: dict[str, Any] = {}
    t_start = time.perf_counter()
    for label, name, order in QUICK_SCHEMES if a.quick else SCHEMES:
        t0 = time.perf_counter()
        try:
            rep = evaluate(ckpt, a.split, name, order, a.groups, data=a.data,
                           batch_size=a.batch_size, engine=not a.no_engine,
                           cache=cache).to_report()
        except ImportError as e:
            raise BenchmarkError(f"the dataset loader is not available yet ({e})") from None
        sch = make_scheme(name, a.groups, order, cfg.seed)
        test = split_logits(model, cfg, a.split, order_for(sch, cfg), a.data, a.batch_size,
                            cache=cache, name=key)
        val = split_logits(model, cfg, "val", order_for(sch, cfg), a.data, a.batch_size,
                           cache=cache, name=key)
        c = curves(sch, test, table, cfg.frames, val)  # thresholds from val
        if name == "unified":  # static baselines from the strided order: spread frame prefixes
            static_ops, oracle = c["static"], _op(c["oracle"])
        rows.append({
            "label": label, "scheme": name, "order": order,
            "top1": rep["top1"], "gflops_per_video": rep["gflops_per_video"],
            "full_gflops_per_video": rep["full_gflops_per_video"],
            "reduction_pct": rep["reduction_pct"], "full_top1": rep["full_top1"],
            "val_top1": rep["val_top1"], "thresholds": rep["thresholds"],
            "threshold_rule": rep["threshold_rule"], "stop_histogram": rep["stop_histogram"],
            "clips_per_s": rep.get("clips_per_s"), "full_clips_per_s": rep.get("full_clips_per_s"),
            "wall_clock_speedup": rep.get("wall_clock_speedup"),
            "engine_matches_simulation": rep.get("engine_matches_simulation"),
            "n_videos": rep["n_videos"], "oracle": rep["oracle"],
            "curve": [_op(op) for op in c["curve"]],
            "seconds": round(time.perf_counter() - t0, 1),
        })
    if not static_ops:  # quick runs without the unified scheme still get baselines
        sch = make_scheme("unified", a.groups, "strided", cfg.seed)
        test = split_logits(model, cfg, a.split, order_for(sch, cfg), a.data, a.batch_size,
                            cache=cache, name=key)
        c = curves(sch, test, table, cfg.frames)
        static_ops, oracle = c["static"], _op(c["oracle"])
    for r in rows:
        best = best_static_at(static_ops, r["gflops_per_video"])
        r["best_static_at_cost"] = _op(best) if best else None
        r["beats_static"] = None if best is None else r["top1"] > best.top1

    print(f"{ckpt.name} on {a.split} ({rows[0]['n_videos']} videos), thresholds from val; "
          f"engine clips/s with {threads} thread(s), decoding not timed")
    print_table(
        ["scheme", "top-1 %", "GFLOPs/video", "reduction %", "clips/s", "x wall",
         "static @ <= cost", "static top-1", "beats static"],
        [[r["label"], f"{r['top1']:.2f}", f"{r['gflops_per_video']:.4f}",
          f"{r['reduction_pct']:.1f}",
          None if r["clips_per_s"] is None else f"{r['clips_per_s']:.1f}",
          None if r["wall_clock_speedup"] is None else f"{r['wall_clock_speedup']:.2f}",
          r["best_static_at_cost"]["name"] if r["best_static_at_cost"] else None,
          f"{r['best_static_at_cost']['top1']:.2f}" if r["best_static_at_cost"] else None,
          r["beats_static"]] for r in rows],
    )
    print("static baselines: " + ", ".join(
        f"{s.name} {s.top1:.1f}% @ {s.mean_cost:.4f}" for s in static_ops))
    if oracle:
        print(f"oracle (unified): {oracle['top1']:.2f}% @ {oracle['gflops_per_video']:.4f} GFLOPs")
    report = {
        "benchmark": "dynamic_vs_static", "quick": a.quick, "env": environment(),
        "checkpoint": ckpt.name, "split": a.split, "groups": a.groups,
        "rows": rows, "static": [_op(s) for s in static_ops], "oracle": oracle,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    png = Path(a.plot) if a.plot else (
        Path(a.json_out).with_suffix(".png") if a.json_out else None)
    if png is not None:
        plot(rows, report["static"], oracle, png,
             f"{ckpt.name}, {a.split}: accuracy vs GFLOPs per video")
        report["plot"] = str(png)
        print(f"wrote {png}")
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
