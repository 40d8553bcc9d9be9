"""Helpers shared by the benchmark scripts: threads, interleaved timing, statistics, JSON, errors.

Every benchmark in this folder follows the same rules:

* ``torch.set_num_threads(1)`` by default (``--threads N`` to change it). On a shared 2-core
  machine two torch threads can be 20x slower under contention; one thread is slower in the best
  case but far more stable, and the thread count is written into every report.
* Variants that are compared are timed **side by side in one run**: each round runs every variant
  once, in an order that rotates from round to round (:func:`interleaved`), and the comparison is
  the median of the per-round *ratios*, with the quartiles as the spread (:func:`ratio_stats`). A
  burst of contention then hits a whole round, not one variant.
* ``main(argv)`` of each script returns the report (a JSON-able dict) and writes it with
  ``--json OUT``; :func:`run_cli` turns a :class:`BenchmarkError` into one line on stderr and exit
  code 2 (no traceback for bad input).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT_DIR = REPO_ROOT / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "tiny_online.pt"


class BenchmarkError(Exception):
    """A problem the user can fix (missing checkpoint, bad flag): reported as one line."""


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--threads``, ``--json`` and ``--quick``, shared by every script."""
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch intra-op threads (default 1: stable timings on a shared CPU)",
    )
    parser.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                        help="write the report as JSON to OUT")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repeats (smoke test, seconds)")


