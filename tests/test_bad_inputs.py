"""Bad inputs, the way a new user gives them (issue 18: nothing lost, nothing silently wrong).

A table of bad command lines runs through the CLI's ``main()`` in-process (fast); a few run as
real subprocesses to prove the exit path. Each must exit 2 with exactly one stderr line, no
traceback, and change nothing in the folder it ran in (a snapshot of the tree before and after).
Then the defects that were not errors but silent damage: make-mini deleting foreign files,
stream dropping groups, class indices differing between splits, skipped clips not reported,
full inference depending on the scheme's frame order, and annotation readers that failed with
untyped errors or accepted bad lines.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dynamic_inference.__main__ import main
from dynamic_inference.errors import AnnotationError, CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[1]
CK = ROOT / "checkpoints" / "tiny_online.pt"
SAMPLE = ROOT / "datasets_mini" / "sample" / "sample.csv"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real_fixtures"
needs_ck = pytest.mark.skipif(not CK.is_file(), reason="shipped checkpoint absent")
needs_sample = pytest.mark.skipif(not SAMPLE.is_file(), reason="MiniActions sample absent")
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="shared/real_fixtures not present")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[p.relative_to(folder).as_posix()] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``main(argv)`` in-process: (exit code, stderr)."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse exits itself
        code = e.code
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder to run in, holding a file, a non-empty folder and a folder with a user's clip."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a user's file\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir" / "notes.txt").write_text("keep\n")
    (tmp_path / "x" / "videos").mkdir(parents=True)
    (tmp_path / "x" / "videos" / "mine.mp4").write_text("keep\n")
    return tmp_path


def _checkpoint_variant(path: Path, change) -> str:
    blob = torch.load(CK, weights_only=True)
    change(blob)
    torch.save(blob, path)
    return str(path)


def _nan_weight(blob: dict) -> None:
    name = next(k for k, v in blob["state_dict"].items() if v.is_floating_point())
    blob["state_dict"][name] = torch.full_like(blob["state_dict"][name], math.nan)


CKS = str(CK)
EVAL = ["evaluate", "--checkpoint", CKS, "--scheme", "full"]
# (argv, words the one line must contain); run in `workdir`
TABLE = [
    # argparse: one line, no usage block
    (["train", "--out", "c.pt", "--lr", "abc"], ["--lr", "invalid float"]),
    (["flops", "--model", "tiny"], ["--frames", "required"]),
    (["evaluate", "--scheme", "full"], ["--checkpoint"]),
    (["demo", "--bogus"], ["unrecognized", "--bogus"]),
    ([], ["COMMAND"]),
    # train flags
    (["train", "--out", "c.pt", "--lr", "-1"], ["--lr"]),
    (["train", "--out", "c.pt", "--lr", "nan"], ["--lr"]),
    (["train", "--out", "c.pt", "--weight-decay", "-1"], ["--weight-decay"]),
    (["train", "--out", "c.pt", "--label-smoothing", "2"], ["--label-smoothing"]),
    (["train", "--out", "c.pt", "--label-smoothing", "1"], ["--label-smoothing"]),
    (["train", "--out", "c.pt", "--workers", "-1"], ["--workers"]),
    (["train", "--out", "c.pt", "--device", "tpu"], ["--device", "tpu"]),
    (["train", "--out", "c.pt", "--size", "7"], ["size"]),
    (["train", "--out", "c.pt", "--size", "32"], ["--size 32", "tiny"]),
    (["train", "--out", "c.pt", "--limit", "-5"], ["--limit"]),
    (["train", "--out", "c.pt", "--steps", "0"], ["--steps"]),
    (["train", "--out", "c.pt", "--steps", "-3"], ["--steps"]),
    (["train", "--out", "c.pt", "--epochs", "0"], ["--epochs"]),
    (["train", "--out", "c.pt", "--batch-size", "0"], ["--batch-size"]),
    (["train", "--out", "c.pt", "--seed", "-1"], ["--seed"]),
    (["train", "--out", "c.pt", "--frames", "6", "--groups", "4"], ["--groups"]),
    # train outputs, refused before any work
    (["train", "--out", "ck.json"], ["ck.json", "provenance"]),
    (["train", "--out", "adir"], ["adir", "folder"]),
    (["train", "--out", "afile/ck.pt"], ["afile", "not a folder"]),
    # evaluate flags and outputs
    ([*EVAL, "--batch-size", "0"], ["--batch-size"]),
    ([*EVAL, "--batch-size", "-1"], ["--batch-size"]),
    ([*EVAL, "--device", "tpu"], ["--device"]),
    ([*EVAL, "--json", "adir"], ["--json", "folder"]),
    ([*EVAL, "--json", "afile/r.json"], ["--json", "afile"]),
    ([*EVAL, "--threshold", "nan"], ["--threshold"]),
    (["evaluate", "--checkpoint", CKS, "--scheme", "input", "--groups", "0"], ["groups"]),
    (["evaluate", "--checkpoint", "nope.pt", "--scheme", "depth"], ["nope.pt"]),
    # make-mini
    (["make-mini", "--out", "y", "--seed", "-1"], ["--seed"]),
    (["make-mini", "--out", "afile", "--seed", "0"], ["afile", "file"]),
    (["make-mini", "--out", "y", "--seed", "0", "--per-class", "0"], ["--per-class"]),
    (["make-mini", "--out", "adir", "--seed", "0", "--per-class", "1"], ["adir", "--force"]),
    (["make-mini", "--out", "x", "--seed", "0", "--per-class", "1"], ["x", "--force"]),
    (["make-mini", "--out", "x", "--seed", "0", "--per-class", "1", "--force"],
     ["videos/mine.mp4"]),
    # flops, demo, stream
    (["flops", "--model", "tiny", "--frames", "8", "--size", "32"], ["--size 32"]),
    (["flops", "--model", "tiny", "--frames", "0"], ["--frames"]),
    (["demo", "--limit", "0"], ["--limit"]),
    (["demo", "--limit", "-3"], ["--limit"]),
    (["demo", "--out", "afile"], ["afile"]),
    (["stream", "afile", "--checkpoint", CKS, "--group", "3"], ["--group"]),
    (["stream", "afile", "--checkpoint", CKS, "--threshold", "2"], ["--threshold"]),
    (["stream", "afile", "--checkpoint", CKS], ["afile"]),
]


@needs_ck
@pytest.mark.parametrize("argv, words", TABLE, ids=[" ".join(a[:4]) for a, _ in TABLE])
def test_bad_input_is_refused_in_one_line_and_touches_nothing(
    argv: list[str], words: list[str], workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    before = snapshot(workdir)
    code, err = cli(argv, capsys)
    assert_one_line(code, err, *words)
    assert snapshot(workdir) == before


@needs_ck
@pytest.mark.parametrize("change, words", [
    (lambda b: b.__setitem__("config", ["tiny"]), ["not a dynamic_inference checkpoint"]),
    (lambda b: b["provenance"].__setitem__("classes", []), ["classes"]),
    (lambda b: b["provenance"].pop("classes"), ["classes"]),
    (lambda b: b["config"].__setitem__("frames", "16"), ["config"]),
    (_nan_weight, ["NaN"]),
], ids=["wrong-types", "empty-classes", "no-classes", "bad-config", "nan-weights"])
def test_broken_checkpoints_are_named(
    change, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    ck = _checkpoint_variant(tmp_path / "broken.pt", change)
    code, err = cli(["evaluate", "--checkpoint", ck, "--scheme", "full"], capsys)
    assert_one_line(code, err, "broken.pt", *words)


@needs_ck
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_blames_the_device(capsys: pytest.CaptureFixture[str]) -> None:
    """It used to say the shipped checkpoint was 'not a readable checkpoint (RuntimeError)'."""
    code, err = cli([*EVAL, "--device", "cuda"], capsys)
    assert_one_line(code, err, "--device", "CUDA")
    assert "checkpoint" not in err


@needs_ck
@pytest.mark.parametrize("argv, words", [
    (["train", "--out", "ck.json"], ["provenance"]),
    (["evaluate", "--checkpoint", CKS, "--scheme", "full", "--batch-size", "0"],
     ["--batch-size"]),
    (["make-mini", "--out", "x", "--seed", "0"], ["--force"]),
])
def test_real_exit_path(argv: list[str], words: list[str], workdir: Path) -> None:
    """The same contract through ``python -m dynamic_inference`` (a real process)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before = snapshot(workdir)
    res = subprocess.run([sys.executable, "-m", "dynamic_inference", *argv], cwd=workdir,
                         capture_output=True, text=True, timeout=300, env=env)
    assert_one_line(res.returncode, res.stderr, *words)
    assert snapshot(workdir) == before


