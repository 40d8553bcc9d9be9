"""FLOPs and parameter table of the paper's backbones next to the paper's numbers (issue 9).

Counts with :func:`dynamic_inference.flops.flops_report` and
:func:`~dynamic_inference.flops.cost_table` (multiply-adds, fvcore convention, one 224x224 frame x
the number of frames; the tiny net at 64x64). Two costs per model:

* ``full``: full inference, stem + every stage + the *last* head only (what the paper's "Full
  Inference" rows and the static TSN/TSM baselines cost);
* ``all heads``: every exit head evaluated too (what a depth-scheme video that reaches the last
  exit pays); per-exit cumulative GFLOPs/frame are in the JSON.

The paper's ResNet numbers are full inference (TSN/TSM without exit heads); its MSDNet-38 number
(52 G = 16 x 3.25 G) counts every classifier, as MSDNet reports its anytime cost, so each row says
which of our two costs the paper's number is compared with (``vs``).

The paper's dynamic averages (R101 66 G, MSDNet-38 26.5 G per video) depend on trained weights
and data; they are listed for reference, the measured dynamic costs are in
``dynamic_vs_static.py``. MSDNet-38's 62.31 M parameters are the count at 1000 classes (the
ImageNet classifier size); at 400 classes it has 60.31 M, both rows are shown.

    python benchmarks/flops_table.py [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench_common import add_common_args, environment, print_table, run_cli, set_threads, write_json

from dynamic_inference.backbones import build_model
from dynamic_inference.flops import cost_table, flops_report


@dataclass(frozen=True)
class Row:
    """One line of the table: a model configuration and the paper's numbers for it."""

    model: str
    frames: int
    exits: bool = True
    classes: int | None = None  # None: the flops command's default (400, or 16 for tiny)
    paper_params_m: float | None = None
    paper_gflops: float | None = None  # full inference per video
    paper_dynamic_gflops: float | None = None  # the paper's dynamic average per video
    paper_counts: str = "full"  # which of our costs the paper's number is: "full" or "all heads"


PAPER_ROWS: tuple[Row, ...] = (
    Row("tsn_resnet50", 8, exits=False, paper_params_m=24.3, paper_gflops=33.0),
    Row("tsn_resnet50", 16, exits=False, paper_params_m=24.3, paper_gflops=65.8),
    Row("tsm_resnet50", 8, exits=False, paper_params_m=24.3, paper_gflops=33.0),
    Row("tsm_resnet50", 16, exits=False, paper_params_m=24.3, paper_gflops=65.8),
    Row("tsm_resnet50", 8, paper_params_m=29.12),
    Row("tsm_resnet50", 16, paper_params_m=29.12),
    Row("tsm_resnet101", 16, paper_params_m=48.12, paper_dynamic_gflops=66.0),
    Row("msdnet38", 16, paper_gflops=52.0, paper_dynamic_gflops=26.5, paper_counts="all heads"),
    Row("msdnet38", 16, classes=1000, paper_params_m=62.31, paper_gflops=52.0,
        paper_counts="all heads"),
    Row("tiny", 16),
)
QUICK_ROWS: tuple[Row, ...] = (Row("tiny", 16), Row("tiny", 8))


def _delta_pct(ours: float, paper: float | None) -> float | None:
    return None if paper is None else round(100.0 * (ours / paper - 1.0), 2)


def measure_row(row: Row) -> dict[str, Any]:
    """The flops report of one row plus the full-inference cost and the deltas to the paper."""
    kw: dict[str, Any] = {} if row.exits else {"exits": False}
    t0 = time.perf_counter()
    rep = flops_report(row.model, row.frames, classes=row.classes, **kw)
    classes = row.classes if row.classes is not None else (16 if row.model == "tiny" else 400)
    table = cost_table(build_model(row.model, classes, **kw), rep["size"], row.model)
    full = row.frames * table.full_gflops_per_frame
    compared = full if row.paper_counts == "full" else rep["gflops_per_video"]
    return {
        "model": row.model,
        "exits": [e["name"] for e in rep["exits"]] if row.exits else ["final only"],
        "classes": classes,
        "frames": row.frames,
        "size": rep["size"],
        "params_m": rep["params_m"],
        "paper_params_m": row.paper_params_m,
        "params_delta_pct": _delta_pct(rep["params_m"], row.paper_params_m),
        "full_gflops_per_video": round(full, 4),
        "all_heads_gflops_per_video": rep["gflops_per_video"],
        "paper_gflops_per_video": row.paper_gflops,
        "paper_gflops_counts": row.paper_counts,
        "gflops_delta_pct": _delta_pct(compared, row.paper_gflops),
        "paper_dynamic_gflops_per_video": row.paper_dynamic_gflops,
        "exit_gflops_per_frame": rep["exits"],
        "count_s": round(time.perf_counter() - t0, 2),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Count every row, print the table, return (and optionally write) the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    a = p.parse_args(argv)
    set_threads(a.threads)
    rows = [measure_row(r) for r in (QUICK_ROWS if a.quick else PAPER_ROWS)]
    print("FLOPs = multiply-adds (fvcore); full = last head only; all heads = every exit head too")
    print_table(
        ["model", "exits", "cls", "T", "size", "params M", "paper", "d%", "full GFLOPs",
         "all heads", "paper", "vs", "d%", "paper dyn."],
        [[r["model"], "yes" if r["exits"] != ["final only"] else "no", r["classes"],
          r["frames"], r["size"], f"{r['params_m']:.4g}", r["paper_params_m"],
          r["params_delta_pct"], f"{r['full_gflops_per_video']:.4g}",
          f"{r['all_heads_gflops_per_video']:.4g}", r["paper_gflops_per_video"],
          r["paper_gflops_counts"] if r["paper_gflops_per_video"] else None,
          r["gflops_delta_pct"], r["paper_dynamic_gflops_per_video"]]
         for r in rows],
    )
    report = {"benchmark": "flops_table", "quick": a.quick, "env": environment(), "rows": rows}
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
