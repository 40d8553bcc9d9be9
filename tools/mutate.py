"""Mutation check: break the library on purpose, one named mutation at a time; the tests must fail.

Each mutation below replaces one exact snippet of one file by a wrong variant (a bug someone
could plausibly write) and names the test files or test ids that must catch it. The script copies
the working tree (tracked and untracked, non-ignored files) into a scratch folder, never touching
the real tree, checks that every snippet occurs exactly once (it fails loudly otherwise, so the
list cannot rot silently when the code changes), runs the named tests once unmutated (they must
pass), then applies each mutation in turn, runs ``pytest -x -q`` on its tests and restores the
file. It prints a table ``mutation -> caught / SURVIVED``, the first failing test and the time,
and exits 1 if any mutation survived.

Not part of CI (it runs the relevant tests once per mutation: 25 mutations took 260-440 s plus a
40 s baseline run on the shared 2-core machine)::

    python tools/mutate.py              # all mutations
    python tools/mutate.py -k stream    # only those whose name contains "stream"
    python tools/mutate.py --list       # names, files and tests
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # path relative to the repository root
    old: str  # exact snippet, must occur exactly once in the file
    new: str  # what replaces it
    tests: tuple[str, ...]  # pytest targets (files or test ids) that must catch it


E2E = "tests/test_evaluate.py"
MIXED = "tests/test_engine.py::test_engine_equals_simulation_with_mixed_stops"

MUTATIONS = [
    # ---- the six that survived the whole suite in issue 20 ----
    Mutation(
        "costs: input and full schemes pay every head",
        "dynamic_inference/cost.py",
        "    if not scheme.depth:\n        return fixed_exit_costs(table)\n",
        "    if not scheme.depth:\n        return list(table.gflops_per_frame)\n",
        ("tests/test_cost.py::test_scheme_costs_summed_by_hand",
         f"{E2E}::test_thresholds_one_cost_exactly_full_inference"),
    ),
    Mutation(
        "costs: static baselines charged every head",
        "dynamic_inference/evaluate.py",
        "fixed_exit_costs(table)),\n",
        "exit_costs(table, make_scheme(\"depth\"))),\n",
        ("tests/test_cost.py::test_curves_price_static_baselines_as_they_run",),
    ),
    Mutation(
        "evaluate: --budget calibrated on the test split",
        "dynamic_inference/evaluate.py",
        "        thresholds, rule = choose_thresholds(sch, val, base, budget, threshold,"
        " heads=heads)\n",
        "        thresholds, rule = choose_thresholds(sch, test if budget is not None else val,"
        " base, budget, threshold, heads=heads)\n",
        (f"{E2E}::test_every_threshold_rule_reads_val_only",),
    ),
    Mutation(
        "engine: MSDNet list-of-scales state compacted by slicing",
        "dynamic_inference/exits.py",
        "    return [s.index_select(0, index) for s in state]\n",
        "    return [s[: len(index)] for s in state]\n",
        (MIXED,),
    ),
    Mutation(
        "stream: the command ignores --group/--threshold/--frames/--order",
        "dynamic_inference/stream.py",
        "    stream_video(args.video, args.checkpoint, args.group, args.threshold, args.frames,\n"
        "                 args.order)\n",
        "    stream_video(args.video, args.checkpoint)\n",
        (f"{E2E}::test_stream_flags_change_what_it_does",),
    ),
    Mutation(
        "evaluate: full and depth in sequential order, not the training order",
        "dynamic_inference/logits.py",
        "    return frame_order(cfg.order, cfg.frames, cfg.groups, cfg.seed)\n",
        "    return frame_order(\"sequential\", cfg.frames, cfg.groups, cfg.seed)\n",
        (f"{E2E}::test_full_and_depth_see_the_training_order",),
    ),
    Mutation(
        "evaluate: run_engine does not apply the frame order",
        "dynamic_inference/evaluate.py",
        "    clips = (clip[order].to(device)\n",
        "    clips = (clip.to(device)\n",
        (f"{E2E}::test_full_and_depth_see_the_training_order",
         f"{E2E}::test_engine_applies_the_order_of_an_input_scheme"),
    ),
    # ---- the stop rule ----
    Mutation(
        "schemes: stop rule > instead of >= (fires)",
        "dynamic_inference/schemes.py",
        "    return (conf >= thr) & (thr < 1.0)\n",
        "    return (conf > thr) & (thr < 1.0)\n",
        ("tests/test_schemes.py::test_confidence_exactly_at_the_threshold_stops",),
    ),
    Mutation(
        "engine: stop rule > instead of >=",
        "dynamic_inference/engine.py",
        "        return fires(conf, t) | (points == len(self.points) - 1)\n",
        "        return ((conf > t) & (t < 1.0)) | (points == len(self.points) - 1)\n",
        ("tests/test_engine.py::test_engine_stops_at_a_confidence_exactly_at_the_threshold",),
    ),
    Mutation(
        "schemes: a threshold of 1.0 keeps its exit live",
        "dynamic_inference/schemes.py",
        "            live[p.exit - 1] = live[p.exit - 1] or t < 1.0\n",
        "            live[p.exit - 1] = live[p.exit - 1] or t <= 1.0\n",
        ("tests/test_engine.py::test_live_exits",),
    ),
    Mutation(
        "schemes: thresholds above 1 accepted",
        "dynamic_inference/schemes.py",
        "    bad = (thr < 0) | (thr > 1)\n",
        "    bad = thr < 0\n",
        ("tests/test_schemes.py::test_bad_thresholds",),
    ),
    # ---- schemes: logits, costs, orders ----
    Mutation(
        "schemes: point logits of the current group only, not the prefix",
        "dynamic_inference/schemes.py",
        "        prefix_means = group_sums.cumsum(dim=2) / seen.view(1, 1, -1, 1)"
        "  # (V, K, G, C)\n",
        "        prefix_means = group_sums / per_group  # (V, K, G, C)\n",
        ("tests/test_schemes.py::test_input_point_logits_are_prefix_means", MIXED),
    ),
    Mutation(
        "schemes: earlier groups charged at the current exit's cost",
        "dynamic_inference/schemes.py",
        "                (p.group - 1) * per_group * last + per_group * cost[p.exit - 1]\n",
        "                (p.group - 1) * per_group * cost[p.exit - 1]"
        " + per_group * cost[p.exit - 1]\n",
        ("tests/test_schemes.py::test_unified_costs_by_hand",),
    ),
    Mutation(
        "orders: strided combs in plain order, not coarse to fine",
        "dynamic_inference/schemes.py",
        "            for offset in coarse_to_fine(groups)  # which comb, coarse to fine\n",
        "            for offset in range(groups)  # which comb, coarse to fine\n",
        ("tests/test_schemes.py::test_strided_order_of_the_paper",),
    ),
    # ---- engine ----
    Mutation(
        "engine: decides on the current group's features only",
        "dynamic_inference/engine.py",
        "        logits = head.classifier(f / seen)  # (n, C)\n",
        "        logits = head.classifier(f / pg)  # (n, C)\n",
        (MIXED,),
    ),
    Mutation(
        "engine: running sums read from the first slots instead of each video's slot",
        "dynamic_inference/engine.py",
        "            f = fl.sums[k].index_select(0, rows.slot) + f  # type: ignore[union-attr]\n",
        "            f = fl.sums[k][: len(rows.slot)] + f  # type: ignore[index]\n",
        (MIXED,),
    ),
    Mutation(
        "engine: joining videos do not start from empty sums",
        "dynamic_inference/engine.py",
        "                s.index_fill_(0, slot_t, 0.0)\n",
        "                s.index_fill_(0, slot_t, 1.0)\n",
        (MIXED,),
    ),
    # ---- temporal shift ----
    Mutation(
        "shift: online fold taken from the future frame",
        "dynamic_inference/shift.py",
        '    return (1,) if mode == "online" else (-1, 1)\n',
        '    return (-1,) if mode == "online" else (-1, 1)\n',
        ("tests/test_shift.py",),
    ),
    Mutation(
        "shift: backward shifts the gradient the same way in time as the forward",
        "dynamic_inference/shift.py",
        "        ctx.shift = (n_frames, fold, tuple(-step for step in steps))\n",
        "        ctx.shift = (n_frames, fold, steps)\n",
        ("tests/test_shift.py",),
    ),
    Mutation(
        "shift: streaming ignores the cached fold of the previous group",
        "dynamic_inference/shift.py",
        "    _move(v, o, 0, fold, 1, 0.0 if last is None else last)\n",
        "    _move(v, o, 0, fold, 1, 0.0)\n",
        ("tests/test_shift.py",),
    ),
    # ---- calibration (not calibrate_within_loss: being rewritten) ----
    Mutation(
        "calibrate: budgeted quotas filled with > instead of >=",
        "dynamic_inference/calibrate.py",
        "        stops = running & (table.conf[:, k] >= t)\n",
        "        stops = running & (table.conf[:, k] > t)\n",
        ("tests/test_calibrate.py::test_budgeted_thresholds_fill_the_quotas",
         "tests/test_calibrate.py::test_budgeted_quota_with_tied_confidences_lets_the_ties_exit"),
    ),
    Mutation(
        "calibrate: exit fractions follow p**(P-k) instead of p**k",
        "dynamic_inference/calibrate.py",
        "    log_w = math.log(p) * torch.arange(num_points, dtype=torch.float64)\n",
        "    log_w = math.log(p) * torch.arange(num_points, 0, -1, dtype=torch.float64)\n",
        ("tests/test_calibrate.py::test_exit_fractions",),
    ),
    Mutation(
        "calibrate: oracle takes the dearest correct point",
        "dynamic_inference/calibrate.py",
        "    best = cost_if_correct.min(dim=1).values  # (V,)\n",
        "    best = torch.where(table.correct, table.costs, 0.0).max(dim=1).values  # (V,)\n",
        ("tests/test_calibrate.py::test_oracle_by_hand",),
    ),
    Mutation(
        "evaluate: --budget-ms calibrated on the test split",
        "dynamic_inference/evaluate.py",
        "        thresholds, rule = choose_thresholds(sch, val, ms_costs, budget_ms,"
        " unit=\"ms\")\n",
        "        thresholds, rule = choose_thresholds(sch, test, ms_costs, budget_ms,"
        " unit=\"ms\")\n",
        (f"{E2E}::test_every_threshold_rule_reads_val_only",),
    ),
    # ---- data ----
    Mutation(
        "data: TSN evaluation takes segment starts, not centres",
        "dynamic_inference/data/video.py",
        "        offsets = np.full(n, 0.5)\n",
        "        offsets = np.full(n, 0.0)\n",
        ("tests/test_video.py::test_tsn_eval_takes_segment_centres",),
    ),
    Mutation(
        "data: the last record of a split is dropped",
        "dynamic_inference/data/datasets.py",
        "    records = annotations.records[:limit] if limit is not None"
        " else annotations.records\n",
        "    records = annotations.records[:limit] if limit is not None"
        " else annotations.records[:-1]\n",
        (f"{E2E}::test_evaluate_report_matches_a_plain_recomputation",),
    ),
    Mutation(
        "default rule: the unified scheme ignores the input axis' solution (not monotone)",
        "dynamic_inference/calibrate.py",
        "    descents = [_descend(table, admissible, start, free, grid) for start in starts]\n"
        "    candidates = torch.cat([torch.stack(starts), torch.stack(descents),\n",
        "    descents = [_descend(table, admissible, start, free, grid) for start in starts]\n"
        "    candidates = torch.cat([torch.stack(starts[:1]), torch.stack(descents[:1]),\n",
        ("tests/test_calibrate.py::test_default_rule_is_monotone_unified_never_costlier_than_the_"
         "input_axis",),
    ),
    Mutation(
        "default rule: the standard error is not added to the loss",
        "dynamic_inference/calibrate.py",
        "        return loss + z * se <= max_loss + 1e-9\n",
        "        return loss <= max_loss + 1e-9\n",
        ("tests/test_calibrate.py::test_default_rule_discounts_settings_that_were_lucky_on_"
         "validation",),
    ),
    Mutation(
        "head pricing: an exit's head not paid at its own point",
        "dynamic_inference/schemes.py",
        "extra[i, e] = per_group * h[e] * ((p.group - 1) + (e <= p.exit - 1))",
        "extra[i, e] = per_group * h[e] * ((p.group - 1) + (e < p.exit - 1))",
        ("tests/test_calibrate.py::test_head_pricing_matches_exit_costs_with_the_live_heads",),
    ),
    Mutation(
        "budgeted thresholds placed on a val confidence (engine flips ties)",
        "dynamic_inference/calibrate.py",
        "            top[wanted - 1].item() + top[wanted].item()) / 2\n",
        "            top[wanted - 1].item() + top[wanted - 1].item()) / 2\n",
        (f"{E2E}::test_engine_agrees_when_the_evaluated_split_is_the_calibration_split",),
    ),
]


def tree_files(root: Path) -> list[str]:
    """Tracked and untracked, non-ignored files of the working tree (what git would see)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    return [f for f in out.split("\0") if f and (root / f).is_file()]


