"""The eager model against its folded copy (:func:`dynamic_inference.fold.fold_batchnorm`).

A multi-exit engine issues calls of every size, from one group of one video to a full budget of
frames: on a CPU, eager PyTorch pays a fixed cost per convolution (oneDNN reorders the weight on
every call) that the small calls cannot hide. Here the whole network (stem, every stage, the
last head) runs one call of ``F`` frames (one video, or ``F / T`` videos of ``T`` frames) in
both forms, rounds interleaved; the table gives ms per call for each and the speed-up
``eager / folded`` (median of per-round ratios, quartiles). The folded outputs are checked
against the eager ones first.

    python benchmarks/fold_speed.py [--checkpoint checkpoints/tiny_online.pt]
        [--frames 1,4,16,64,256] [--repeats 20] [--threads 1] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import torch
from bench_common import (
    DEFAULT_CHECKPOINT,
    BenchmarkError,
    add_common_args,
    environment,
    fmt_spread,
    interleaved,
    print_table,
    ratio_stats,
    require_checkpoint,
    run_cli,
    set_threads,
    time_stats,
    write_json,
)
from torch import Tensor

from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.fold import fold_batchnorm


@torch.inference_mode()
def whole_net(model: MultiExitNet, x: Tensor, frames: int) -> Tensor:
    """Stem, every stage and the last head on ``x`` ``(F, 3, H, W)``: per-frame logits."""
    state = model.stem(x)
    for k in range(model.num_exits):
        state = model.stage(k, state, frames, None)
    return model.heads[-1](state)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--frames", default="1,4,16,64,256", help="frames per call")
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    try:
        sizes = [int(f) for f in a.frames.split(",")]
    except ValueError:
        raise BenchmarkError(f"--frames must be integers, got {a.frames!r}") from None
    if a.quick:
        sizes, a.repeats = [1, 4], 2
    model, cfg, _ = load_checkpoint(require_checkpoint(a.checkpoint))
    folded = fold_batchnorm(model)
    rows, table = [], []
    for f in sizes:
        torch.manual_seed(0)
        x = torch.randn(f, 3, cfg.input_size, cfg.input_size)
        # clips of T frames when F holds whole clips, else one video's group of F frames
        t = cfg.frames if f % cfg.frames == 0 else f
        diff = float((whole_net(folded, x, t) - whole_net(model, x, t)).abs().max())
        if diff > 1e-3:
            raise BenchmarkError(f"the folded model differs from the eager one by {diff:.2g}")
        times = interleaved({"eager": lambda x=x, t=t: whole_net(model, x, t),
                             "folded": lambda x=x, t=t: whole_net(folded, x, t)}, a.repeats)
        speedup = ratio_stats(times["eager"], times["folded"])
        rows.append({"frames": f, "max_abs_diff": diff, "speedup": speedup,
                     "ms": {k: time_stats(v) for k, v in times.items()}})
        table.append([f, f"{rows[-1]['ms']['eager']['median']:.3f}",
                      f"{rows[-1]['ms']['folded']['median']:.3f}", fmt_spread(speedup),
                      f"{diff:.1e}"])
    print(f"{a.checkpoint}: whole network, one call; {threads} thread(s); machine load "
          f"{environment()['load_avg_1min']} (shared: ratios only)")
    print_table(["frames/call", "eager ms", "folded ms", "eager/folded x [IQR]", "max |diff|"],
                table)
    report = {"benchmark": "fold_speed", "quick": a.quick, "env": environment(),
              "checkpoint": str(a.checkpoint), "rows": rows}
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
