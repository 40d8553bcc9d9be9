"""The results-over-seeds benchmark (benchmarks/seeds.py) end to end on a tiny new seed: it makes
the data, evaluates every scheme with thresholds from that seed's own val split, and the default
rule is monotone there (the unified scheme never costs more on val than the input axis)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import seeds  # noqa: E402

SHIPPED = REPO / "checkpoints" / "tiny_online.pt"


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped checkpoint absent")
def test_seeds_quick_on_a_new_seed(tmp_path: Path) -> None:
    report = seeds.main(["--quick", "--seeds", "7", "--root", str(tmp_path),
                         "--json", str(tmp_path / "out.json")])
    assert (tmp_path / "seed_7_2" / "val.csv").is_file() and (tmp_path / "out.json").is_file()
    rows = dict(report["per_seed"]["7"])
    pareto = rows.pop("pareto")
    bound = rows.pop("bound")
    assert set(bound) == {"depth", "input", "unified"}
    for b in bound.values():  # a setting chosen on test within the loss target, or none (0 cut)
        assert 0.0 <= b["cut_pct"] < 100.0 and b["loss_pt"] <= seeds.TARGET_LOSS_PT + 1e-6
    assert set(rows) == {"depth", "input", "unified"}
    for split in ("val", "test"):
        for axis in ("depth", "input"):
            d = pareto[split][f"unified_vs_{axis}"]
            assert 0 <= d["dominated"] + d["uncovered"] <= d["points"] > 0
            assert report["summary"][f"pareto_{split}_unified_vs_{axis}"]["points"] == d["points"]
    for r in rows.values():
        assert r["n_videos"] == 32  # 2 test clips x 16 classes
        assert sum(r["stop_histogram"].values()) == 32
        low, high = r["loss_ci95"]
        assert low <= r["loss_pt"] <= high
        assert r["loss_pt"] == pytest.approx(r["full_top1"] - r["top1"], abs=0.02)
    assert rows["unified"]["val_gflops_per_video"] <= rows["input"]["val_gflops_per_video"] + 1e-4
    assert report["summary"]["unified"]["cut_min"] == rows["unified"]["cut_pct"]


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped checkpoint absent")
def test_rule_margin_at_the_default_allowance_is_the_default_rule(tmp_path: Path) -> None:
    """benchmarks/rule_margin.py reads val only; at 0.5 pt it must reproduce the val cut and val
    loss of `evaluate`'s default rule; allowing 0 pt (plus one SE) never chooses a val loss."""
    import rule_margin

    from dynamic_inference.evaluate import evaluate

    data = seeds.ensure_seed(tmp_path, 7, 2)
    got = rule_margin.val_cuts(SHIPPED, data, ["depth", "unified"], [0.5, 0.0])
    for scheme, (default, strict) in got.items():
        rep = evaluate(SHIPPED, "test", scheme, data=data, engine=False).to_report()
        cut = 100.0 * (1.0 - rep["val_gflops_per_video"] / rep["full_gflops_per_video"])
        assert default["cut_pct"] == pytest.approx(cut, abs=0.02), scheme
        assert default["val_loss_pt"] == pytest.approx(rep["val_top1_loss_pt"], abs=0.02)
        assert strict["val_loss_pt"] <= 1e-9
