"""How much wall time does the temporal shift add? (issue 3)

The shift has no multiply-adds but copies memory. This script times, on the machine at hand, a
3x3 conv alone and the same conv after each shift mode, in contiguous and channels_last layouts,
and prints the overhead of the shift over the conv alone. The variants are timed side by side
(rounds interleaved, see ``bench_common.interleaved``); the overhead is the median of the
per-round ratios, with the quartiles as the spread.

    python benchmarks/shift_overhead.py [--frames 16] [--channels 64] [--size 16] [--threads 1]
        [--quick] [--json OUT]
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
from torch import Tensor, nn

from dynamic_inference.shift import temporal_shift


def measure_layout(
    conv: nn.Module, x: Tensor, frames: int, repeats: int, layout: str
) -> list[dict[str, Any]]:
    """Rows for one memory layout: conv alone vs shift + conv for the two shift modes."""
    with torch.inference_mode():
        times = interleaved(
            {
                "conv": lambda: conv(x),
                "offline": lambda: conv(temporal_shift(x, frames, 8, "offline")),
                "online": lambda: conv(temporal_shift(x, frames, 8, "online")),
            },
            repeats,
        )
    rows = []
    for mode in ("offline", "online"):
        ratio = ratio_stats(times[mode], times["conv"])
        rows.append({
            "layout": layout,
            "mode": mode,
            "conv_ms": time_stats(times["conv"]),
            "shift_conv_ms": time_stats(times[mode]),
            "overhead_pct": as_overhead_pct(ratio),
        })
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure both layouts, print the table, return (and optionally write) the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    if a.quick:
        a.videos, a.frames, a.repeats = 2, 4, 3
    torch.manual_seed(0)
    conv = nn.Conv2d(a.channels, a.channels, 3, padding=1, bias=False).eval()
    rows = []
    for layout in ("contiguous", "channels_last"):
        mf = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        x = torch.randn(a.videos * a.frames, a.channels, a.size, a.size).to(memory_format=mf)
        rows += measure_layout(conv.to(memory_format=mf), x, a.frames, a.repeats, layout)
    print(f"3x3 conv, {a.videos} x {a.frames} frames of {a.channels} x {a.size}^2, "
          f"{threads} thread(s); median [quartiles] of per-round ratios")
    print_table(
        ["layout", "mode", "conv ms", "shift+conv ms", "overhead %"],
        [[r["layout"], r["mode"], f"{r['conv_ms']['median']:.2f}",
          f"{r['shift_conv_ms']['median']:.2f}", fmt_spread(r["overhead_pct"], 1)]
         for r in rows],
    )
    args = {k: v for k, v in vars(a).items() if k != "json_out"}
    report = {"benchmark": "shift_overhead", "quick": a.quick, "env": environment(),
              "args": args, "rows": rows}
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
