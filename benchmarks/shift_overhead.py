"""How much wall time does the temporal shift add? (issue 3; DESIGN.md section 1)

The shift has no multiply-adds but copies memory. This script times, on the machine at hand, a
3x3 conv alone and the same conv after each shift mode, in contiguous and channels_last layouts,
and prints the overhead of the shift over the conv alone (median of repeats, with the spread).

    python benchmarks/shift_overhead.py [--frames 16] [--channels 64] [--size 16] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

from dynamic_inference.shift import temporal_shift


def _time(fn, repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.manual_seed(0)
    conv = nn.Conv2d(a.channels, a.channels, 3, padding=1, bias=False).eval()
    rows = []
    for layout in ("contiguous", "channels_last"):
        x = torch.randn(a.videos * a.frames, a.channels, a.size, a.size)
        mf = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        x, c = x.to(memory_format=mf), conv.to(memory_format=mf)
        with torch.inference_mode():
            base = _time(lambda: c(x), a.repeats)
            for mode in ("offline", "online"):
                t = _time(lambda m=mode: c(temporal_shift(x, a.frames, 8, m)), a.repeats)
                ratios = [ti / statistics.median(base) - 1 for ti in t]
                rows.append({
                    "layout": layout, "mode": mode,
                    "conv_ms": 1e3 * statistics.median(base),
                    "shift_conv_ms": 1e3 * statistics.median(t),
                    "overhead_pct": 100 * statistics.median(ratios),
                    "overhead_spread_pct": 100 * (max(ratios) - min(ratios)),
                })
    print(f"{'layout':<14}{'mode':<9}{'conv ms':>9}{'shift+conv ms':>15}{'overhead':>10}")
    for r in rows:
        print(f"{r['layout']:<14}{r['mode']:<9}{r['conv_ms']:>9.2f}{r['shift_conv_ms']:>15.2f}"
              f"{r['overhead_pct']:>9.1f}%  (spread {r['overhead_spread_pct']:.1f} pt)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
