"""``evaluate`` and ``stream`` end to end on real MiniActions clips (issue 20).

The split is small: a MiniActions root made in a temporary folder whose splits are the 16 sample
clips shipped in git (one per class), with a random-weight tiny checkpoint (online shift,
trained order ``strided`` in 4 groups) whose predictions depend on the frames. Each test runs in
seconds. What is pinned:

* every threshold rule (default, ``threshold``, ``budget``, ``budget_ms``) reads the validation
  split only: the thresholds stay the same when the test split's labels are permuted or the
  test split is other clips;
* the frame order: full inference and the depth axis see the frames in the checkpoint's
  training order, and so does the engine (``run_engine``): the test labels are set to the
  predictions computed here in that order, so the reported top-1 is exactly 100%, and the
  engine agrees with the simulation;
* the costs a scheme pays, summed by hand from the cost table's parts;
* the ``stream`` command: its flags change what it does, and its answer is the whole clip's.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from dynamic_inference.data.mini import CLASS_NAMES

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "datasets_mini" / "sample"
# the strided (coarse-to-fine) order of 16 frames in 4 groups, by hand
STRIDED_16_4 = [0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15]

pytestmark = pytest.mark.skipif(not (SAMPLE / "sample.csv").is_file(),
                                reason="the mini sample clips are absent")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sample_rows() -> list[dict[str, str]]:
    with (SAMPLE / "sample.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def make_root(path: Path, val: list[dict], test: list[dict]) -> Path:
    """A MiniActions root at ``path`` whose val and test splits are the given sample rows."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "sample").exists():
        (path / "sample").symlink_to(SAMPLE, target_is_directory=True)
    for split, rows in (("val", val), ("test", test)):
        with (path / f"{split}.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows([{**r, "split": split} for r in rows])
    return path


def relabel(rows: list[dict], labels: list[int]) -> list[dict]:
    return [{**r, "label": str(y), "label_name": CLASS_NAMES[y]} for r, y in zip(rows, labels)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> torch.Tensor:
    """The 16 sample clips as the evaluation loader gives them: (16, T, 3, H, W), time order."""
    from dynamic_inference.checkpoint import TrainConfig
    from dynamic_inference.logits import load_split

    rows = _sample_rows()
    root = make_root(tmp_path_factory.mktemp("decode"), rows, rows)
    ds = load_split(TrainConfig(model="tiny", frames=16), "test", root)
    return torch.stack([ds[i][0] for i in range(len(ds))])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, clips) -> Path:
    """A random-weight tiny checkpoint, online shift, trained order strided in 4 groups. Its
    exit classifiers are rescaled and centred on the sample clips so that the predictions vary
    between clips and depend on the frame order (random nets predict one class for all)."""
    from dynamic_inference.backbones import build_model
    from dynamic_inference.train import TrainConfig, save_checkpoint

    torch.manual_seed(0)
    cfg = TrainConfig(model="tiny", shift="online", frames=16, groups=4, order="strided")
    model = build_model("tiny", 16, shift="online").eval()
    with torch.inference_mode():
        frames = model(clips[:, STRIDED_16_4]).stacked_logits().transpose(0, 1).flatten(1, 2)
    with torch.no_grad():
        for k, head in enumerate(model.heads):  # frames[k]: (V*T, C) logits of exit k
            mean = frames[k].mean(0)
            scale = 3.0 / float((frames[k] - mean).std())
            head.classifier.weight.mul_(scale)
            head.classifier.bias.mul_(scale).sub_(scale * mean)
        # the order changes a video's logits only a little (through the shifted channels): for
        # clip 0 at exits 1 and 4, give two classes a and b a lead over the rest and set their
        # gap so that a wins in the training order and b in time order
        for k in (0, 3):
            trained, in_time = (model(clips[:1, order]).stacked_logits()[0, k].mean(0)
                                for order in (STRIDED_16_4, list(range(16))))  # (C,) each
            moved = trained - in_time
            a, b = int(moved.argmax()), int(moved.argmin())
            gap_trained, gap_in_time = trained[a] - trained[b], in_time[a] - in_time[b]
            bias = model.heads[k].classifier.bias
            bias[a] += 20.0 - (gap_trained + gap_in_time) / 2  # now a - b: +-half the change
            bias[b] += 20.0
    out = tmp_path_factory.mktemp("ckpt") / "random.pt"
    save_checkpoint(model, cfg, {"classes": list(CLASS_NAMES)}, out)
    return out


def _video_logits(checkpoint: Path, clips: torch.Tensor, order: list[int]) -> torch.Tensor:
    """(V, K, C): every exit's video logits (mean over frames) with the frames in ``order``."""
    from dynamic_inference.checkpoint import load_checkpoint

    model, _, _ = load_checkpoint(checkpoint)
    with torch.inference_mode():
        return model(clips[:, order]).stacked_logits().mean(2)


# --------------------------------------------------------------------------------------------
# thresholds come from val only


RULES = {
    "default": {},
    "threshold": {"threshold": 0.12},
    "budget": {"budget": "mid"},
    "budget_ms": {"budget_ms": 0.3},
}


@pytest.mark.parametrize("rule", list(RULES))
def test_every_threshold_rule_reads_val_only(checkpoint, tmp_path, monkeypatch, rule):
    """Val is clips 0-9; the thresholds are the same whether the test split is clips 10-15,
    the same clips with their labels permuted, or only clips 10-12: nothing of test reaches
    the calibration; and the engine agrees with the simulation."""
    import dynamic_inference.evaluate as ev
    from dynamic_inference.checkpoint import load_checkpoint
    from dynamic_inference.cost import point_costs
    from dynamic_inference.flops import cost_table
    from dynamic_inference.schemes import make_scheme

    # a fixed latency table (ms per frame up to each exit): timing noise cannot move it
    monkeypatch.setattr(ev, "measure_latency", lambda *a, **k: [0.01, 0.02, 0.03, 0.04])
    rows = _sample_rows()
    kw = dict(RULES[rule])
    if kw.get("budget") == "mid":
        model, cfg, _ = load_checkpoint(checkpoint)
        sch = make_scheme("unified")
        costs = point_costs(cost_table(model, cfg.input_size), sch, cfg.frames)
        kw["budget"] = float(costs[0] + costs[-1]) / 2
    val, test = rows[:10], rows[10:]  # disjoint: no test confidence equals a threshold
    permuted = [int(r["label"]) for r in test][::-1]  # 15, 14, ..., 10
    roots = {
        "first": make_root(tmp_path / "a", val, test),
        "permuted": make_root(tmp_path / "b", val, relabel(test, permuted)),
        "other": make_root(tmp_path / "c", val, test[:3]),
    }
    reports = {name: ev.evaluate(checkpoint, "test", "unified", data=root,
                                 engine=(name == "first"), **kw).to_report()
               for name, root in roots.items()}
    base = reports["first"]["thresholds"]
    assert len(base) == 16
    for name, r in reports.items():
        assert r["thresholds"] == base, name
        assert r["threshold_rule"] == reports["first"]["threshold_rule"]
        assert r["val_top1"] == reports["first"]["val_top1"]
    assert reports["first"]["engine_matches_simulation"] is True
    assert reports["first"]["engine_disagreements"] == 0


# --------------------------------------------------------------------------------------------
# frame orders


@pytest.mark.parametrize("scheme, exit_index, threshold", [
    ("full", -1, None),  # one decision point: the last exit on all frames
    ("depth", 0, 0.0),  # threshold 0: every video stops at the first exit
])
def test_full_and_depth_see_the_training_order(checkpoint, clips, tmp_path, scheme,
                                                exit_index, threshold):
    """The test labels are the predictions computed here with the frames in the checkpoint's
    training order (strided, 4 groups): evaluate must report exactly 100% top-1, and its engine
    (``run_engine``, which must apply the order) must agree with the simulation. In time order
    the predictions differ, so a wrong order cannot reach 100%."""
    from dynamic_inference.evaluate import evaluate

    trained = _video_logits(checkpoint, clips, STRIDED_16_4)[:, exit_index].argmax(1)
    in_time = _video_logits(checkpoint, clips, list(range(16)))[:, exit_index].argmax(1)
    assert (trained != in_time).any()  # the order matters for these clips and weights
    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows, relabel(rows, trained.tolist()))
    r = evaluate(checkpoint, "test", scheme, data=root, threshold=threshold).to_report()
    assert r["top1"] == 100.0 and r["order"] == "strided"
    assert r["engine_matches_simulation"] is True and r["engine_disagreements"] == 0
    first = "g1/e4" if scheme == "full" else "g1/e1"
    assert r["stop_histogram"][first] == 16


