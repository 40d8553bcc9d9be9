"""Training noise: several trainings of one recipe, each judged over the unseen data seeds.

A checkpoint's figures over the data seeds (:mod:`seeds`) say how it does on data it was not
developed on; they do not say how much of that is the recipe and how much the luck of one
training. This script reads, per run, the provenance JSON that ``train`` writes next to its
checkpoint and the report of ``benchmarks/seeds.py --checkpoint RUN.pt --json SEEDS.json``, and
prints one row per run (threads, CPU, train time, val top-1 per exit, every scheme's mean cut and
loss over the seeds with the min..max of the loss, full inference) and whether each target of the
reproduction holds (:data:`TARGETS`). Then, pooled over every (run, data seed) pair, how far each
scheme's test loss lies above the val loss the default rule chose it at: the rule's optimism,
which a single seed's interval does not show (it picks the cheapest of many settings, so a lucky
one on val is picked more often than an unlucky one).

Nothing here trains or evaluates: it only reads reports, so every row names the command and the
files that made it.

    python benchmarks/reruns.py [--run NAME PROVENANCE SEEDS_JSON ...] [--json OUT]

With no ``--run`` it reads the mini MSDNet runs kept in ``benchmarks/results`` (:data:`RUNS`).
``PROVENANCE`` may be ``-`` for a run whose provenance was not kept (its train columns are then
empty).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_common import REPO_ROOT, BenchmarkError, print_table, run_cli, write_json
from seeds import SCHEMES

RESULTS = REPO_ROOT / "benchmarks" / "results"

# The runs of the shipped online mini MSDNet command (the same flags; `--seed` as named).
# (name, provenance JSON or None when it was not kept, seeds.py report)
RUNS: tuple[tuple[str, Path | None, Path], ...] = (
    ("shipped", REPO_ROOT / "checkpoints" / "msdnet_mini_online.json",
     RESULTS / "seeds_msdnet_mini.json"),
    ("A", None, RESULTS / "seeds_msdnet_mini_rerun.json"),
    ("C", RESULTS / "train_msdnet_mini_online_rerun_c.json",
     RESULTS / "seeds_msdnet_mini_rerun_c.json"),
    ("D", RESULTS / "train_msdnet_mini_online_rerun_d.json",
     RESULTS / "seeds_msdnet_mini_rerun_d.json"),
    ("seed 1", RESULTS / "train_msdnet_mini_online_seed1.json",
     RESULTS / "seeds_msdnet_mini_seed1.json"),
    ("seed 2", RESULTS / "train_msdnet_mini_online_seed2.json",
     RESULTS / "seeds_msdnet_mini_seed2.json"),
)


@dataclass(frozen=True)
class Target:
    """One scheme's target over the unseen data seeds (issue 19)."""

    scheme: str
    min_cut_pct: float  # the mean FLOPs cut must reach this
    max_mean_loss_pt: float = 0.5  # the mean top-1 loss against full inference at most this
    max_seed_loss_pt: float = 1.0  # and no single seed's loss above this


TARGETS = (Target("depth", 40.0), Target("unified", 65.0))
MIN_FULL_TOP1_SEED0 = 72.0  # full inference on seed 0's test split at least this


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BenchmarkError(f"{what} {path} not found") from None
    except json.JSONDecodeError as e:
        raise BenchmarkError(f"{what} {path} is not JSON: {e}") from None


def target_checks(seeds_report: dict[str, Any]) -> dict[str, bool]:
    """Which targets one run meets: per :data:`TARGETS` entry, no fallback on any seed, unified
    dominating both axes on every val front, full inference on seed 0."""
    summary = seeds_report["summary"]
    out = {}
    for t in TARGETS:
        s = summary[t.scheme]
        out[t.scheme] = (s["cut_mean"] >= t.min_cut_pct and s["loss_mean"] <= t.max_mean_loss_pt
                         and s["loss_max"] <= t.max_seed_loss_pt)
    out["no_fallback"] = all(summary[k]["full_fallbacks"] == 0 for k in SCHEMES)
    out["unified_dominates"] = all(
        summary[f"pareto_val_unified_vs_{axis}"]["dominated"]
        == summary[f"pareto_val_unified_vs_{axis}"]["points"] for axis in ("depth", "input"))
    seed0 = seeds_report.get("seed0")
    out["full_top1"] = bool(seed0) and seed0["depth"]["full_top1"] >= MIN_FULL_TOP1_SEED0
    return out


def run_row(name: str, provenance: dict[str, Any] | None, report: dict[str, Any]
            ) -> dict[str, Any]:
    """One run: its training (when the provenance was kept) and its figures over the seeds."""
    summary = report["summary"]
    fulls = [r["depth"]["full_top1"] for r in report["per_seed"].values()]
    row: dict[str, Any] = {"run": name, "seeds": report["seeds"]}
    if provenance is not None:
        row.update({
            "command": provenance["command"],
            "train_seed": provenance["seed"],
            "threads": provenance.get("torch_threads"),
            "hardware": provenance.get("hardware"),
            "train_min": round(provenance["train_time_s"] / 60, 1),
            "s_per_step": round(provenance["train_time_s"] / provenance["steps"], 2),
            "val_top1_per_exit": provenance["val_top1_per_exit"],
        })
    for k in SCHEMES:
        row[k] = {f: summary[k][f] for f in ("cut_mean", "loss_mean", "loss_min", "loss_max")}
    row["full_top1_mean"] = round(statistics.fmean(fulls), 2)
    row["targets"] = target_checks(report)
    return row