def test_output_file_checks_and_atomic_write(tmp_path: Path) -> None:
    """Checked before the work; a failed write leaves the old file and no temporary file."""
    from dynamic_inference.checks import atomic_write, atomic_write_text, check_output_file
    from dynamic_inference.errors import OutputError

    out = tmp_path / "new" / "deeper" / "r.json"
    assert check_output_file(out, "--json") == out and not out.parent.exists()  # nothing made
    atomic_write_text(out, "old\n")
    assert out.read_text() == "old\n"

    def fails(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space left"):
        atomic_write(out, fails)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.json"]


# --------------------------------------------------------------------------------------------
# make-mini never deletes what it did not write


def test_make_mini_keeps_foreign_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "mini"
    root.mkdir()
    (root / "notes.txt").write_text("mine\n")
    code, err = cli(["make-mini", "--out", str(root), "--seed", "0", "--per-class", "1"], capsys)
    assert_one_line(code, err, "--force")
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    code, err = cli(["make-mini", "--out", str(root), "--seed", "0", "--per-class", "1",
                     "--force"], capsys)
    assert code == 0, err
    assert (root / "notes.txt").read_text() == "mine\n" and (root / ".make-mini.json").is_file()
    (root / "videos" / "mine.mp4").write_text("mine\n")  # a user's file in its folder
    code, err = cli(["make-mini", "--out", str(root), "--seed", "1", "--per-class", "1"], capsys)
    assert_one_line(code, err, "videos/mine.mp4")
    assert (root / "videos" / "mine.mp4").read_text() == "mine\n"
    assert json.loads((root / "recipe.json").read_text())["seed"] == 0  # nothing replaced
    (root / "videos" / "mine.mp4").unlink()
    code, err = cli(["make-mini", "--out", str(root), "--seed", "1", "--per-class", "1"], capsys)
    assert code == 0, err  # its own dataset is replaced without --force
    assert json.loads((root / "recipe.json").read_text())["seed"] == 1
    assert (root / "notes.txt").read_text() == "mine\n"


# --------------------------------------------------------------------------------------------
# stream uses every input frame of a healthy video


def _write_video(path: Path, n_frames: int) -> None:
    from dynamic_inference.data.mini import encode_clip

    rng = np.random.default_rng(n_frames)
    encode_clip(rng.integers(0, 256, (n_frames, 64, 64, 3), dtype=np.uint8), path)


@needs_ck
@pytest.mark.parametrize("n_frames", [3, 16, 41])
def test_stream_runs_every_group(n_frames: int, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """With the strided order the last decoded frames complete several groups at once; they all
    run (before: a 16-frame video used 10 of its 16 inputs, a 3-frame one 4)."""
    from dynamic_inference.stream import stream_video

    video = tmp_path / f"v{n_frames}.mp4"
    _write_video(video, n_frames)
    out = stream_video(video, CK, threshold=1.0)
    assert out["frames_used"] == 16 and out["frames_in_video"] == n_frames
    assert out["frames_decoded"] == min(n_frames, 40)  # the last input is frame 39 of 41
    assert "answered after all 16 input frames" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# datasets: classes, skipped clips


def _subset(root: Path, extra: list[str] | None = None) -> Path:
    """A hand-made MiniActions folder whose splits are the 16 sample clips (+ ``extra`` rows)."""
    lines = SAMPLE.read_text().splitlines()
    rows = [lines[0]] + [f"{SAMPLE.parent.parent / r.split(',', 1)[0]},{r.split(',', 1)[1]}"
                         for r in lines[1:]] + (extra or [])
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        (root / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return root


def _bad_rows(tmp_path: Path) -> list[str]:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video")
    tail = "0,beach,scene,test,40,0.5,0,40,none"
    return [f"{tmp_path / 'gone.mp4'},{tail}", f"{corrupt},{tail}"]


@needs_ck
@needs_sample
def test_evaluate_refuses_other_classes(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint whose class list differs from the dataset's: one line, exit 2 (before:
    evaluated with misaligned labels, exit 0)."""
    ck = _checkpoint_variant(tmp_path / "other.pt",
                             lambda b: b["provenance"]["classes"].reverse())
    data = _subset(tmp_path / "data")
    code, err = cli(["evaluate", "--checkpoint", ck, "--data", str(data), "--scheme", "input",
                     "--threshold", "0.5"], capsys)
    assert_one_line(code, err, "other.pt", "classes")


@needs_ck
@needs_sample
def test_a_tiny_val_split_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default rule needs a standard error, so >= 2 val videos; a split of one is named
    (with the earlier fold rule, a tiny split said 'folds must be an integer in 2..4', an
    option the user never set)."""
    data = _subset(tmp_path / "data")
    rows = (data / "val.csv").read_text().splitlines()
    (data / "val.csv").write_text("\n".join(rows[:2]) + "\n")
    code, err = cli(["evaluate", "--checkpoint", CKS, "--data", str(data), "--scheme", "input"],
                    capsys)
    assert_one_line(code, err, "val split", "1 videos", "--threshold")


@needs_ck
@needs_sample
def test_evaluate_skip_bad_reports_the_clips(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = _subset(tmp_path / "data", _bad_rows(tmp_path))
    argv = ["evaluate", "--checkpoint", CKS, "--data", str(data), "--scheme", "input",
            "--threshold", "0.5", "--json", str(tmp_path / "r.json")]
    code, err = cli(argv, capsys)
    assert_one_line(code, err, "gone.mp4")  # without --skip-bad the first bad clip stops it
    assert not (tmp_path / "r.json").exists()
    code, err = cli([*argv, "--skip-bad"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n_videos"] == 16 and report["skipped"]["count"] == 2
    names = " ".join(report["skipped"]["clips"])
    assert "gone.mp4" in names and "corrupt.mp4" in names


@needs_sample
def test_train_skip_bad_and_provenance_next_to_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    data = _subset(tmp_path / "data", _bad_rows(tmp_path))
    out = tmp_path / "ck.pt"
    code = main(["train", "--data", str(data), "--out", str(out), "--epochs", "1",
                 "--steps", "1", "--batch-size", "8", "--skip-bad"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped 4 clips" in printed and "gone.mp4" in printed
    prov = json.loads(out.with_suffix(".json").read_text())
    assert len(prov["skipped"]) == 4  # 2 bad clips in train and in val
    blob = torch.load(out, weights_only=True)  # the weights were not overwritten
    assert set(blob) == {"state_dict", "config", "provenance"}


def test_load_dataset_missing_skip_and_message(tmp_path: Path) -> None:
    """The error for a missing video names an option that exists; ``missing='skip'`` works."""
    from dynamic_inference.data.datasets import load_dataset

    root = tmp_path / "k400"
    (root / "videos" / "val").mkdir(parents=True)
    rows = ["label,youtube_id,time_start,time_end,split", "a,aaa,0,10,val", "b,bbb,0,10,val"]
    (root / "validate.csv").write_text("\n".join(rows) + "\n")
    (root / "train.csv").write_text("\n".join(rows).replace(",val", ",train") + "\n")
    with pytest.raises(AnnotationError, match="--skip-bad"):
        load_dataset("kinetics400", root, "val")
    _write_video(root / "videos" / "val" / "bbb_000000_000010.mp4", 8)
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = load_dataset("kinetics400", root, "val", missing="skip")
    assert len(ds) == 1 and ds.labels == [1] and ds.classes == ["a", "b"]
    assert [p.name for p, _ in ds.skipped] == ["aaa_000000_000010.mp4"]


@needs_real
@pytest.mark.parametrize("label_list", [None, "label_map_k400.txt"])
def test_kinetics_val_lacking_a_class_keeps_indices(tmp_path: Path,
                                                    label_list: str | None) -> None:
    """The real Kinetics-400 validation CSV with every 'abseiling' row removed (class 0): the
    val indices must still be the train indices (before: computed per CSV, all shifted by 1)."""
    import shutil

    from dynamic_inference.data.datasets import _real_annotations

    real = (REAL / "kinetics400" / "validate.csv").read_text().splitlines()
    root = tmp_path / "k400"
    root.mkdir()
    (root / "train.csv").write_text("\n".join(real) + "\n")
    (root / "validate.csv").write_text(
        "\n".join(r for r in real if not r.startswith("abseiling,")) + "\n")
    if label_list:
        shutil.copyfile(REAL / "kinetics400" / label_list, root / label_list)
    with pytest.warns(UserWarning, match="skipped"):  # no video at all yet
        train = _real_annotations("kinetics400", root, "train", missing="skip")
        val = _real_annotations("kinetics400", root, "val", missing="skip")
    assert train.classes == val.classes and len(val.classes) == 400
    assert val.classes[0] == "abseiling"
    for split, csv_name in (("val", "validate.csv"), ("train", "train.csv")):
        folder = root / "videos" / split
        folder.mkdir(parents=True)
        for line in (root / csv_name).read_text().splitlines()[1:200]:
            label, yid, start, end = line.split(",")[:4]
            (folder / f"{yid}_{int(start):06d}_{int(end):06d}.mp4").touch()
    with pytest.warns(UserWarning, match="skipped"):
        train = _real_annotations("kinetics400", root, "train", missing="skip")
        val = _real_annotations("kinetics400", root, "val", missing="skip")
    assert len(val) > 100
    for record in [*val, *train]:
        assert train.classes[record.label] == record.label_name


# --------------------------------------------------------------------------------------------
# full inference does not depend on the scheme's order


@needs_ck
@needs_sample
def test_full_inference_top1_does_not_depend_on_the_scheme_order(tmp_path: Path) -> None:
    from dynamic_inference.evaluate import evaluate

    data = _subset(tmp_path / "data")
    full = [evaluate(CK, "test", "input", order=order, groups=groups, threshold=0.5,
                     data=data, engine=False).to_report()["full_top1"]
            for order, groups in (("strided", 4), ("sequential", 4), ("random", 8))]
    plain = evaluate(CK, "test", "full", threshold=0.5, data=data, engine=False).to_report()["top1"]
    assert full == [plain] * 3


# --------------------------------------------------------------------------------------------
# annotation readers


def test_read_mini_bad_files(tmp_path: Path) -> None:
    from dynamic_inference.data.datasets import read_mini

    header = ("path,label,label_name,group,split,n_frames,appearance_difficulty,"
              "evidence_start,evidence_length,outside")
    row = "videos/test/x.mp4,{},{},scene,test,40,0.5,0,40,none"
    (tmp_path / "test.csv").write_text("\ufeff" + header + "\n" + row.format(0, "beach") + "\n")
    assert [r.label for r in read_mini(tmp_path, "test")] == [0]  # a BOM is tolerated
    for label, name in ((99, "beach"), (-16, "beach"), (-1, "vanish")):
        (tmp_path / "test.csv").write_text(header + "\n" + row.format(label, name) + "\n")
        with pytest.raises(AnnotationError, match=f"test.csv:2: .*label {label} is not"):
            read_mini(tmp_path, "test")
    (tmp_path / "test.csv").write_bytes((header + "\n" + row.format(0, "beach\xe9")
                                         ).encode("latin-1"))
    with pytest.raises(AnnotationError, match="not UTF-8"):
        read_mini(tmp_path, "test")


def test_readers_refuse_what_they_silently_accepted(tmp_path: Path) -> None:
    from dynamic_inference.data import datasets as d

    k400 = tmp_path / "k.csv"
    k400.write_bytes("label,youtube_id,time_start,time_end\ncaf\xe9,a,0,10\n".encode("latin-1"))
    with pytest.raises(AnnotationError, match="not UTF-8"):
        d.read_kinetics400(k400)
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps({"a": 0, "b": 0, "c": 1}))
    with pytest.raises(AnnotationError, match="index 0"):
        d.read_class_list(classes)
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "clap_test_split1.txt").write_text("v_clap_1.avi 1 \n")
    (splits / "wave_test_split1.txt").write_text("")
    with pytest.raises(AnnotationError, match="wave_test_split1.txt: the split file is empty"):
        d.read_hmdb51(splits)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"Putting something": "0", "Taking something": "1"}))
    ann = tmp_path / "val.json"
    ann.write_text(json.dumps([{"id": "1", "template": ["Putting [something]"]}]))
    with pytest.raises(AnnotationError, match="template"):
        d.read_sthv2(ann, labels)
    ind = tmp_path / "classInd.txt"
    ind.write_text("1 ApplyEyeMakeup\r\n2 Archery\r\n")
    train = tmp_path / "trainlist01.txt"
    for bad in ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nArchery/v_Archery_g01_c0",
                "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nArchery/v_Archery_g01_c01.avi"):
        train.write_text(bad)
        with pytest.raises(AnnotationError, match="trainlist01.txt:2: .*truncated"):
            d.read_ucf101(train, ind)


def test_check_helpers_refuse_non_finite_and_out_of_range() -> None:
    from dynamic_inference.checks import check_float, check_int

    assert check_float("--x", 0.5, 0.0, 1.0, high_open=True) == 0.5
    for bad in (math.nan, math.inf, -1.0, 1.0, "0.5", True):
        with pytest.raises(ConfigError, match="--x"):
            check_float("--x", bad, 0.0, 1.0, high_open=True)
    assert check_int("--n", 3, 1) == 3
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ConfigError, match="--n"):
            check_int("--n", bad, 1)


def test_checkpoint_errors_are_typed(tmp_path: Path) -> None:
    """The library raises CheckpointError (the CLI turns it into one line)."""
    if not CK.is_file():
        pytest.skip("shipped checkpoint absent")
    from dynamic_inference.checkpoint import load_checkpoint

    ck = _checkpoint_variant(tmp_path / "nan.pt", _nan_weight)
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(ck)
