"""The demo (``make demo``): the shipped model on the shipped test clips, unified scheme.

Prints what the unified scheme (paper Approach (d)) decided for a few test videos -- the exit and
group each one stopped at, and what it cost next to full inference -- then the split's top-1,
FLOPs and wall-clock figures, and writes an accuracy-vs-FLOPs figure and the JSON report.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dynamic_inference.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from dynamic_inference.checks import atomic_write, atomic_write_text, check_int, check_output_dir
from dynamic_inference.errors import ConfigError
from dynamic_inference.evaluate import curves, evaluate
from dynamic_inference.flops import cost_table
from dynamic_inference.logits import LogitCache, order_for, split_logits


def cli_demo(args: argparse.Namespace) -> int:
    """``python -m dynamic_inference demo [--limit N] [--out DIR]``."""
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
    cache = LogitCache()
    ev = evaluate(DEFAULT_CHECKPOINT, "test", "unified", cache=cache)
    report, sim, test, sch = ev.to_report(), ev.sim, ev.test, ev.scheme
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
              f"{test.classes[int(sim.pred[i])]:<{wc}}{sim.point_names[int(sim.stop[i])]:<12}"
              f"{float(sim.cost[i]):>8.3f}{100 * float(sim.cost[i]) / full:>8.0f}%")
    print(
        f"\nunified scheme on {report['n_videos']} test videos: top-1 {report['top1']:.2f}% "
        f"(full inference {report['full_top1']:.2f}%), {report['gflops_per_video']:.3f} vs "
        f"{full:.3f} GFLOPs/video ({report['reduction_pct']:.1f}% less), "
        f"{report['clips_per_s']:.0f} clips/s vs {report['full_clips_per_s']:.0f} full "
        f"(x{report['wall_clock_speedup']:.2f} wall clock, x{report['flops_speedup']:.2f} FLOPs)"
    )
    model, cfg, _ = load_checkpoint(DEFAULT_CHECKPOINT)
    val = split_logits(model, cfg, "val", order_for(sch, cfg), cache=cache,
                       name=str(DEFAULT_CHECKPOINT.resolve()))
    c = curves(sch, test, cost_table(model, cfg.input_size), cfg.frames, val)
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
