"""Per-call cost of the online shift when a stream feeds one frame at a time (issue 16, item 4).

For every shift layer of the tiny net (random weights), on the input it gets when one new frame
of one video arrives, times side by side (rounds interleaved, median of per-call microseconds):

* ``shift``: :func:`dynamic_inference.shift.online_shift_step` with a cached last frame (the
  streaming fast path: one ``torch.cat`` and one copy of the fold for the next frame);
* ``copy``: ``x.clone()``, the cheapest way to produce a new tensor of the same shape (what any
  shift that does not write into its input must at least pay);
* ``noop``: a Python call that returns its input (the floor of a call);
* ``conv``: the convolution that follows the shift in that block (``conv1`` of the tiny net's
  ``ShiftBasicBlock``).

``shift - copy`` is what the shift costs beyond one unavoidable copy; ``shift / conv`` is its
share next to the work it feeds. The whole-net overhead is measured by ``online_shift.py``.

    python benchmarks/stream_shift_calls.py [--calls 2000] [--repeats 5] [--threads 1] [--quick]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from bench_common import (
    add_common_args,
    environment,
    print_table,
    run_cli,
    set_threads,
    write_json,
)

from dynamic_inference.backbones import build_model
from dynamic_inference.backbones.tiny import ShiftBasicBlock
from dynamic_inference.shift import online_shift_step


def per_call_us(fn: Callable[[], Any], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1e6 * (time.perf_counter() - t0) / calls


@torch.inference_mode()
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args(argv)
    if a.quick:
        a.calls, a.repeats = 50, 2
    threads = set_threads(a.threads)
    torch.manual_seed(0)
    model = build_model("tiny", 16, shift="online").eval()
    inputs: dict[int, torch.Tensor] = {}  # id(block) -> its input for one frame

    def keep(m: torch.nn.Module, args: tuple) -> None:
        inputs.setdefault(id(m), args[0])

    hooks = [m.register_forward_pre_hook(keep)
             for m in model.modules() if isinstance(m, ShiftBasicBlock)]
    model(torch.randn(1, 1, 3, a.size, a.size))
    for h in hooks:
        h.remove()
    rows = []
    for name, m in model.named_modules():
        if not isinstance(m, ShiftBasicBlock):
            continue
        x = inputs[id(m)].contiguous()  # (1, C, H, W): one new frame of one video
        fold = x.shape[1] // m.shift.fold_div
        last = torch.randn(1, fold, *x.shape[2:])
        variants = {
            "shift": lambda x=x, last=last, m=m: online_shift_step(x, 1, last, m.shift.fold_div),
            "copy": lambda x=x: x.clone(),
            "noop": lambda x=x: x,
            "conv": lambda x=x, m=m: m.conv1(x),
        }
        us: dict[str, list[float]] = {k: [] for k in variants}
        for r in range(a.repeats + 1):
            order = list(variants)[r % 4:] + list(variants)[: r % 4]
            for k in order:
                t = per_call_us(variants[k], a.calls)
                if r > 0:
                    us[k].append(t)
        med = {k: statistics.median(v) for k, v in us.items()}
        rows.append({"layer": name, "shape": list(x.shape),
                     **{f"{k}_us": v for k, v in med.items()},
                     "shift_over_copy_us": med["shift"] - med["copy"],
                     "shift_over_conv": med["shift"] / med["conv"]})
    print(f"tiny net, one frame of {a.size}x{a.size} per call, {threads} thread(s), "
          f"median of {a.repeats} rounds of {a.calls} calls (machine shared: ratios only)")
    print_table(["layer", "input", "shift us", "copy us", "noop us", "conv us", "shift-copy us",
                 "shift/conv"],
                [[r["layer"], "x".join(map(str, r["shape"])), f"{r['shift_us']:.1f}",
                  f"{r['copy_us']:.1f}", f"{r['noop_us']:.2f}", f"{r['conv_us']:.1f}",
                  f"{r['shift_over_copy_us']:.1f}", f"{r['shift_over_conv']:.2f}"] for r in rows])
    total = {k: sum(r[f"{k}_us"] for r in rows) for k in ("shift", "copy", "conv")}
    print(f"all {len(rows)} shift layers per frame: shift {total['shift']:.1f} us, copy "
          f"{total['copy']:.1f} us, their convs {total['conv']:.1f} us")
    report = {"benchmark": "stream_shift_calls", "quick": a.quick, "env": environment(),
              "rows": rows, "total_us": total}
    write_json(report, a.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
