"""MiniActions generator and the shipped dataset (dynamic_inference.data.mini)."""

from __future__ import annotations

import csv
import json
import multiprocessing
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dynamic_inference.data import mini
from dynamic_inference.data.datasets import read_mini
from dynamic_inference.data.mini.annotations import annotation_row
from dynamic_inference.data.mini.build import _run_jobs, cli_make_mini
from dynamic_inference.data.mini.render import _render_temporal
from dynamic_inference.data.video import decode_video
from dynamic_inference.errors import ConfigError, DatasetError

ROOT = Path(__file__).resolve().parents[1] / "datasets_mini"
needs_recipe = pytest.mark.skipif(not (ROOT / "recipe.json").is_file(),
                                  reason="datasets_mini/recipe.json not present")


def test_class_list() -> None:
    assert len(mini.CLASSES) == 16
    assert [c.index for c in mini.CLASSES] == list(range(16))
    groups = [c.group for c in mini.CLASSES]
    assert groups.count("scene") == 8 and groups.count("temporal") == 8
    for cls in mini.CLASSES:
        assert cls.description
        if cls.group == "temporal":  # reversal pairs point at each other
            partner = mini.CLASSES[mini.CLASS_NAMES.index(cls.reverse_of)]
            assert partner.reverse_of == cls.name


def test_played_backwards_is_the_second_class_of_each_pair() -> None:
    """The reversal pairs of CLASSES decide both which clips are rendered backwards and the
    label of a clip played backwards."""
    assert mini.PLAYED_BACKWARDS == {"move_left", "recede", "rotate_anticlockwise", "vanish"}
    reverse = mini.mini_reverse_labels()
    assert reverse == [*range(8), 9, 8, 11, 10, 13, 12, 15, 14]


def test_config_per_class_rule_and_errors() -> None:
    cfg = mini.MiniConfig.with_per_class(3, 8)
    assert (cfg.seed, cfg.train_per_class, cfg.val_per_class, cfg.test_per_class) == (3, 8, 15, 15)
    assert mini.MiniConfig.with_per_class(0, None) == mini.MiniConfig()
    with pytest.raises(ConfigError):
        mini.MiniConfig.with_per_class(0, 0)
    with pytest.raises(ConfigError):
        mini.MiniConfig(min_frames=40, max_frames=32)


def test_specs_are_seeded() -> None:
    small = mini.MiniConfig(train_per_class=2, val_per_class=1, test_per_class=1)
    a, b = mini.clip_specs(small), mini.clip_specs(small)
    assert a == b and len(a) == 16 * 4
    other = mini.clip_specs(mini.MiniConfig(seed=1, train_per_class=2, val_per_class=1,
                                            test_per_class=1))
    assert [s.n_frames for s in a] != [s.n_frames for s in other]
    for spec in a:
        assert 32 <= spec.n_frames <= 48 and 0.0 <= spec.appearance_difficulty <= 1.0
        assert 0 <= spec.evidence_start and spec.evidence_start + spec.evidence_length <= \
            spec.n_frames
        assert (spec.outside == "none") == (spec.evidence_length == spec.n_frames)


def test_render_shapes_and_determinism() -> None:
    specs = mini.clip_specs(mini.MiniConfig(train_per_class=1, val_per_class=1,
                                            test_per_class=1), splits=("train",))
    for spec in specs:
        frames = mini.render_clip(spec)
        assert frames.shape == (spec.n_frames, 64, 64, 3) and frames.dtype == np.uint8
        assert np.array_equal(frames, mini.render_clip(spec))
        assert frames.std(axis=0).mean() > 0.5  # the clip moves (noise, pan or object)