def test_engine_applies_the_order_of_an_input_scheme(checkpoint, clips, tmp_path):
    """Input axis, sequential order, threshold 1.0 (every video answers after all groups):
    the answer is the last exit on the frames in time order, by simulation and engine alike."""
    from dynamic_inference.evaluate import evaluate

    in_time = _video_logits(checkpoint, clips, list(range(16)))[:, -1].argmax(1)
    trained = _video_logits(checkpoint, clips, STRIDED_16_4)[:, -1].argmax(1)
    assert (trained != in_time).any()  # the order matters for these clips and weights
    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows, relabel(rows, in_time.tolist()))
    r = evaluate(checkpoint, "test", "input", order="sequential", data=root,
                 threshold=1.0).to_report()
    assert r["top1"] == 100.0 and r["order"] == "sequential"
    assert r["engine_matches_simulation"] is True


# --------------------------------------------------------------------------------------------
# costs


@pytest.mark.parametrize("scheme", ["full", "depth", "input", "unified"])
def test_thresholds_one_cost_exactly_full_inference(checkpoint, tmp_path, scheme):
    """No scheme may look cheaper or dearer than full inference when nothing can stop early."""
    from dynamic_inference.evaluate import evaluate

    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows, rows[:4])
    r = evaluate(checkpoint, "test", scheme, data=root, threshold=1.0, engine=False).to_report()
    assert r["gflops_per_video"] == pytest.approx(r["full_gflops_per_video"], abs=1e-4)
    assert r["reduction_pct"] == 0.0


