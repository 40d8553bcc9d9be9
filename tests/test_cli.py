"""Command-line contracts: bad input is one line on stderr and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dynamic_inference", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def assert_clean_error(res: subprocess.CompletedProcess, *words: str) -> None:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_flops_json_contract():
    res = run("flops", "--model", "tsm_resnet50", "--frames", "8", "--no-exits", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"model", "frames", "size", "params_m", "gflops_per_video", "exits"}
    assert abs(out["gflops_per_video"] - 32.9) / 32.9 < 0.01


@pytest.mark.parametrize(
    "args, words",
    [
        (["flops", "--model", "resnet9000", "--frames", "8"], ["resnet9000"]),
        (["flops", "--model", "tiny", "--frames", "0"], ["--frames"]),
        (["evaluate", "--checkpoint", "nope.pt", "--scheme", "depth"], ["nope.pt"]),
        (["stream", "nope.mp4", "--checkpoint", "nope.pt"], ["nope.pt"]),
        (["train", "--out", "x.pt", "--frames", "6", "--groups", "4"], ["--groups"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, words):
    assert_clean_error(run(*args), *words)


def test_bad_threshold_and_budget(tmp_path: Path):
    ck = ROOT / "checkpoints" / "tiny_online.pt"
    if not ck.is_file():
        pytest.skip("shipped checkpoint absent")
    assert_clean_error(run("evaluate", "--checkpoint", str(ck), "--scheme", "depth",
                           "--threshold", "1.5"), "threshold")
    assert_clean_error(run("evaluate", "--checkpoint", str(ck), "--scheme", "depth",
                           "--budget", "-1"), "budget")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video")
    assert_clean_error(run("stream", str(bad), "--checkpoint", str(ck)), "bad.mp4")


def test_foreign_checkpoint(tmp_path: Path):
    junk = tmp_path / "foreign.pt"
    junk.write_bytes(b"\x80\x02}q\x00.")  # a pickle of an empty dict
    assert_clean_error(run("evaluate", "--checkpoint", str(junk), "--scheme", "full"),
                       "foreign.pt")


def test_time_budget_is_calibrated_on_a_measured_latency_table(monkeypatch):
    """``budget_ms``: thresholds for a mean compute time per video on this machine (issue 7:
    calibration can target a time budget). On val, the predicted time is within the budget.

    The latency table is measured once here and handed to ``evaluate`` (two measurements on a
    loaded 2-core machine differed by 8x and put the budget outside evaluate's own range)."""
    ck = ROOT / "checkpoints" / "tiny_online.pt"
    if not ck.is_file():
        pytest.skip("shipped checkpoint absent")
    import dynamic_inference.evaluate as ev
    from dynamic_inference.checkpoint import load_checkpoint
    from dynamic_inference.cost import measure_latency
    from dynamic_inference.errors import ConfigError
    from dynamic_inference.evaluate import evaluate
    from dynamic_inference.logits import LogitCache
    from dynamic_inference.schemes import make_scheme

    cache = LogitCache()  # the splits are decoded and run once for the calls below
    model, cfg, _ = load_checkpoint(ck)
    sch = make_scheme("unified")
    table = measure_latency(model, 4, cfg.input_size, batch=32)
    monkeypatch.setattr(ev, "measure_latency", lambda *a, **k: list(table))
    ms = sch.point_costs(table, cfg.frames)
    budget = float(ms[0] + ms[-1]) / 2  # well inside [first point, full] despite timing noise
    r = evaluate(ck, "test", "unified", engine=False, budget_ms=budget, cache=cache).to_report()
    assert r["budget_ms_per_video"] == budget and len(r["latency_ms_per_frame"]) == 4
    assert r["val_predicted_ms_per_video"] <= budget + 1e-3  # rounded to 3 decimals
    assert r["predicted_ms_per_video"] < r["full_predicted_ms_per_video"]
    assert "ms/video" in r["threshold_rule"] and r["reduction_pct"] > 0
    with pytest.raises(ConfigError, match="ms/video"):
        evaluate(ck, "test", "unified", engine=False, budget_ms=1e6, cache=cache)  # > full cost
    with pytest.raises(ConfigError, match="budget-ms"):
        evaluate(ck, "test", "unified", engine=False, budget_ms=-1.0, cache=cache)
    with pytest.raises(ConfigError, match="combined"):
        evaluate(ck, "test", "unified", engine=False, budget_ms=budget, threshold=0.5,
                 cache=cache)
    assert_clean_error(run("evaluate", "--checkpoint", str(ck), "--scheme", "depth",
                           "--budget-ms", "0"), "budget-ms")