def set_threads(threads: int) -> int:
    """Set torch's intra-op thread count (``threads >= 1``) and return it."""
    if threads < 1:
        raise BenchmarkError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def environment() -> dict[str, Any]:
    """Where the numbers were measured (written into every report)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "load_avg_1min": round(load[0], 2) if load else None,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def require_checkpoint(path: str | Path) -> Path:
    """``path`` as a Path, or a :class:`BenchmarkError` naming it and how to get one."""
    p = Path(path)
    if not p.is_file():
        raise BenchmarkError(
            f"checkpoint {p} not found: train it with `python -m dynamic_inference train "
            f"--out {p}` or pass --checkpoint PATH"
        )
    return p


def write_json(report: Mapping[str, Any], out: str | Path | None) -> None:
    """Write ``report`` to ``out`` (parents created); nothing when ``out`` is None."""
    if out is None:
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def run_cli(main: Callable[[Sequence[str] | None], Any]) -> None:
    """Run a script's ``main`` from the command line; expected errors become one stderr line."""
    from dynamic_inference.errors import DynamicInferenceError

    try:
        main(None)
    except (BenchmarkError, DynamicInferenceError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


# --------------------------------------------------------------------------------------------
# Timing


def sync(device: str | torch.device) -> None:
    """Wait for queued CUDA work (no-op on CPU), so a timer measures the work itself."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(
    variants: Mapping[str, Callable[[], Any]],
    repeats: int,
    warmup: int = 1,
    device: str | torch.device = "cpu",
) -> dict[str, list[float]]:
    """Time every variant once per round for ``repeats`` rounds; seconds per variant per round.

    The order of the variants rotates from round to round, so no variant always runs first (cold
    caches) or last. ``warmup`` untimed rounds come first.
    """
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            sync(device)
            t0 = time.perf_counter()
            variants[name]()
            sync(device)
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(dt)
    return times


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile); for fewer than 2 values all three are equal."""
    v = sorted(values)
    if len(v) < 2:
        return (v[0], v[0], v[0])
    q = statistics.quantiles(v, n=4, method="inclusive")
    return (q[0], statistics.median(v), q[2])


def time_stats(seconds: Sequence[float], scale: float = 1e3) -> dict[str, float]:
    """Median and quartiles of a list of times, in ms by default (``scale`` = 1e3)."""
    q1, med, q3 = quartiles(seconds)
    return {"median": med * scale, "q1": q1 * scale, "q3": q3 * scale, "n": len(seconds)}


def ratio_stats(num: Sequence[float], den: Sequence[float]) -> dict[str, float]:
    """Per-round ratios ``num[i] / den[i]``: median, quartiles, min and max."""
    if len(num) != len(den) or not num:
        raise ValueError("ratio_stats needs two equally long, non-empty lists")
    ratios = [a / b for a, b in zip(num, den)]
    q1, med, q3 = quartiles(ratios)
    return {"median": med, "q1": q1, "q3": q3, "min": min(ratios), "max": max(ratios),
            "n": len(ratios)}


def as_overhead_pct(ratio: Mapping[str, float]) -> dict[str, float]:
    """Ratio statistics (from :func:`ratio_stats`) as percent over 1: 1.05 -> 5.0."""
    return {k: (v if k == "n" else 100.0 * (v - 1.0)) for k, v in ratio.items()}


def fmt_spread(stats: Mapping[str, float], digits: int = 2) -> str:
    """``'1.23 [1.20-1.27]'``: median and interquartile range."""
    return (f"{stats['median']:.{digits}f} [{stats['q1']:.{digits}f}-"
            f"{stats['q3']:.{digits}f}]")


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return re.fullmatch(r"[-+x]?\d[\d.]*(e[-+]?\d+)?%?( \[.*\])?", str(value)) is not None


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain-text table, columns as wide as their widest cell (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str], raw: Sequence[Any]) -> str:
        out = []
        for i, c in enumerate(r):
            numeric = _numeric(raw[i])
            out.append(c.rjust(widths[i]) if numeric else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    print(line(cells[0], headers))
    print("  ".join("-" * w for w in widths))
    for r, raw in zip(cells[1:], rows):
        print(line(r, raw))


# --------------------------------------------------------------------------------------------
# Synthetic stop fractions


def forced_targets(fractions: Sequence[float], n: int, seed: int = 0) -> torch.Tensor:
    """``(n,)`` decision-point index per video, so that point p gets ``fractions[p]`` of them.

    Counts are rounded (the last point takes the rest); the assignment is shuffled with ``seed``
    so that stopping videos are spread over the batch, as real early exits are.
    """
    if not fractions or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise BenchmarkError(f"stop fractions must be >= 0 and sum to 1, got {list(fractions)}")
    counts = [round(f * n) for f in fractions[:-1]]
    counts.append(max(0, n - sum(counts)))
    targets = torch.cat([torch.full((c,), p, dtype=torch.long) for p, c in enumerate(counts)])[:n]
    g = torch.Generator().manual_seed(seed)
    return targets[torch.randperm(n, generator=g)]


# --------------------------------------------------------------------------------------------
# Data


def open_split(cfg: Any, split: str, data: str | Path | None = None) -> Any:
    """The evaluation dataset of a checkpoint's config, or a one-line :class:`BenchmarkError`."""
    try:
        from dynamic_inference.logits import load_split

        return load_split(cfg, split, data)
    except ImportError as e:
        raise BenchmarkError(
            f"the dataset loader is not available yet ({e}): use --synthetic for clips "
            "without data"
        ) from None
    except FileNotFoundError as e:
        raise BenchmarkError(
            f"dataset not found ({e}): make it with `python -m dynamic_inference make-mini` "
            "or pass --data DIR"
        ) from None


def decoded_clips(dataset: Any, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``n`` clips spread evenly over ``dataset`` (all if None): ``(n, T, 3, H, W)``, labels.

    Evenly spaced indices keep every class represented when the dataset is sorted by class.
    Decoding happens here, once, so that the timed code sees clips already in memory.
    """
    total = len(dataset)
    if total == 0:
        raise BenchmarkError("the dataset split is empty")
    count = total if n is None else min(n, total)
    index = torch.linspace(0, total - 1, count).round().long().unique()
    items = [dataset[int(i)] for i in index]
    clips = torch.stack([c for c, _ in items])
    labels = torch.tensor([int(y) for _, y in items])
    return clips, labels