def test_report_cut_is_the_evaluation_cut(checkpoint, tmp_path):
    """The report's cut is ``Evaluation.reduction_pct`` rounded once, not recomputed from the
    rounded GFLOPs (which moved it by up to 0.05 pt at 0.03 GFLOPs/video)."""
    from dynamic_inference.evaluate import evaluate

    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows, rows[:4])
    ev = evaluate(checkpoint, "test", "depth", data=root, threshold=0.3, engine=False)
    assert ev.to_report()["reduction_pct"] == round(ev.reduction_pct, 2)


# --------------------------------------------------------------------------------------------
# stream


CLIP = SAMPLE / "test_00_beach_000.mp4"  # the clip whose answer depends on the order


def _expected_probs(checkpoint: Path, frames: int, order_name: str) -> torch.Tensor:
    """Softmax of the last exit on the whole clip (``frames`` TSN centres) in ``order``."""
    from dynamic_inference.checkpoint import load_checkpoint
    from dynamic_inference.schemes import frame_order
    from dynamic_inference.stream import load_clip

    model, _, _ = load_checkpoint(checkpoint)
    groups = 4 if frames % 4 == 0 else 1
    clip = load_clip(CLIP, frames, 64)[frame_order(order_name, frames, groups)]
    with torch.inference_mode():
        return torch.softmax(model(clip[None]).video_logits(-1)[0].double(), 0)


def _top3(probs: torch.Tensor) -> str:
    top = probs.topk(3)
    return ", ".join(f"{CLASS_NAMES[i]} {p:.2f}" for p, i in zip(top.values, top.indices))


def _stream_cli(capsys, *flags: str) -> list[str]:
    from dynamic_inference.__main__ import main

    assert main(["stream", str(CLIP), *flags]) == 0
    return capsys.readouterr().out.splitlines()


def test_stream_flags_change_what_it_does(checkpoint, capsys):
    """Through the command line: --group sets the frames per step, --frames the input frames,
    --threshold when it stops, --order the order (its last line is the whole clip's top-3 in
    that order)."""
    ck = ["--checkpoint", str(checkpoint)]
    out = _stream_cli(capsys, *ck, "--threshold", "0")
    assert out[-1].startswith("confident after 2 of 16")  # default group 2
    out = _stream_cli(capsys, *ck, "--threshold", "0", "--group", "4")
    assert out[0].startswith("frames   4/16") and out[-1].startswith("confident after 4 of 16")
    out = _stream_cli(capsys, *ck, "--threshold", "1.0", "--frames", "8", "--group", "4")
    assert [line.split(" (")[0] for line in out[:-1]] == ["frames   4/8", "frames   8/8"]
    assert out[-1].startswith("answered after all 8 input frames")
    for order in ("sequential", "strided"):
        out = _stream_cli(capsys, *ck, "--threshold", "1.0", "--group", "4", "--order", order)
        assert out[-2].startswith("frames  16/16")
        assert out[-2].endswith(_top3(_expected_probs(checkpoint, 16, order))), order
    assert _top3(_expected_probs(checkpoint, 16, "sequential")) != _top3(
        _expected_probs(checkpoint, 16, "strided"))  # the order changes the answer here


