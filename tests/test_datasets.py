"""Annotation readers and VideoDataset (dynamic_inference.data.datasets).

Small format-faithful fixtures are written here in tmp_path; the official files in
``../shared/real_fixtures`` are read when present (skipped in a fresh clone).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from dynamic_inference.data.datasets import (
    UNLABELLED,
    VideoDataset,
    VideoRecord,
    make_loader,
    read_class_list,
    read_hmdb51,
    read_kinetics400,
    read_mini,
    read_sthv1,
    read_sthv2,
    read_ucf101,
)
from dynamic_inference.data.mini import encode_clip
from dynamic_inference.data.video import TransformConfig
from dynamic_inference.errors import AnnotationError, DatasetError, VideoDecodeError

REAL = Path(__file__).resolve().parents[2] / "shared" / "real_fixtures"
MINI = Path(__file__).resolve().parents[1] / "datasets_mini"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="shared/real_fixtures not present")


def _write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def _clip(path: Path, n: int = 12, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.zeros((n, 16, 16, 3), np.uint8)
    frames[:, :, :, 0] = value
    frames[np.arange(n), :, np.arange(n) % 16, 1] = 255  # a moving column
    encode_clip(frames, path)
    return path


# -- UCF-101 ---------------------------------------------------------------------------------


@pytest.fixture()
def ucf(tmp_path: Path) -> Path:
    _write(tmp_path / "classInd.txt", "1 ApplyEyeMakeup\n2 HandstandPushups\n", "\r\n")
    _write(tmp_path / "trainlist01.txt",
           "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
           "HandstandPushups/v_HandStandPushups_g08_c01.avi 2\n", "\r\n")
    _write(tmp_path / "testlist01.txt", "HandstandPushups/v_HandStandPushups_g01_c01.avi\n",
           "\r\n")
    return tmp_path


def test_ucf101_train_and_test_lists(ucf: Path) -> None:
    train = read_ucf101(ucf / "trainlist01.txt", ucf / "classInd.txt")
    assert [r.label for r in train] == [0, 1] and train.classes[1] == "HandstandPushups"
    assert train[1].path == Path("HandstandPushups/v_HandStandPushups_g08_c01.avi")
    test = read_ucf101(ucf / "testlist01.txt", ucf / "classInd.txt")
    assert test[0].label == 1 and test[0].label_name == "HandstandPushups"


def test_ucf101_errors(ucf: Path) -> None:
    bad = _write(ucf / "bad.txt", "ApplyEyeMakeup/a.avi 1\nApplyEyeMakeup/b.avi 7\n", "\r\n")
    with pytest.raises(AnnotationError, match=r"bad.txt:2: unknown label '7'"):
        read_ucf101(bad, ucf / "classInd.txt")
    unknown = _write(ucf / "unknown.txt", "Skiing/v_Skiing_g01_c01.avi\n")
    with pytest.raises(AnnotationError, match=r"unknown.txt:1: unknown label 'Skiing'"):
        read_ucf101(unknown, ucf / "classInd.txt")
    garbled = _write(ucf / "garbled.txt", "ApplyEyeMakeup/a.avi 1\nthis line is garbage\n")
    with pytest.raises(AnnotationError, match=r"garbled.txt:2"):
        read_ucf101(garbled, ucf / "classInd.txt")
    mismatch = _write(ucf / "mismatch.txt", "ApplyEyeMakeup/a.avi 2\n")
    with pytest.raises(AnnotationError, match=r"mismatch.txt:1"):
        read_ucf101(mismatch, ucf / "classInd.txt")
    with pytest.raises(AnnotationError, match="not found"):
        read_ucf101(ucf / "nope.txt", ucf / "classInd.txt")


def test_missing_listed_file_raises_or_is_reported(ucf: Path) -> None:
    videos = ucf / "videos"
    _clip(videos / "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi")
    with pytest.raises(AnnotationError, match=r"trainlist01.txt:2: lists HandstandPushups/"):
        read_ucf101(ucf / "trainlist01.txt", ucf / "classInd.txt", videos)
    with pytest.warns(UserWarning, match="skipped 1 listed videos"):
        kept = read_ucf101(ucf / "trainlist01.txt", ucf / "classInd.txt", videos,
                           missing="skip")
    assert len(kept) == 1 and [p.name for p in kept.missing] == ["v_HandStandPushups_g08_c01.avi"]


@needs_real
def test_ucf101_real_files() -> None:
    classes = REAL / "ucf101/classInd.txt"
    for n, count in ((1, 9537), (2, 9586), (3, 9624)):
        train = read_ucf101(REAL / f"ucf101/trainlist0{n}.txt", classes)
        assert len(train) == count and len(train.classes) == 101
    test = read_ucf101(REAL / "ucf101/testlist01.txt", classes)
    assert len(test) == 3783
    basketball = test[269]  # line 270: the fixture video
    assert basketball.path.name == "v_Basketball_g01_c01.avi" and basketball.label == 7
    video_root = REAL / "videos"
    assert (video_root / basketball.path.name).is_file()


# -- HMDB-51 ---------------------------------------------------------------------------------


def test_hmdb51_fixture(tmp_path: Path) -> None:
    splits = tmp_path / "splits"
    _write(splits / "brush_hair_test_split1.txt", "a_brush.avi 1 \nb_brush.avi 2 \nc.avi 0 \n")
    _write(splits / "shoot_bow_test_split1.txt", "Bow!#&(x)+;@[y]~.avi 1 \n")
    _write(splits / "shoot_bow_test_split2.txt", "other.avi 1 \n")
    train = read_hmdb51(splits, 1, "train")
    assert train.classes == ["brush_hair", "shoot_bow"]
    assert [(r.path.as_posix(), r.label) for r in train] == [
        ("brush_hair/a_brush.avi", 0), ("shoot_bow/Bow!#&(x)+;@[y]~.avi", 1)]
    assert [r.path.name for r in read_hmdb51(splits, 1, "test")] == ["b_brush.avi"]
    _write(splits / "bad_test_split3.txt", "x.avi 1 \ny.avi 9 \n")
    with pytest.raises(AnnotationError, match=r"bad_test_split3.txt:2"):
        read_hmdb51(splits, 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="holds no"):
        read_hmdb51(empty)


@needs_real
def test_hmdb51_real_files() -> None:
    splits = REAL / "hmdb51/testTrainMulti_7030_splits"
    for split in (1, 2, 3):
        train = read_hmdb51(splits, split, "train")
        test = read_hmdb51(splits, split, "test")
        assert len(train.classes) == 51 and len(train) == 51 * 70 and len(test) == 51 * 30
    assert "climb_stairs" in train.classes and "climb" in train.classes


# -- Kinetics-400 ----------------------------------------------------------------------------


def test_kinetics_dialects(tmp_path: Path) -> None:
    old = _write(tmp_path / "k400_val.csv",
                 "label,youtube_id,time_start,time_end,split,is_cc\n"
                 '"air drumming",-abc_def_gh,17,27,val,0\n'
                 "abseiling,0wR5jVB-WPk,417,427,val,0\n")
    new = _write(tmp_path / "validate.csv",
                 "label,youtube_id,time_start,time_end,split\n"
                 "air drumming,-abc_def_gh,17,27,validate\n")
    test = _write(tmp_path / "test.csv", "youtube_id,time_start,time_end,split\n"
                                          "--6bJUbfpnQ,17,27,test\n")
    a = read_kinetics400(old)
    assert a.classes == ["abseiling", "air drumming"]
    assert a[0].label == 1 and a[0].path == Path("-abc_def_gh_000017_000027.mp4")
    b = read_kinetics400(new, classes=a.classes)
    assert b[0].label == 1 and b[0].extra["split"] == "validate"
    c = read_kinetics400(test)
    assert c[0].label == UNLABELLED
    with pytest.raises(AnnotationError, match=r"validate.csv:2: unknown label 'air drumming'"):
        read_kinetics400(new, classes=["abseiling"])
    broken = _write(tmp_path / "broken.csv", "label,youtube_id,time_start,time_end,split\n"
                                              "abseiling,x,zero,10,val\n")
    with pytest.raises(AnnotationError, match=r"broken.csv:2"):
        read_kinetics400(broken)


def test_class_list_formats(tmp_path: Path) -> None:
    txt = _write(tmp_path / "labels.txt", "label\nabseiling\nair drumming\n")
    js = _write(tmp_path / "names.json", json.dumps({'"air drumming"': 1, "abseiling": 0}))
    assert read_class_list(txt) == read_class_list(js) == ["abseiling", "air drumming"]
    with pytest.raises(AnnotationError, match="empty"):
        read_class_list(_write(tmp_path / "empty.txt", ""))


@needs_real
def test_kinetics_real_files() -> None:
    label_map = read_class_list(REAL / "kinetics400/label_map_k400.txt")
    assert len(label_map) == 400
    names = read_class_list(REAL / "kinetics400/kinetics_classnames.json")
    assert len(names) == 400 and sorted(names) == sorted(label_map)  # the same 400 classes
    val = read_kinetics400(REAL / "kinetics400/kinetics-400_val.csv", classes=label_map)
    assert len(val) == 19906 and val.classes == label_map
    validate = read_kinetics400(REAL / "kinetics400/validate.csv", classes=label_map)
    assert len(validate) == 17778
    test = read_kinetics400(REAL / "kinetics400/kinetics-400_test.csv")
    assert len(test) == 38685 and {r.label for r in test} == {UNLABELLED}


# -- Something-Something ---------------------------------------------------------------------


def test_sthv2_fixture(tmp_path: Path) -> None:
    labels = _write(tmp_path / "labels.json", json.dumps(
        {"Putting something on something": "1", "Something falling like a rock": "0"}),
        "\r\n")
    entries = _write(tmp_path / "validation.json", "[\n" + ",\n".join([
        json.dumps({"id": "74225", "label": "putting Bücher on a table",
                    "template": "Putting [something] on [something]",
                    "placeholders": ["Bücher", "a table"]}, ensure_ascii=False),
        json.dumps({"id": "1", "label": "x falling like a rock", "template":
                    "[Something] falling like a rock", "placeholders": ["x"]}),
    ]) + "\n]\n", "\r\n")
    records = read_sthv2(entries, labels)
    assert [(r.label, r.path.name) for r in records] == [(1, "74225.webm"), (0, "1.webm")]
    assert records.classes[0] == "Something falling like a rock"
    test = _write(tmp_path / "test.json", '[\n{"id": "5"}\n]\n')
    assert read_sthv2(test, labels)[0].label == UNLABELLED
    bad = _write(tmp_path / "bad.json", '[\n{"id": "5", "template": "Dancing [something]"}\n]')
    with pytest.raises(AnnotationError, match=r"bad.json:2 .*unknown label 'Dancing something'"):
        read_sthv2(bad, labels)
    with pytest.raises(AnnotationError, match="not valid JSON"):
        read_sthv2(_write(tmp_path / "cut.json", '[\n{"id": '), labels)


def test_sthv1_fixture_with_frame_folders(tmp_path: Path) -> None:
    from PIL import Image

    labels = _write(tmp_path / "labels.csv", "label\nPutting something, on something\nHolding x\n")
    rows = _write(tmp_path / "val.csv",
                  "video;label\n1;Holding x\n2;Putting something, on something\n")
    frames = tmp_path / "frames"
    for video in ("1", "2"):
        (frames / video).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((10, 12, 3), 40 * i, np.uint8)).save(
                frames / video / f"{i + 1:05d}.jpg")
    records = read_sthv1(rows, labels, frames)
    assert [r.label for r in records] == [1, 0]
    dataset = VideoDataset(records.records, n_frames=4, transform=TransformConfig(dtype="uint8"))
    clip, label = dataset[0]
    assert clip.shape == (4, 3, 10, 12) and label == 1
    for jpg in (frames / "2").iterdir():  # an empty frame folder cannot be decoded
        jpg.unlink()
    with pytest.warns(UserWarning, match="skipped 1 videos"):
        kept = VideoDataset(records.records, n_frames=4, skip_bad=True)
    assert [r.path.name for r in kept.records] == ["1"]
    bad = _write(tmp_path / "bad.csv", "3;Dancing\n")
    with pytest.raises(AnnotationError, match=r"bad.csv:1: unknown label 'Dancing'"):
        read_sthv1(bad, labels)


@needs_real
def test_something_something_real_files() -> None:
    labels = REAL / "sthv2/something-something-v2-labels.json"
    val = read_sthv2(REAL / "sthv2/something-something-v2-validation.json", labels)
    assert len(val) == 24777 and len(val.classes) == 174
    sample = read_sthv2(REAL / "sthv2/derived/something-something-v2-validation.sample.json",
                        REAL / "sthv2/variants/labels.json")
    assert len(sample) == 44
    test = read_sthv2(REAL / "sthv2/something-something-v2-test.json", labels)
    assert len(test) == 27157
    v1 = read_sthv1(REAL / "sthv1/something-something-v1-validation.csv",
                    REAL / "sthv1/something-something-v1-labels.csv")
    v1_plain = read_sthv1(REAL / "sthv1/derived/something-something-v1-validation.noheader.csv",
                          REAL / "sthv1/label_map.txt")
    assert len(v1) == len(v1_plain) == 11522 and v1.records == v1_plain.records
    assert sorted(v1.classes) == sorted(val.classes)  # same 174 names, another order
    assert len(read_sthv1(REAL / "sthv1/something-something-v1-test.csv",
                          REAL / "sthv1/label_map.txt")) == 10960


# -- VideoDataset ----------------------------------------------------------------------------


@pytest.fixture()
def clips(tmp_path: Path) -> list[VideoRecord]:
    return [VideoRecord(_clip(tmp_path / f"c{i}.mp4", n=6 + 4 * i, value=30 * i), i % 2, "x")
            for i in range(4)]


def test_dataset_item_and_short_clip(clips: list[VideoRecord]) -> None:
    dataset = VideoDataset(clips, n_frames=16)  # every clip is shorter than 16 frames
    clip, label = dataset[0]
    assert clip.shape == (16, 3, 16, 16) and clip.dtype == torch.float32 and label == 0
    assert dataset.labels == [0, 1, 0, 1]


def test_dataset_seeded_training_sampling(clips: list[VideoRecord]) -> None:
    a = VideoDataset(clips, n_frames=4, train=True, seed=1)
    b = VideoDataset(clips, n_frames=4, train=True, seed=1)
    assert torch.equal(a[3][0], b[3][0])
    a.set_epoch(1)
    assert not torch.equal(a[3][0], b[3][0])


def test_bad_video_raises_by_default_and_skip_reports(tmp_path: Path,
                                                      clips: list[VideoRecord]) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = _write(tmp_path / "junk.mp4", "not a video")
    records = [*clips, VideoRecord(empty, 0, "x"), VideoRecord(junk, 1, "x")]
    with pytest.raises(VideoDecodeError, match="empty.mp4"):
        VideoDataset(records, n_frames=4)[4]
    for preload in (False, True):
        with pytest.warns(UserWarning, match="skipped 2 videos"):
            dataset = VideoDataset(records, n_frames=4, skip_bad=True, preload=preload)
        assert len(dataset) == 4 and sorted(p.name for p, _ in dataset.skipped) == [
            "empty.mp4", "junk.mp4"]
    with pytest.raises(DatasetError, match="no video"):
        VideoDataset([])


def test_preload_gives_the_same_items(clips: list[VideoRecord]) -> None:
    lazy = VideoDataset(clips, n_frames=5, train=True, seed=3)
    eager = VideoDataset(clips, n_frames=5, train=True, seed=3, preload=True)
    for i in range(len(clips)):
        assert torch.equal(lazy[i][0], eager[i][0])


def test_loader_workers_do_not_change_batches(clips: list[VideoRecord]) -> None:
    dataset = VideoDataset(clips, n_frames=4, train=True, seed=0)
    batches = []
    for workers in (0, 2):
        loader = make_loader(dataset, 2, shuffle=True, num_workers=workers, seed=7,
                             pin_memory=False)
        batches.append([(x.clone(), y.clone()) for x, y in loader])
    for (x0, y0), (x1, y1) in zip(*batches, strict=True):
        assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert batches[0][0][0].shape == (2, 4, 3, 16, 16)


@pytest.mark.skipif(not (MINI / "sample" / "sample.csv").is_file(), reason="no mini sample")
def test_from_mini_sample() -> None:
    dataset = VideoDataset.from_mini(MINI, "sample", n_frames=8)
    clip, label = dataset[9]
    assert clip.shape == (8, 3, 64, 64) and label == 9
    record = dataset.records[9]
    assert record.group == "temporal" and record.difficulty is not None
    with pytest.raises(DatasetError, match="unknown MiniActions split"):
        read_mini(MINI, "holdout")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_mini(MINI, "sample")) == 16
