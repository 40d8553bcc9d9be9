"""Per-stage share of multiply-adds vs share of wall time of the tiny net on this CPU.

Design goal (``dynamic_inference/backbones/tiny.py``): a cheap first exit (<= 20 % of the
per-frame MACs, head included) and stages whose share of wall time is close to their share of
MACs. Segment k = stage k (the stem counted in stage 0) + head k, so the cumulative share up to
exit k is what a video stopping there pays. Timed on a batch of 8 clips x 16 frames of 64x64
under ``torch.inference_mode``, median of repeats, each segment timed on its own.

    .venv/bin/python benchmarks/tiny_stage_times.py [--repeats 30] [--shift online] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dynamic_inference.backbones import tiny_net
from dynamic_inference.flops import cost_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--shift", default="online", choices=["off", "offline", "online"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads > 0:  # 1 thread gives stable numbers when other jobs share the CPU
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    net = tiny_net(16, args.shift).eval()
    table = cost_table(net, args.size)
    k_exits = net.num_exits
    x = torch.randn(args.clips * args.frames, 3, args.size, args.size)  # (N*T, 3, H, W)

    times: list[list[float]] = [[] for _ in range(k_exits)]
    with torch.inference_mode():
        for rep in range(args.repeats + 3):  # 3 warm-up runs
            t0 = time.perf_counter()
            state = net.stem(x)
            for k in range(k_exits):
                state = net.stage(k, state, args.frames, None)
                net.heads[k](state)
                t1 = time.perf_counter()
                if rep >= 3:
                    times[k].append(t1 - t0)
                t0 = t1
    seg_time = [statistics.median(t) for t in times]
    seg_macs = [s + h for s, h in zip(table.stage_gflops, table.head_gflops)]
    total_t, total_m = sum(seg_time), sum(seg_macs)

    print(
        f"tiny net, shift={args.shift}: {args.clips} clips x {args.frames} frames of "
        f"{args.size}x{args.size}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}; {table.params_m:.3f} M params"
    )
    print(
        f"{'segment':<8} {'MMACs/frame':>11} {'MAC share':>10} {'time ms':>9} {'time share':>11}"
        f" {'cum MAC':>8} {'cum time':>9}"
    )
    cum_m = cum_t = 0.0
    for k in range(k_exits):
        cum_m += seg_macs[k]
        cum_t += seg_time[k]
        print(
            f"{table.exit_names[k]:<8} {seg_macs[k] * 1e3:>11.3f} {seg_macs[k] / total_m:>10.1%}"
            f" {seg_time[k] * 1e3:>9.2f} {seg_time[k] / total_t:>11.1%}"
            f" {cum_m / total_m:>8.1%} {cum_t / total_t:>9.1%}"
        )
    frames = args.clips * args.frames
    print(
        f"total    {total_m * 1e3:>11.3f} {'':>10} {total_t * 1e3:>9.2f}  "
        f"({total_t / frames * 1e3:.3f} ms/frame, {total_m * frames / total_t:.1f} GMAC/s)"
    )


if __name__ == "__main__":
    main()