@pytest.mark.parametrize("frames, group", [(16, 4), (8, 2)])
def test_stream_answer_equals_the_whole_clip(checkpoint, frames, group):
    from dynamic_inference.stream import stream_video

    for order in ("sequential", "strided", "random"):
        res = stream_video(CLIP, checkpoint, group=group, threshold=1.0, frames=frames,
                           order=order)
        assert res["frames_used"] == frames
        torch.testing.assert_close(torch.tensor(res["probs"], dtype=torch.float64),
                                   _expected_probs(checkpoint, frames, order), atol=1e-5, rtol=0)


def test_stream_uses_every_decoded_group(checkpoint):
    """One input frame per step in the coarse-to-fine order: most groups become complete only
    near the end of the file, several on the same decoded frame; every one must still run."""
    from dynamic_inference.stream import stream_video

    res = stream_video(CLIP, checkpoint, group=1, threshold=1.0, frames=16, order="strided")
    assert res["frames_used"] == 16
    torch.testing.assert_close(torch.tensor(res["probs"], dtype=torch.float64),
                               _expected_probs(checkpoint, 16, "strided"), atol=1e-5, rtol=0)



# --------------------------------------------------------------------------------------------
# the report and the demo


def test_evaluate_report_matches_a_plain_recomputation(checkpoint, clips, tmp_path):
    """The report's keys, and their values recomputed here from the network's frame
    logits with a plain reference of the rule (tests/test_engine.py), the hand-summed costs and
    the labels; the engine ran and agrees."""
    from test_engine import reference_stops

    from dynamic_inference.checkpoint import load_checkpoint
    from dynamic_inference.cost import exit_costs
    from dynamic_inference.evaluate import evaluate
    from dynamic_inference.flops import cost_table
    from dynamic_inference.schemes import make_scheme

    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows[:10], rows)
    r = evaluate(checkpoint, "test", "unified", data=root, threshold=0.97).to_report()
    model, cfg, _ = load_checkpoint(checkpoint)
    with torch.inference_mode():
        fl = model(clips[:, STRIDED_16_4]).stacked_logits()  # (16, 4, 16, C)
    stop, pred = reference_stops(fl, 4, True, [0.97] * 16)
    labels = torch.arange(16)  # sample clip i is of class i
    exit_cost = exit_costs(cost_table(model, cfg.input_size), make_scheme("unified"))  # all
    per_point = [g * 4 * exit_cost[-1] + 4 * exit_cost[k]
                 for g in range(4) for k in range(4)]  # stop after g+1 groups at exit k+1
    names = [f"g{g}/e{k}" for g in range(1, 5) for k in range(1, 5)]
    assert r["n_videos"] == 16 and r["thresholds"] == [0.97] * 16
    assert r["stop_histogram"] == dict(zip(names, torch.bincount(stop, minlength=16).tolist()))
    assert r["top1"] == round(100 * float((pred == labels).double().mean()), 2)
    mean_cost = sum(per_point[int(s)] for s in stop) / 16
    assert r["gflops_per_video"] == pytest.approx(mean_cost, abs=1e-4)
    full = 16 * (sum(model_table_parts(model, cfg)))
    assert r["full_gflops_per_video"] == pytest.approx(full, abs=1e-4)
    assert r["reduction_pct"] == pytest.approx(100 * (1 - mean_cost / full), abs=0.05)
    last = fl[:, -1].mean(1).argmax(1)
    assert r["full_top1"] == round(100 * float((last == labels).double().mean()), 2)
    scene = [i for i, row in enumerate(rows) if row["group"] == "scene"]
    assert r["gflops_by_group"]["scene"] == pytest.approx(
        sum(per_point[int(stop[i])] for i in scene) / len(scene), abs=1e-4)
    assert r["engine_matches_simulation"] is True and r["wall_clock_s"] > 0
    assert len(set(stop.tolist())) > 1  # the videos stopped at different points


