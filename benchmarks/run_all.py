"""Run every benchmark of the README in one go and collect their JSON reports (issue 9).

    python benchmarks/run_all.py [--out benchmarks/results] [--quick] [--threads 1]
        [--checkpoint checkpoints/tiny_online.pt] [--data DIR]

Each script's ``main`` runs in this process, one after another (so the evaluation's cached
validation/test logits are shared between ``dynamic_vs_static`` and ``early_exit_speed``), and
writes ``OUT/<script>.json`` (``dynamic_vs_static`` also its PNG). A script that cannot run (no
checkpoint yet, no CUDA, no dataset loader) is reported as skipped or failed with its one-line
reason; the others still run. ``OUT/summary.json`` lists status and time of each. Budget: under
10 minutes on the 2-core development CPU (``--quick``: about a minute).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dynamic_vs_static
import early_exit_speed
import flops_table
import gpu_paper_scale
import online_shift
import shift_overhead
from bench_common import (
    DEFAULT_CHECKPOINT,
    REPO_ROOT,
    BenchmarkError,
    environment,
    print_table,
    set_threads,
    write_json,
)

from dynamic_inference.errors import DynamicInferenceError

Main = Callable[[Sequence[str] | None], dict[str, Any]]


def plan(a: argparse.Namespace) -> list[tuple[str, Main, list[str], bool]]:
    """(name, main, arguments, needs a checkpoint) of every benchmark, in running order."""
    common = ["--threads", str(a.threads)] + (["--quick"] if a.quick else [])
    ckpt = ["--checkpoint", str(a.checkpoint)] + (["--data", a.data] if a.data else [])
    return [
        ("flops_table", flops_table.main, common, False),
        ("online_shift", online_shift.main, common, False),
        ("shift_overhead", shift_overhead.main, common, False),
        # first, so that early_exit_speed reuses its cached val/test logits
        ("dynamic_vs_static", dynamic_vs_static.main, common + ckpt, True),
        ("early_exit_speed", early_exit_speed.main, common + ckpt, True),
        ("gpu_paper_scale", gpu_paper_scale.main, common, False),
    ]


def headline(name: str, report: dict[str, Any]) -> str:
    """One line per benchmark for the summary table."""
    rows = report.get("rows") or []
    if report.get("skipped"):
        return str(report.get("reason"))
    if name == "online_shift" and rows:
        r = rows[0]
        return (f"{r['model']}: shift +{r['stream_shift_overhead_pct']['median']:.1f}% "
                f"(stream), x{r['stream_speedup_vs_rerun_prefix']['median']:.2f} vs re-run")
    if name == "early_exit_speed" and rows:
        return "; ".join(f"b{r['batch']}: x{r['wall_speedup']['median']:.2f} wall / "
                         f"x{report['flops_reduction_factor']:.2f} FLOPs" for r in rows)
    if name == "dynamic_vs_static" and rows:
        return "; ".join(f"{r['label']} {r['top1']:.1f}% -{r['reduction_pct']:.0f}%"
                         for r in rows)
    if name == "shift_overhead" and rows:
        return "; ".join(f"{r['layout']}/{r['mode']} +{r['overhead_pct']['median']:.0f}%"
                         for r in rows)
    if name == "flops_table":
        return f"{len(rows)} rows"
    return ""


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--data", default=None)
    p.add_argument("--only", default=None, help="comma-separated subset of the benchmarks")
    a = p.parse_args(argv)
    set_threads(a.threads)
    out = Path(a.out)
    only = set(a.only.split(",")) if a.only else None
    summary: list[dict[str, Any]] = []
    t_all = time.perf_counter()
    for name, fn, args, needs_ckpt in plan(a):
        if only is not None and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"benchmark": name, "json": str(out / f"{name}.json")}
        if needs_ckpt and not Path(a.checkpoint).is_file():
            entry.update(status="skipped", detail=f"checkpoint {a.checkpoint} not found")
            print(f"skipped: {entry['detail']}")
        else:
            try:
                report = fn(args + ["--json", str(out / f"{name}.json")])
                entry.update(status="skipped" if report.get("skipped") else "ok",
                             detail=headline(name, report))
            except (BenchmarkError, DynamicInferenceError) as e:
                entry.update(status="failed", detail=str(e))
                print(f"error: {e}", file=sys.stderr)
            except Exception as e:  # noqa: BLE001 - keep going, report the failure
                entry.update(status="failed", detail=f"{type(e).__name__}: {e}")
                traceback.print_exc()
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        summary.append(entry)
    total = round(time.perf_counter() - t_all, 1)
    print(f"\n=== summary ({total} s, {a.threads} thread(s)) ===")
    print_table(["benchmark", "status", "s", "result"],
                [[e["benchmark"], e["status"], e["seconds"], e["detail"]] for e in summary])
    report = {"quick": a.quick, "threads": a.threads, "seconds": total, "env": environment(),
              "benchmarks": summary}
    write_json(report, out / "summary.json")
    return report


if __name__ == "__main__":
    main()