def copy_tree(root: Path, dest: Path) -> None:
    for rel in tree_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def check_snippets(root: Path, mutations: list[Mutation]) -> None:
    """Every snippet must occur exactly once: fail loudly before anything runs."""
    problems = []
    for m in mutations:
        path = root / m.file
        if not path.is_file():
            problems.append(f"{m.name}: {m.file} does not exist")
            continue
        n = path.read_text().count(m.old)
        if n != 1:
            problems.append(f"{m.name}: snippet found {n} times in {m.file}:\n{m.old}")
    if problems:
        sys.exit("mutate.py: the mutation list no longer matches the code:\n"
                 + "\n".join(problems))


def run_tests(scratch: Path, tests: tuple[str, ...], timeout: int) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(scratch), "OMP_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                              *tests], cwd=scratch, env=env, capture_output=True, text=True,
                             timeout=timeout)
        code, out = res.returncode, res.stdout + res.stderr
    except subprocess.TimeoutExpired as e:
        code, out = -1, f"timeout after {timeout} s\n{e.stdout or ''}"
    return code, out, time.perf_counter() - t0


def first_failure(output: str) -> str:
    m = re.search(r"^(FAILED|ERROR) (\S+)", output, flags=re.M)
    return m.group(2) if m else output.strip().splitlines()[-1] if output.strip() else "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-k", default="", help="only mutations whose name contains this text")
    p.add_argument("--list", action="store_true", help="list the mutations and exit")
    p.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    p.add_argument("--timeout", type=int, default=600, help="seconds per test run")
    args = p.parse_args(argv)
    mutations = [m for m in MUTATIONS if args.k.lower() in m.name.lower()]
    check_snippets(REPO, MUTATIONS)
    if args.list:
        for m in mutations:
            print(f"{m.name}\n    {m.file}\n    " + "\n    ".join(m.tests))
        return 0
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutate_") as tmp:
        scratch = Path(tmp) / "repo"
        copy_tree(REPO, scratch)
        probe = subprocess.run([sys.executable, "-c",
                                "import dynamic_inference; print(dynamic_inference.__file__)"],
                               cwd=scratch, env={**os.environ, "PYTHONPATH": str(scratch)},
                               capture_output=True, text=True, check=True).stdout.strip()
        if not probe.startswith(str(scratch)):
            sys.exit(f"mutate.py: the scratch copy imports dynamic_inference from {probe}")
        if not args.no_baseline:
            targets = tuple(dict.fromkeys(t for m in mutations for t in m.tests))
            code, out, secs = run_tests(scratch, targets, args.timeout * 2)
            if code != 0:
                sys.exit(f"mutate.py: the tests fail without any mutation ({secs:.0f} s):\n"
                         + out[-3000:])
            print(f"baseline: {len(targets)} test targets pass unmutated ({secs:.0f} s)")
        rows = []
        for m in mutations:
            path = scratch / m.file
            original = path.read_text()
            path.write_text(original.replace(m.old, m.new, 1))
            try:
                code, out, secs = run_tests(scratch, m.tests, args.timeout)
            finally:
                path.write_text(original)
            caught = code != 0
            rows.append((m.name, m.file, "caught" if caught else "SURVIVED",
                         first_failure(out) if caught else "-", secs))
            print(f"{'caught  ' if caught else 'SURVIVED'} {secs:6.1f} s  {m.name}", flush=True)
    print("\n| mutation | file | result | caught by | s |\n| --- | --- | --- | --- | --- |")
    for name, file, result, by, secs in rows:
        print(f"| {name} | {file} | {result} | {by} | {secs:.0f} |")
    survived = sum(r[2] == "SURVIVED" for r in rows)
    print(f"\n{len(rows)} mutations, {survived} survived, "
          f"{time.perf_counter() - t_start:.0f} s in all")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