def model_table_parts(model, cfg) -> tuple[float, ...]:
    """Stem + every stage + the last head, per frame, from the cost table's parts."""
    from dynamic_inference.flops import cost_table

    table = cost_table(model, cfg.input_size)
    return (*table.stage_gflops, table.head_gflops[-1])


def test_demo_lists_videos_in_aligned_columns(checkpoint, tmp_path, monkeypatch, capsys):
    """The main job, run in-process on a 16-clip split (the sample clips, whose names include
    the longest class names): per video the true and predicted class and where it stopped, a
    summary, a PNG and a JSON. Regression: long file and class names ran into the next column
    (``...039.mp4rotate_clockwiserotate_anticlockwiseg1/e4``)."""
    import json

    import dynamic_inference.demo as demo
    from dynamic_inference.__main__ import main

    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows, rows)
    blob = torch.load(checkpoint, weights_only=True)
    blob["config"]["data"] = str(root)  # the demo evaluates the checkpoint's own data
    demo_checkpoint = tmp_path / "demo.pt"
    torch.save(blob, demo_checkpoint)
    monkeypatch.setattr(demo, "DEFAULT_CHECKPOINT", demo_checkpoint)
    assert main(["demo", "--out", str(tmp_path / "out"), "--limit", "16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("video")))
    rows_out = lines[header + 1:header + 17]
    assert len(rows_out) == 16
    for row, row_in in zip(rows_out, rows):
        video, true, predicted, stopped, gflops, share = row.split()
        assert video == Path(row_in["path"]).name and true == row_in["label_name"]
        assert predicted in CLASS_NAMES and stopped.startswith("g") and share.endswith("%")
    assert any("top-1" in line and "GFLOPs/video" in line for line in lines)
    assert (tmp_path / "out" / "demo.png").is_file()
    assert json.loads((tmp_path / "out" / "demo.json").read_text())["n_videos"] == 16


def test_engine_agrees_when_the_evaluated_split_is_the_calibration_split(checkpoint, tmp_path):
    """``evaluate --split val --budget B``: a threshold read from the sorted val confidences was
    exactly some video's confidence, and the engine, computing that confidence through another
    float path (running feature sums), put 9 of 16 videos on the other side; thresholds now lie
    half-way into the gap below (regression test)."""
    import dynamic_inference.evaluate as ev
    from dynamic_inference.checkpoint import load_checkpoint
    from dynamic_inference.cost import point_costs
    from dynamic_inference.flops import cost_table
    from dynamic_inference.schemes import make_scheme

    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows, rows)
    model, cfg, _ = load_checkpoint(checkpoint)
    sch = make_scheme("unified")
    costs = point_costs(cost_table(model, cfg.input_size), sch, cfg.frames)
    r = ev.evaluate(checkpoint, "val", "unified", data=root,
                    budget=float(costs[0] + costs[-1]) / 2).to_report()
    assert r["engine_matches_simulation"] is True


def test_evaluate_folded_model(checkpoint, tmp_path, capsys):
    """``evaluate(fold=True)`` / ``--fold``: logits and engine from the folded copy, the engine
    still equals the simulation, the FLOPs are the trained model's, and the predictions and
    stops are those of the eager model (the logits differ by float rounding only)."""
    import json

    import dynamic_inference.evaluate as ev
    from dynamic_inference.__main__ import main

    rows = _sample_rows()
    root = make_root(tmp_path / "root", rows, rows)
    eager = ev.evaluate(checkpoint, "test", "unified", data=root, threshold=0.5)
    folded = ev.evaluate(checkpoint, "test", "unified", data=root, threshold=0.5, fold=True)
    assert torch.allclose(folded.test.frame_logits, eager.test.frame_logits, atol=1e-4)
    assert not torch.equal(folded.test.frame_logits, eager.test.frame_logits)  # really folded
    r, e = folded.to_report(), eager.to_report()
    assert r["folded"] is True and e["folded"] is False
    assert r["engine_matches_simulation"] is True
    assert r["full_gflops_per_video"] == e["full_gflops_per_video"]
    assert torch.equal(folded.sim.stop, eager.sim.stop) and torch.equal(folded.sim.pred,
                                                                        eager.sim.pred)
    out = tmp_path / "r.json"
    main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--scheme", "input",
          "--threshold", "0.5", "--fold", "--json", str(out)])
    assert json.loads(out.read_text())["folded"] is True
    assert "input: top-1" in capsys.readouterr().out