def test_reversed_class_is_time_reversed_process() -> None:
    """Second class of a pair = the first class's process played backwards (same draws)."""
    spec = mini.clip_specs(mini.MiniConfig(train_per_class=1, val_per_class=1,
                                           test_per_class=1), splits=("val",))[9]
    assert mini.CLASS_NAMES[spec.label] == "move_left"
    forward = _render_temporal(spec, spec.rng(stream=1))  # the move_right process
    clip = mini.render_clip(spec)
    expected = (np.clip(forward[::-1], 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(clip, expected)


def test_class_strips() -> None:
    strips = mini.class_strips(n_frames=4)
    assert strips.shape == (16 * 64, 4 * 64, 3) and strips.dtype == np.uint8


def test_generation_does_not_depend_on_workers(tmp_path: Path) -> None:
    specs = mini.clip_specs(mini.MiniConfig(train_per_class=1, val_per_class=1,
                                            test_per_class=1), splits=("test",))[6:12]
    one = _run_jobs(specs, tmp_path / "one", workers=1)
    two = _run_jobs(specs, tmp_path / "two", workers=2)
    assert one == two
    for row in one:  # decodes to the written number of frames
        assert decode_video(tmp_path / "one" / row["path"]).shape[0] == int(row["n_frames"])


@needs_recipe
def test_committed_annotations_match_the_recipe() -> None:
    """Same seed => identical annotations: the committed CSVs are what the recipe produces."""
    config, recipe = mini.load_recipe(ROOT)
    assert recipe["seed"] == config.seed and "make-mini" in str(recipe["command"])
    specs = mini.clip_specs(config)
    for split in mini.SPLITS:
        with (ROOT / f"{split}.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        expected = [annotation_row(s) for s in specs if s.split == split]
        assert rows == expected
        assert len(rows) >= 16 * 50
    assert json.loads((ROOT / "classes.json").read_text())[8]["name"] == "move_right"


@needs_recipe
def test_regeneration_matches_manifest(tmp_path: Path) -> None:
    """Regenerate a subset from the recorded seed and compare with the manifest."""
    config, recipe = mini.load_recipe(ROOT)
    manifest = {r["path"]: r for r in csv.DictReader((ROOT / "manifest.csv").open())}
    specs = mini.clip_specs(config)
    subset = [specs[i] for i in np.linspace(0, len(specs) - 1, 6).astype(int)]
    rows = _run_jobs(subset, tmp_path, workers=1)
    same_build = recipe["libraries"] == mini.library_versions()
    for row in rows:
        want = manifest[row["path"]]
        assert row["render_sha256"] == want["render_sha256"]
        if same_build:
            assert row["frames_sha256"] == want["frames_sha256"]
            assert row["file_sha256"] == want["file_sha256"]


def _ensure(root: str) -> str:
    return str(mini.ensure_mini(root, workers=1))


def test_make_and_concurrent_ensure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "mini"
    code = cli_make_mini(SimpleNamespace(out=str(root), seed=5, per_class=1))
    assert code == 0 and "80 clips" in capsys.readouterr().out  # 1 + 2 + 2 per class
    for name in ("recipe.json", "classes.json", "train.csv", "val.csv", "test.csv",
                 "manifest.csv", ".gitignore", "sample/sample.csv"):
        assert (root / name).is_file(), name
    assert "videos/" in (root / ".gitignore").read_text()
    assert len(read_mini(root, "val")) == 32
    assert len(read_mini(root, "sample")) == 16
    made = {p.name: p.read_bytes() for p in (root / "videos").rglob("*.mp4")}
    shutil.rmtree(root / "videos")
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:  # two processes materialise the same root at once
        assert pool.map(_ensure, [str(root), str(root)]) == [str(root)] * 2
    again = {p.name: p.read_bytes() for p in (root / "videos").rglob("*.mp4")}
    assert again == made
    assert not list(root.glob(".tmp-*"))
    assert mini.verify_mini(root, sorted(f"videos/val/{n}" for n in made if "val_" in n)) == []


def test_ensure_without_recipe_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="make-mini"):
        mini.ensure_mini(tmp_path)


# -- the data itself: a single frame tells scenes apart, but not the two classes of a pair ---


def _features(frames: torch.Tensor) -> torch.Tensor:
    """8x8 RGB thumbnails of (N, H, W, 3) uint8 frames, flattened: (N, 192) float64."""
    x = frames.permute(0, 3, 1, 2).double() / 255
    return F.adaptive_avg_pool2d(x, 8).flatten(1)


def _ridge_accuracy(xtr: torch.Tensor, ytr: np.ndarray, xte: torch.Tensor, yte: np.ndarray,
                    lam: float = 100.0) -> float:
    """One-vs-rest ridge regression classifier (closed form) on standardised features."""
    classes = np.unique(ytr)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    a = torch.cat([(xtr - mu) / sd, torch.ones(len(xtr), 1, dtype=xtr.dtype)], 1)
    b = torch.cat([(xte - mu) / sd, torch.ones(len(xte), 1, dtype=xte.dtype)], 1)
    targets = torch.tensor(np.stack([ytr == c for c in classes], 1), dtype=a.dtype)
    weights = torch.linalg.solve(a.T @ a + lam * torch.eye(a.shape[1], dtype=a.dtype),
                                 a.T @ targets)
    return float((classes[(b @ weights).argmax(1).numpy()] == yte).mean())


def _first_frames(split: str) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """First frames of a split: decoded from the materialised dataset if it is there, else
    rendered from the recipe (same source frames before H.264)."""
    if (ROOT / ".materialised.json").is_file() and (ROOT / "videos").is_dir():
        records = read_mini(ROOT, split).records
        frames = torch.stack([decode_video(r.path, max_frames=1)[0] for r in records])
        return frames, np.array([r.label for r in records]), np.array(
            [r.difficulty for r in records])
    config, _ = mini.load_recipe(ROOT)
    cut = mini.MiniConfig(seed=config.seed, train_per_class=24, val_per_class=1,
                          test_per_class=24)
    specs = mini.clip_specs(cut, splits=(split,))
    frames = torch.stack([torch.from_numpy(mini.render_clip(s)[0]) for s in specs])
    return frames, np.array([s.label for s in specs]), np.array(
        [s.appearance_difficulty for s in specs])


@needs_recipe
def test_single_frame_classifier_scene_vs_reversal_pairs() -> None:
    ftr, ytr, _ = _first_frames("train")
    fte, yte, dte = _first_frames("test")
    xtr, xte = _features(ftr), _features(fte)
    scene_tr, scene_te = ytr < 8, yte < 8
    scene = _ridge_accuracy(xtr[scene_tr], ytr[scene_tr], xte[scene_te], yte[scene_te])
    print(f"\nsingle first frame, 8 scene classes: {scene:.3f} (chance 0.125)")
    assert scene > 0.35
    for first, second in ((8, 9), (10, 11), (12, 13), (14, 15)):
        mtr = (ytr == first) | (ytr == second)
        mte = (yte == first) | (yte == second)
        pair = _ridge_accuracy(xtr[mtr], ytr[mtr], xte[mte], yte[mte])
        print(f"pair {mini.CLASS_NAMES[first]}/{mini.CLASS_NAMES[second]}: {pair:.3f} (chance 0.5)")
        # A single-frame shortcut would show as accuracy above chance; 100 test clips per pair
        # put a chance-level classifier within about +-0.1 of 0.5.
        assert pair < 0.65
