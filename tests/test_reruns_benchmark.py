"""The training-noise summary (benchmarks/reruns.py): it reads train provenance and seeds.py
reports, and its target checks fail where a target is missed."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import reruns  # noqa: E402
from bench_common import BenchmarkError  # noqa: E402


def _scheme(cut: float, loss_mean: float, loss_max: float) -> dict:
    return {"cut_mean": cut, "cut_min": cut, "cut_max": cut, "loss_mean": loss_mean,
            "loss_min": 0.0, "loss_max": loss_max, "full_fallbacks": 0}


def _report() -> dict:
    """A seeds.py report that meets every target (two seeds)."""
    per_seed = {s: {k: {"loss_pt": 0.3, "val_loss_pt": 0.2, "full_top1": 80.0}
                    for k in reruns.SCHEMES} for s in ("101", "202")}
    pareto = {"dominated": 5, "points": 5, "worst_gap_pt": 0.0}
    summary = {"depth": _scheme(45.0, 0.3, 0.5), "input": _scheme(60.0, 0.0, 0.2),
               "unified": _scheme(70.0, 0.1, 0.4),
               **{f"pareto_{sp}_unified_vs_{a}": dict(pareto)
                  for sp in ("val", "test") for a in ("depth", "input")}}
    return {"seeds": [101, 202], "per_seed": per_seed, "summary": summary,
            "seed0": {"depth": {"full_top1": 80.0}}}


def test_every_target_met_and_each_miss_detected() -> None:
    ok = _report()
    assert all(reruns.target_checks(ok).values())
    misses = {
        "depth": lambda r: r["summary"]["depth"].update(loss_mean=0.61),  # run C's mean loss
        "unified": lambda r: r["summary"]["unified"].update(loss_max=1.12),  # one seed over 1 pt
        "no_fallback": lambda r: r["summary"]["input"].update(full_fallbacks=1),
        "unified_dominates": lambda r: r["summary"]["pareto_val_unified_vs_input"].update(
            dominated=4),
        "full_top1": lambda r: r["seed0"]["depth"].update(full_top1=71.9),
    }
    for name, spoil in misses.items():
        bad = copy.deepcopy(ok)
        spoil(bad)
        checks = reruns.target_checks(bad)
        assert not checks[name] and all(v for k, v in checks.items() if k != name), name
    short = copy.deepcopy(ok)
    short["summary"]["depth"]["cut_mean"] = 39.9
    assert not reruns.target_checks(short)["depth"]


def test_optimism_is_test_minus_val_loss() -> None:
    a, b = _report(), _report()
    b["per_seed"]["101"]["depth"]["loss_pt"] = 1.2  # gap 1.0 on one of four pairs
    got = reruns.optimism([a, b])["depth"]
    assert got["n"] == 4 and got["max"] == pytest.approx(1.0) and got["min"] == pytest.approx(0.1)
    assert got["mean"] == pytest.approx((0.1 * 3 + 1.0) / 4, abs=0.01)


def test_main_reads_the_kept_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prov = {"command": "python -m dynamic_inference train ...", "seed": 3, "torch_threads": 2,
            "hardware": "Some CPU, AVX2", "train_time_s": 600.0, "steps": 1000,
            "val_top1_per_exit": [50.0, 60.0, 70.0, 80.0]}
    (tmp_path / "p.json").write_text(json.dumps(prov))
    (tmp_path / "s.json").write_text(json.dumps(_report()))
    out = reruns.main(["--run", "x", str(tmp_path / "p.json"), str(tmp_path / "s.json"),
                       "--run", "y", "-", str(tmp_path / "s.json"),
                       "--json", str(tmp_path / "out.json")])
    assert [r["run"] for r in out["runs"]] == ["x", "y"]
    assert out["runs"][0]["train_min"] == 10.0 and out["runs"][0]["s_per_step"] == 0.6
    assert "train_min" not in out["runs"][1] and out["targets_met"]["depth"] == 2
    assert json.loads((tmp_path / "out.json").read_text())["optimism"]["depth"]["n"] == 4
    assert "Some CPU, AVX2" in capsys.readouterr().out


def test_default_runs_are_kept_in_the_repository() -> None:
    for _, prov, seeds in reruns.RUNS:
        assert seeds.is_file(), seeds
        assert prov is None or prov.is_file(), prov
    out = reruns.main([])
    assert len(out["runs"]) == len(reruns.RUNS)


def test_a_missing_report_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="seeds report .* not found"):
        reruns.main(["--run", "x", "-", str(tmp_path / "absent.json")])


def test_between_runs_spreads_each_runs_mean() -> None:
    a, b = _report(), _report()
    b["summary"]["depth"].update(cut_mean=39.0, loss_mean=0.61)
    rows = [reruns.run_row("a", None, a), reruns.run_row("b", None, b)]
    got = reruns.between_runs(rows)["depth"]
    assert got["cut"]["min"] == 39.0 and got["cut"]["max"] == 45.0
    assert got["cut"]["mean"] == pytest.approx(42.0) and got["loss"]["max"] == 0.61
    assert got["cut"]["sd"] == pytest.approx(4.24, abs=0.01)


def test_a_file_that_is_not_a_report_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"benchmark": "flops_table"}))
    with pytest.raises(BenchmarkError, match="is not a seeds.py report"):
        reruns.main(["--run", "x", "-", str(tmp_path / "other.json")])
