"""What a stricter default rule would cost: the val cut at smaller allowed val losses.

The default rule picks, on a seed's val split, the cheapest setting whose val loss plus one
paired standard error is within 0.5 pt of full inference; on the test split the chosen setting
then loses more than it did on val, on average (``benchmarks/reruns.py`` measures that optimism
over trainings and data seeds). A rule that leaves room for it would allow a smaller val loss.
This script reads **val splits only** (no test clip is decoded) and prints, per scheme and allowed
val loss, the FLOPs cut the rule reaches on val and the val loss it chose, per data seed and as
the mean: the price of the margin, measured where a rule may look.

    python benchmarks/rule_margin.py [--checkpoint C] [--seeds 101 202 303] [--root runs/seeds]
        [--allowed 0.5 0.35 0.25] [--schemes depth unified] [--json OUT]

The seeds' splits are the ones ``benchmarks/seeds.py`` made (made here if absent); seed 0 is
the shipped split.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_common import (
    REPO_ROOT,
    add_common_args,
    environment,
    print_table,
    require_checkpoint,
    run_cli,
    set_threads,
    write_json,
)
from seeds import UNSEEN_SEEDS, ensure_seed

from dynamic_inference.calibrate import choose_thresholds, evaluate_thresholds
from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.cost import calibration_costs, exit_costs, full_cost
from dynamic_inference.errors import ConfigError
from dynamic_inference.flops import cost_table
from dynamic_inference.logits import LogitCache, order_for, split_logits
from dynamic_inference.schemes import make_scheme


def val_cuts(checkpoint: Path, data: Path | None, schemes: Sequence[str],
             allowed: Sequence[float]) -> dict[str, list[dict[str, float]]]:
    """Per scheme and allowed val loss: the rule's val cut % and the val loss it chose."""
    model, cfg, _ = load_checkpoint(checkpoint)
    table = cost_table(model, cfg.input_size)
    full = full_cost(table, cfg.frames)
    cache = LogitCache()
    out: dict[str, list[dict[str, float]]] = {}
    for scheme in schemes:
        sch = make_scheme(scheme, 4, "strided", cfg.seed)  # evaluate()'s defaults
        val = split_logits(model, cfg, "val", order_for(sch, cfg), data, cache=cache,
                           name=str(checkpoint.resolve()))
        base, heads = calibration_costs(table, sch, cfg.frames)
        points = sch.point_logits(val.frame_logits)  # (V, P, C)
        full_top1 = 100.0 * (points[:, -1].argmax(-1) == val.labels).double().mean().item()
        rows = []
        for loss in allowed:
            thr, _ = choose_thresholds(sch, val, base, heads=heads, max_val_loss=loss)
            costs = sch.point_costs(exit_costs(table, sch, thr), cfg.frames)
            got = evaluate_thresholds(points, val.labels, costs, thr)
            cut = 100.0 * (1.0 - got.mean_cost / full)
            rows.append({"allowed_pt": loss, "cut_pct": round(cut, 2),
                         "val_loss_pt": round(full_top1 - got.top1, 2)})
        out[scheme] = rows
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(REPO_ROOT / "checkpoints"
                                                    / "msdnet_mini_online.pt"))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(UNSEEN_SEEDS))
    parser.add_argument("--root", default=str(REPO_ROOT / "runs" / "seeds"))
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--allowed", type=float, nargs="+", default=[0.5, 0.35, 0.25],
                        help="allowed val losses in pt (the default rule allows 0.5)")
    parser.add_argument("--schemes", nargs="+", default=["depth", "unified"],
                        choices=["depth", "input", "unified"])
    add_common_args(parser)
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    checkpoint = require_checkpoint(args.checkpoint)
    for loss in args.allowed:
        if not loss >= 0:
            raise ConfigError(f"--allowed losses must be >= 0 pt, got {loss}")
    seeds, per_class = args.seeds, args.per_class
    if args.quick:
        seeds, per_class = seeds[:1], 2
    per_seed = {str(s): val_cuts(checkpoint, ensure_seed(Path(args.root), s, per_class),
                                 args.schemes, args.allowed) for s in seeds}
    if not args.quick:
        per_seed["0"] = val_cuts(checkpoint, None, args.schemes, args.allowed)
    unseen = [str(s) for s in seeds]

    def mean_of(k: str, i: int, field: str) -> float:
        return round(statistics.fmean(per_seed[s][k][i][field] for s in unseen), 2)

    mean = {k: [{"allowed_pt": a, "cut_pct": mean_of(k, i, "cut_pct"),
                 "val_loss_pt": mean_of(k, i, "val_loss_pt")}
                for i, a in enumerate(args.allowed)] for k in args.schemes}
    print(f"{checkpoint.name}: the default rule's val cut % (val loss chosen, pt) per allowed val "
          f"loss; val splits only, {per_class} clips per class; mean over seeds {unseen}")
    rows = []
    for k in args.schemes:
        for i, a in enumerate(args.allowed):
            cells = [f"{per_seed[s][k][i]['cut_pct']:.1f} ({per_seed[s][k][i]['val_loss_pt']:.2f})"
                     for s in per_seed]
            m = mean[k][i]
            rows.append([k, f"{a:g}", *cells, f"{m['cut_pct']:.1f} ({m['val_loss_pt']:.2f})"])
    print_table(["scheme", "allowed pt", *(f"seed {s}" for s in per_seed), "mean (unseen)"], rows)
    report = {"benchmark": "rule_margin", "environment": environment(), "threads": threads,
              "checkpoint": checkpoint.name, "per_class": per_class, "allowed": args.allowed,
              "per_seed": per_seed, "mean_unseen": mean}
    write_json(report, args.json_out)
    return report


if __name__ == "__main__":
    run_cli(main)
