"""Smoke tests of the benchmark scripts (benchmarks/): each ``main`` runs in ``--quick`` mode on
tiny inputs and writes valid JSON with the expected keys; the GPU script skips cleanly without
CUDA; a missing checkpoint is one clear line and exit code 2.

The checkpoint-based scripts are tested in two ways: on a random-weight checkpoint written to a
temporary folder (synthetic clips, no data needed), and, when ``checkpoints/tiny_online.pt`` and
the dataset loader exist, on the shipped checkpoint with a 16-clip dataset made of the mini
sample clips (so the test takes seconds, not a full evaluation).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from dynamic_inference.engine import WORK_KINDS

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_common  # noqa: E402
import dynamic_vs_static  # noqa: E402
import early_exit_speed  # noqa: E402
import flops_table  # noqa: E402
import fold_speed  # noqa: E402
import gpu_paper_scale  # noqa: E402
import online_shift  # noqa: E402
import run_all  # noqa: E402
import serving_speed  # noqa: E402
import shift_overhead  # noqa: E402
import stream_shift_calls  # noqa: E402

SHIPPED = REPO / "checkpoints" / "tiny_online.pt"
SAMPLE = REPO / "datasets_mini" / "sample"


def _has_loader() -> bool:
    try:
        from dynamic_inference.data.datasets import load_dataset  # noqa: F401
    except ImportError:
        return False
    return True


needs_shipped = pytest.mark.skipif(
    not (SHIPPED.is_file() and _has_loader() and (SAMPLE / "sample.csv").is_file()),
    reason="checkpoints/tiny_online.pt, the dataset loader or the mini sample clips are absent",
)


@pytest.fixture(autouse=True)
def _keep_threads():
    """The scripts set torch's thread count; restore it for the other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _json(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"{path} was not written"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny online-shift checkpoint with random weights (the format of the trained ones)."""
    from dynamic_inference.backbones import build_model
    from dynamic_inference.data.mini import CLASS_NAMES
    from dynamic_inference.train import TrainConfig, save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_random.pt"
    classes = list(CLASS_NAMES)  # evaluate checks them against the dataset's
    save_checkpoint(build_model("tiny", 16), TrainConfig(), {"classes": classes}, path)
    return path


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MiniActions root whose val and test splits are the 16 sample clips (one per class)."""
    root = tmp_path_factory.mktemp("mini")
    shutil.copytree(SAMPLE, root / "sample")
    for name in ("classes.json", "recipe.json"):
        if (SAMPLE.parent / name).is_file():
            shutil.copy(SAMPLE.parent / name, root / name)
    with (SAMPLE / "sample.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for split in ("val", "test"):
        with (root / f"{split}.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows([{**r, "split": split} for r in rows])
    return root


# --------------------------------------------------------------------------------------------
# Helpers


def test_interleaved_rotates_and_ratios() -> None:
    calls: list[str] = []
    times = bench_common.interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1
    )
    assert [len(v) for v in times.values()] == [3, 3]
    assert calls[:2] != calls[2:4]  # the order rotates between rounds
    stats = bench_common.ratio_stats([2.0, 4.0, 6.0], [1.0, 2.0, 2.0])
    assert stats["median"] == 2.0 and stats["max"] == 3.0 and stats["n"] == 3
    assert bench_common.as_overhead_pct({"median": 1.05, "n": 3})["median"] == pytest.approx(5.0)


def test_forced_targets_follow_fractions() -> None:
    t = bench_common.forced_targets([0.4, 0.3, 0.3], 10)
    assert torch.bincount(t, minlength=3).tolist() == [4, 3, 3]
    with pytest.raises(bench_common.BenchmarkError):
        bench_common.forced_targets([0.5, 0.6], 10)


# --------------------------------------------------------------------------------------------
# Scripts without a checkpoint


def test_flops_table_quick(tmp_path: Path) -> None:
    out = tmp_path / "flops.json"
    flops_table.main(["--quick", "--json", str(out)])
    report = _json(out)
    assert report["benchmark"] == "flops_table" and report["env"]["threads"] == 1
    from dynamic_inference.backbones import build_model
    from dynamic_inference.flops import cost_table

    rows = {r["frames"]: r for r in report["rows"] if r["model"] == "tiny"}
    row = rows[16]
    table = cost_table(build_model("tiny", row["classes"]), row["size"])
    # the table's numbers, recomputed: full = frames x (stages + last head); all heads = frames
    # x the last cumulative exit cost; 8 frames cost half of 16
    assert row["full_gflops_per_video"] == pytest.approx(
        16 * (sum(table.stage_gflops) + table.head_gflops[-1]), abs=1e-4)
    assert row["all_heads_gflops_per_video"] == pytest.approx(
        16 * table.gflops_per_frame[-1], abs=1e-4)
    assert [e["gflops_per_frame"] for e in row["exit_gflops_per_frame"]] == pytest.approx(
        list(table.gflops_per_frame), abs=1e-5)
    assert rows[8]["full_gflops_per_video"] == pytest.approx(row["full_gflops_per_video"] / 2,
                                                             abs=1e-4)
    assert row["full_gflops_per_video"] < row["all_heads_gflops_per_video"]


def test_flops_rows_cover_the_paper_models() -> None:
    models = {r.model for r in flops_table.PAPER_ROWS}
    assert {"tsn_resnet50", "tsm_resnet50", "tsm_resnet101", "msdnet38", "tiny"} <= models


@pytest.mark.parametrize("fold", [False, True])
def test_online_shift_quick(tmp_path: Path, fold: bool) -> None:
    out = tmp_path / "online.json"
    online_shift.main(["--quick", "--json", str(out)] + (["--fold"] if fold else []))
    row = _json(out)["rows"][0]
    assert row["folded"] is fold
    assert row["stream_equals_whole_clip_max_abs_diff"] <= 1e-5
    assert row["rerun_prefix_equals_stream_max_abs_diff"] <= 1e-5
    assert set(row["ms_per_new_frame"]) == {
        "stream", "stream_noshift", "rerun_prefix", "rerun_window"}
    for stats in row["ms_per_new_frame"].values():
        assert stats["n"] == row["repeats"] and 0 < stats["q1"] <= stats["median"] <= stats["q3"]
    for key in ("stream_shift_overhead_pct", "whole_clip_shift_overhead_pct",
                "stream_speedup_vs_rerun_prefix"):
        stats = row[key]
        assert stats["min"] <= stats["q1"] <= stats["median"] <= stats["q3"] <= stats["max"]
    assert row["stream_speedup_vs_rerun_prefix"]["min"] > 0
    assert row["meets_overhead_target"] == (
        row["stream_shift_overhead_pct"]["median"] <= 5.0 + 1e-9)  # <= 5%
    assert row["meets_speedup_target"] == (row["stream_speedup_vs_rerun_prefix"]["median"] >= 5)


def test_shift_overhead_quick(tmp_path: Path) -> None:
    out = tmp_path / "shift.json"
    shift_overhead.main(["--quick", "--json", str(out)])
    rows = _json(out)["rows"]
    assert {(r["layout"], r["mode"]) for r in rows} == {
        (lay, m) for lay in ("contiguous", "channels_last") for m in ("offline", "online")}
    for r in rows:
        stats = r["overhead_pct"]
        assert stats["n"] == 3 and stats["min"] <= stats["median"] <= stats["max"]
        assert r["conv_ms"]["median"] > 0 and r["shift_conv_ms"]["median"] > 0
    # the plain conv of a layout is the one baseline of both shift modes
    by_layout = {r["layout"]: r["conv_ms"] for r in rows if r["mode"] == "offline"}
    assert all(r["conv_ms"] == by_layout[r["layout"]] for r in rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-CUDA path")
def test_gpu_script_skips_without_cuda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gpu.json"
    monkeypatch.setattr(sys, "argv", ["gpu_paper_scale.py", "--json", str(out)])
    bench_common.run_cli(gpu_paper_scale.main)  # returns normally: exit code 0
    assert "CUDA not available: skipped" in capsys.readouterr().out
    assert _json(out)["skipped"] is True


@pytest.mark.parametrize("fold", [False, True])
def test_gpu_script_logic_on_cpu(tmp_path: Path, fold: bool) -> None:
    out = tmp_path / "gpu_cpu.json"
    gpu_paper_scale.main(["--device", "cpu", "--models", "tiny", "--size", "64", "--frames", "4",
                          "--batch", "4", "--dtype", "fp32", "--quick", "--json", str(out)]
                         + (["--fold"] if fold else []))
    report = _json(out)
    assert report["skipped"] is False
    row = report["rows"][0]
    for key in ("wall_speedup", "flops_reduction_factor", "shift_overhead_pct", "clips_per_s"):
        assert key in row
    assert len(row["stages"]) == 4
    assert sum(s["time_share"] for s in row["stages"]) == pytest.approx(1.0)
    # served: a stream of 4 x batch clips at batch x frames per call
    assert row["n_clips"] == 16 and row["frames_per_call"] == 16 and row["full_calls"] >= 1


# --------------------------------------------------------------------------------------------
# Checkpoint-based scripts


@pytest.mark.parametrize("script", [early_exit_speed, dynamic_vs_static])
def test_missing_checkpoint_is_one_line(
    script: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "argv", ["x.py", "--checkpoint", str(tmp_path / "none.pt")])
    with pytest.raises(SystemExit) as exc:
        bench_common.run_cli(script.main)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "none.pt" in lines[0] and "not found" in lines[0]


def test_early_exit_speed_synthetic(tmp_path: Path, random_checkpoint: Path) -> None:
    out = tmp_path / "speed.json"
    early_exit_speed.main(["--checkpoint", str(random_checkpoint), "--synthetic", "--quick",
                           "--json", str(out)])
    report = _json(out)
    assert [r["batch"] for r in report["rows"]] == [1, 8]
    assert report["flops_reduction_factor"] >= 1.0
    assert sum(report["stop_histogram"].values()) == report["n_clips"]
    for key in ("wall_speedup", "predicted_speedup", "predicted_speedup_group_calls",
                "speedup_over_flops_factor", "speedup_over_predicted",
                "latency_table_ms_per_frame"):
        assert key in report["rows"][0]


def test_serving_speed_synthetic(tmp_path: Path, random_checkpoint: Path, capsys) -> None:
    """The serving benchmark prints the breakdown per kind of work and the ratios."""
    out = tmp_path / "serving.json"
    serving_speed.main(["--checkpoint", str(random_checkpoint), "--synthetic", "--quick",
                        "--json", str(out)])
    report = _json(out)
    assert [r["budget"] for r in report["rows"]] == [16, 64]
    row = report["rows"][0]["schemes"]
    assert set(row) == {"full", "depth", "input", "unified"}
    for key in ("throughput_ratio", "flops_factor", "predicted_ratio_calls", "over_flops",
                "over_predicted", "seconds"):
        assert key in row["unified"]
    assert set(row["unified"]["seconds"]) == set(WORK_KINDS)
    assert set(report["batch1"]) == {"full", "depth", "input", "unified", "stream",
                                     "depth-pruned", "input-pruned", "unified-pruned"}
    plan = report["batch1_plans"]["unified"]
    assert plan["choice"] in ("unified-pruned", "full") and plan["predicted_ms"] > 0
    assert "decision_ms_p95" in report["batch1"]["unified"]
    measured = report["batch1_plan_measured"]
    assert set(measured) == {"depth", "input", "unified"} and report["folded"] is True
    for name, m in measured.items():  # the plan's choice is what was timed for it
        assert m["choice"] == report["batch1_plans"][name]["choice"]
        assert m["ms_per_video"] == report["batch1"][m["choice"]]["ms_per_video"]
    text = capsys.readouterr().out
    assert "breakdown at 16 frames per call" in text and "shift ms" in text
    assert "batch 1 with the plan's choice" in text


def test_fold_speed_quick(tmp_path: Path, random_checkpoint: Path) -> None:
    """The eager vs folded table: one row per call size, the outputs checked equal first."""
    out = tmp_path / "fold.json"
    fold_speed.main(["--checkpoint", str(random_checkpoint), "--quick", "--json", str(out)])
    report = _json(out)
    assert [r["frames"] for r in report["rows"]] == [1, 4]
    assert all(r["max_abs_diff"] < 1e-3 and r["speedup"]["median"] > 0 for r in report["rows"])


def test_stream_shift_calls_quick(tmp_path: Path) -> None:
    out = tmp_path / "calls.json"
    stream_shift_calls.main(["--quick", "--json", str(out)])
    rows = _json(out)["rows"]
    assert len(rows) == 7  # the tiny net's shift layers: one per BasicBlock
    assert all(r["shift_us"] > 0 and r["conv_us"] > 0 and r["shape"][0] == 1 for r in rows)


def test_run_all_quick_without_checkpoint(tmp_path: Path) -> None:
    report = run_all.main(["--quick", "--out", str(tmp_path), "--checkpoint",
                           str(tmp_path / "none.pt"),
                           "--only", "flops_table,early_exit_speed,gpu_paper_scale"])
    status = {e["benchmark"]: e["status"] for e in report["benchmarks"]}
    assert status["flops_table"] == "ok"
    assert status["early_exit_speed"] == "skipped"
    expected_gpu = "ok" if torch.cuda.is_available() else "skipped"
    assert status["gpu_paper_scale"] == expected_gpu
    assert _json(tmp_path / "summary.json")["benchmarks"] == report["benchmarks"]


@pytest.mark.skipif(not (_has_loader() and (SAMPLE / "sample.csv").is_file()),
                    reason="the dataset loader or the mini sample clips are absent")
def test_dynamic_vs_static_random_weights(
    tmp_path: Path, random_checkpoint: Path, sample_root: Path
) -> None:
    out = tmp_path / "dvs.json"
    dynamic_vs_static.main(["--checkpoint", str(random_checkpoint), "--data", str(sample_root),
                            "--quick", "--json", str(out)])
    report = _json(out)
    assert [r["scheme"] for r in report["rows"]] == ["full", "depth", "unified"]
    full = report["rows"][0]
    assert full["gflops_per_video"] == full["full_gflops_per_video"]
    assert full["reduction_pct"] == 0.0 and full["top1"] == full["full_top1"]
    for r in report["rows"]:
        assert r["engine_matches_simulation"] is True
        assert sum(r["stop_histogram"].values()) == r["n_videos"] == 16
        costs = [op["gflops_per_video"] for op in r["curve"]]
        assert costs == sorted(costs)
        best = r["best_static_at_cost"]
        if best is not None:  # the best static setting that costs no more than the row
            assert best["gflops_per_video"] <= r["gflops_per_video"] + 1e-9
            assert r["beats_static"] == (r["top1"] > best["top1"])
    assert report["static"] and report["oracle"]
    assert Path(report["plot"]).is_file()


@needs_shipped
def test_dynamic_vs_static_shipped(tmp_path: Path, sample_root: Path) -> None:
    out = tmp_path / "dvs.json"
    dynamic_vs_static.main(["--checkpoint", str(SHIPPED), "--data", str(sample_root), "--quick",
                            "--json", str(out)])
    assert {r["scheme"] for r in _json(out)["rows"]} == {"full", "depth", "unified"}


@needs_shipped
def test_early_exit_speed_shipped(tmp_path: Path, sample_root: Path) -> None:
    out = tmp_path / "speed.json"
    early_exit_speed.main(["--checkpoint", str(SHIPPED), "--data", str(sample_root), "--quick",
                           "--json", str(out)])
    report = _json(out)
    assert report["n_clips"] == 8 and "evaluate()" in report["threshold_rule"]