def _stats(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation, min and max, rounded to 0.01."""
    return {"mean": round(statistics.fmean(values), 2),
            "sd": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
            "min": round(min(values), 2), "max": round(max(values), 2)}


def optimism(reports: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per scheme, over every (run, data seed) pair: the test loss minus the val loss of the
    setting the default rule chose on val (:func:`_stats`, the count, the mean val loss)."""
    out = {}
    for k in SCHEMES:
        pairs = [r[k] for rep in reports for r in rep["per_seed"].values()]
        out[k] = {**_stats([p["loss_pt"] - p["val_loss_pt"] for p in pairs]), "n": len(pairs),
                  "val_loss_mean": round(statistics.fmean(p["val_loss_pt"] for p in pairs), 2)}
    return out


def between_runs(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per scheme, the spread between trainings of each run's mean cut and mean loss."""
    return {k: {"cut": _stats([r[k]["cut_mean"] for r in rows]),
                "loss": _stats([r[k]["loss_mean"] for r in rows])} for k in SCHEMES}


def _runs_from_args(values: Sequence[Sequence[str]] | None
                    ) -> list[tuple[str, Path | None, Path]]:
    if not values:
        return list(RUNS)
    return [(name, None if prov == "-" else Path(prov), Path(seeds))
            for name, prov, seeds in values]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", nargs=3, action="append", metavar=("NAME", "PROVENANCE", "SEEDS"),
                        help="a run: its name, train provenance JSON (or -), seeds.py JSON")
    parser.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                        help="write the report as JSON to OUT")
    args = parser.parse_args(argv)
    rows, reports = [], []
    for name, prov_path, seeds_path in _runs_from_args(args.run):
        report = _load(seeds_path, "seeds report")
        provenance = None if prov_path is None else _load(prov_path, "train provenance")
        try:
            rows.append(run_row(name, provenance, report))
        except (KeyError, TypeError) as e:
            raise BenchmarkError(f"run {name!r}: {seeds_path} is not a seeds.py report or "
                                 f"{prov_path} not a train provenance (missing {e})") from None
        reports.append(report)

    print(f"{len(rows)} trainings of one recipe, each over the unseen data seeds "
          f"{rows[0]['seeds']} (seeds.py): mean cut % / mean loss pt (min..max of the loss)")
    table = []
    for r in rows:
        train = ["-", "not kept", "-", "-", "-"]
        if "train_min" in r:
            train = [r["threads"] or "-", r["hardware"] or "not recorded", r["train_min"],
                     f"{r['s_per_step']:.2f}",
                     " / ".join(f"{a:.2f}" for a in r["val_top1_per_exit"])]
        table.append([r["run"], *train, *(
            f"{r[k]['cut_mean']:.1f} / {r[k]['loss_mean']:.2f} "
            f"({r[k]['loss_min']:.2f}..{r[k]['loss_max']:.2f})" for k in SCHEMES),
            f"{r['full_top1_mean']:.2f}"])
    print_table(["run", "threads", "CPU", "train min", "s/step", "val top-1 per exit",
                 *SCHEMES, "full"], table)

    names = [*(t.scheme for t in TARGETS), "no_fallback", "unified_dominates", "full_top1"]
    print("targets met (" + "; ".join(
        f"{t.scheme}: cut >= {t.min_cut_pct:g}%, mean loss <= {t.max_mean_loss_pt:g} pt, "
        f"every seed <= {t.max_seed_loss_pt:g} pt" for t in TARGETS)
        + f"; full top-1 on seed 0 >= {MIN_FULL_TOP1_SEED0:g}%)")
    print_table(["run", *names], [[r["run"], *("yes" if r["targets"][n] else "NO" for n in names)]
                                  for r in rows])
    met = {n: sum(r["targets"][n] for r in rows) for n in names}
    print("runs meeting each: " + ", ".join(f"{n} {met[n]}/{len(rows)}" for n in names))
    spread = between_runs(rows)
    print("between the trainings (each run's mean over the data seeds): mean, sd, min..max")
    print_table(["scheme", "cut % mean", "sd", "min..max", "loss pt mean", "sd", "min..max"],
                [[k, f"{c['mean']:.2f}", f"{c['sd']:.2f}", f"{c['min']:.1f}..{c['max']:.1f}",
                  f"{x['mean']:.2f}", f"{x['sd']:.2f}", f"{x['min']:.2f}..{x['max']:.2f}"]
                 for k, (c, x) in ((k, (spread[k]["cut"], spread[k]["loss"])) for k in SCHEMES)])

    opt = optimism(reports)
    print("the rule's optimism: test loss minus the val loss it chose the setting at, pooled over "
          "(run, data seed) pairs, pt")
    print_table(["scheme", "val loss mean", "gap mean", "sd", "min", "max", "pairs"],
                [[k, *(f"{o[f]:.2f}" for f in ("val_loss_mean", "mean", "sd", "min", "max")),
                  o["n"]]
                 for k, o in opt.items()])
    out = {"benchmark": "reruns", "runs": rows, "targets_met": met, "between_runs": spread,
           "optimism": opt}
    write_json(out, args.json_out)
    return out


if __name__ == "__main__":
    run_cli(main)
