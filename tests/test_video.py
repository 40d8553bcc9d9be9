"""Decoding, sampling and transforms (dynamic_inference.data.video)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_inference.data.mini import encode_clip
from dynamic_inference.data.video import (
    ClipTransform,
    PartialDecodeWarning,
    TransformConfig,
    decode_video,
    dense_indices,
    read_frame_folder,
    read_video,
    sample_indices,
    tsn_indices,
    uniform_indices,
)
from dynamic_inference.errors import ConfigError, DatasetError, VideoDecodeError

REPO = Path(__file__).resolve().parents[1]
REAL = Path(__file__).resolve().parents[2] / "shared" / "real_fixtures" / "videos"
SAMPLE = REPO / "datasets_mini" / "sample"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="shared/real_fixtures not present")


@pytest.fixture(scope="module")
def small_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10-frame 32x48 H.264 clip written by the MiniActions encoder."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (10, 32, 48, 3), dtype=np.uint8)
    frames[:, :, :24] = 40  # some flat area so the clip is not all noise
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    encode_clip(frames, path)
    return path


# -- decoding: bad inputs --------------------------------------------------------------------


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="no such video"):
        decode_video(tmp_path / "nope.mp4")


def test_zero_byte_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty.mp4.*0 bytes"):
        decode_video(path)


def test_non_video_named_mp4_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoDecodeError, match="notes.mp4"):
        decode_video(path)


def test_truncated_mp4_raises(tmp_path: Path, small_mp4: Path) -> None:
    path = tmp_path / "truncated.mp4"
    path.write_bytes(small_mp4.read_bytes()[: small_mp4.stat().st_size // 2])
    with pytest.raises(VideoDecodeError, match="truncated.mp4"):
        decode_video(path)


def test_folder_instead_of_file_raises(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="folder"):
        decode_video(tmp_path)


# -- decoding: good inputs -------------------------------------------------------------------


def test_decode_small_mp4_shape_and_dtype(small_mp4: Path) -> None:
    video = read_video(small_mp4)
    assert video.frames.shape == (10, 32, 48, 3)
    assert video.frames.dtype == torch.uint8
    assert video.complete and video.fps == pytest.approx(25.0)
    assert decode_video(small_mp4, max_frames=3).shape[0] == 3


def test_decode_is_deterministic(small_mp4: Path) -> None:
    assert torch.equal(decode_video(small_mp4), decode_video(small_mp4))
    assert torch.equal(decode_video(small_mp4), decode_video(small_mp4, threads=True))


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="datasets_mini/sample not present")
def test_mini_clip_decodes_under_20_ms() -> None:
    """Budget: one 64x64 MiniActions clip decodes in < 20 ms on this CPU."""
    path = sorted(SAMPLE.glob("*.mp4"))[0]
    decode_video(path)  # warm-up
    times = []
    for _ in range(10):
        start = time.perf_counter()
        frames = decode_video(path)
        times.append(time.perf_counter() - start)
    best, median = min(times) * 1e3, float(np.median(times)) * 1e3
    print(f"\ndecode of {path.name} ({frames.shape[0]} frames 64x64): best {best:.1f} ms, "
          f"median {median:.1f} ms")
    assert frames.shape[1:] == (64, 64, 3)
    assert best < 20.0


@needs_real
@pytest.mark.parametrize(
    ("name", "n_frames", "height", "width"),
    [
        ("v_Basketball_g01_c01.avi", 141, 240, 320),  # XviD, NTSC rate
        ("mmaction2_test.avi", 164, 240, 320),  # packed B-frames, MP3 audio
        ("ssv2_clip_427x240.webm", 53, 240, 427),  # VP9, odd width, first pts 83 ms
        ("flipping_a_pancake.mkv", 310, 240, 426),  # MKV with Opus audio, no frame count
        ("decord_video_90.mov", 3, 568, 320),  # -90 degree rotation: shown as 320x568
        ("mmaction2_demo.mp4", 280, 256, 340),  # SAR 64/51, stored pixels kept
    ],
)
def test_real_videos(name: str, n_frames: int, height: int, width: int) -> None:
    frames = decode_video(REAL / name)
    assert frames.shape == (n_frames, height, width, 3)
    assert frames.dtype == torch.uint8
    assert frames.float().std() > 5  # real picture content, not a blank


@needs_real
def test_real_vfr_video_counts_decoded_frames() -> None:
    video = read_video(REAL / "mmaction2_demo_skeleton_vfr.mp4", max_frames=72)
    assert video.num_frames == 72 and video.complete


@needs_real
def test_non_square_pixels_can_be_corrected() -> None:
    frames = decode_video(REAL / "mmaction2_demo.mp4", max_frames=2, correct_aspect=True)
    assert frames.shape == (2, 256, round(340 * 64 / 51), 3)


@needs_real
def test_corrupt_midway_keeps_decoded_frames_and_warns() -> None:
    path = REAL / "decord_corrupted.mp4"
    with pytest.warns(PartialDecodeWarning, match="after 28 frames"):
        video = read_video(path)
    assert video.num_frames == 28 and not video.complete and video.error
    with pytest.raises(VideoDecodeError, match="decord_corrupted.mp4"):
        read_video(path, strict=True)


def test_frame_folder(tmp_path: Path) -> None:
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((8, 10, 3), i * 50, np.uint8)).save(tmp_path / f"{i + 1:05d}.jpg")
    frames = read_frame_folder(tmp_path)
    assert frames.shape == (3, 8, 10, 3)
    assert frames[2].float().mean() == pytest.approx(100, abs=3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match="no .jpg"):
        read_frame_folder(empty)


# -- sampling --------------------------------------------------------------------------------


def test_tsn_eval_takes_segment_centres() -> None:
    assert tsn_indices(40, 8, train=False).tolist() == [2, 7, 12, 17, 22, 27, 32, 37]


def test_tsn_short_clip_repeats_in_order() -> None:
    """Documented rule: fewer frames than segments repeats frames in order (no loop back)."""
    assert tsn_indices(3, 8, train=False).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    rng = np.random.default_rng(0)
    picks = tsn_indices(3, 8, train=True, rng=rng)
    assert np.all(np.diff(picks) >= 0) and set(picks.tolist()) <= {0, 1, 2}


def test_sampling_errors() -> None:
    with pytest.raises(ConfigError, match="rng"):
        tsn_indices(10, 4, train=True)
    with pytest.raises(DatasetError, match="0 frames"):
        tsn_indices(0, 4, train=False)
    with pytest.raises(ConfigError):
        uniform_indices(10, 0)
    with pytest.raises(ConfigError, match="unknown sampling"):
        sample_indices(10, 4, mode="nope")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(num=st.integers(1, 300), n=st.integers(1, 32), seed=st.integers(0, 2**16))
def test_tsn_train_one_index_per_segment(num: int, n: int, seed: int) -> None:
    picks = tsn_indices(num, n, train=True, rng=np.random.default_rng(seed))
    assert picks.shape == (n,) and picks.dtype == np.int64
    assert picks.min() >= 0 and picks.max() < num
    assert np.all(np.diff(picks) >= 0)
    segment = np.floor(np.arange(n) * num / n).astype(int)
    segment_end = np.ceil((np.arange(n) + 1) * num / n).astype(int)
    # every index lies inside its own segment [i F / n, (i + 1) F / n)
    assert np.all(picks >= segment) and np.all(picks < segment_end)


@settings(max_examples=100, deadline=None)
@given(num=st.integers(1, 200), n=st.integers(1, 32), stride=st.integers(1, 4),
       seed=st.integers(0, 1000))
def test_uniform_and_dense_in_range(num: int, n: int, stride: int, seed: int) -> None:
    uni = uniform_indices(num, n)
    assert uni.shape == (n,) and uni.min() >= 0 and uni.max() < num
    if n > 1:
        assert uni[0] == 0 and uni[-1] == num - 1
    dense = dense_indices(num, n, stride=stride, train=True, rng=np.random.default_rng(seed))
    assert dense.shape == (n,) and dense.min() >= 0 and dense.max() < num
    if num >= (n - 1) * stride + 1:  # long enough: consecutive with the stride, no loop
        assert np.all(np.diff(dense) == stride)


def test_dense_loops_on_short_clips() -> None:
    assert dense_indices(3, 5, train=False).tolist() == [0, 1, 2, 0, 1]


# -- transforms ------------------------------------------------------------------------------


def _ramp(t: int = 4, h: int = 20, w: int = 30) -> torch.Tensor:
    x = torch.arange(w, dtype=torch.uint8).view(1, 1, w, 1).expand(t, h, w, 3)
    return x.contiguous()


def test_transform_float_output_shape_and_normalisation() -> None:
    frames = torch.full((4, 20, 30, 3), 255, dtype=torch.uint8)
    out = ClipTransform(TransformConfig(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))(frames)
    assert out.shape == (4, 3, 20, 30) and out.dtype == torch.float32
    assert torch.allclose(out, torch.ones_like(out))


def test_transform_resize_crop_uint8() -> None:
    cfg = TransformConfig(resize=10, size=8, dtype="uint8")
    out = ClipTransform(cfg)(_ramp())
    assert out.shape == (4, 3, 8, 8) and out.dtype == torch.uint8


def test_random_crop_and_flip_are_seeded_and_flip_can_be_disabled() -> None:
    frames = _ramp()
    flip = ClipTransform(TransformConfig(size=16, crop="random", flip=True, dtype="uint8"))
    a = flip(frames, train=True, rng=np.random.default_rng(3))
    b = flip(frames, train=True, rng=np.random.default_rng(3))
    assert torch.equal(a, b)
    outs = {flip(frames, train=True, rng=np.random.default_rng(s))[0, 0, 0, 0].item() <
            flip(frames, train=True, rng=np.random.default_rng(s))[0, 0, 0, -1].item()
            for s in range(20)}
    assert outs == {True, False}  # some flipped, some not
    no_flip = ClipTransform(TransformConfig(size=16, crop="random", flip=False, dtype="uint8"))
    for s in range(20):
        out = no_flip(frames, train=True, rng=np.random.default_rng(s))
        assert out[0, 0, 0, 0] < out[0, 0, 0, -1]  # left stays left
    evaluation = flip(frames, train=False)
    assert torch.equal(evaluation, flip(frames, train=False))
    assert evaluation[0, 0, 0, 0] == 7  # centre crop of a 0..29 ramp: columns 7..22


def test_transform_errors() -> None:
    with pytest.raises(ConfigError, match="larger than the frames"):
        ClipTransform(TransformConfig(size=64))(_ramp())
    with pytest.raises(ConfigError, match="crop"):
        TransformConfig(crop="corner")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"\(T, H, W, 3\)"):
        ClipTransform()(torch.zeros(4, 3, 8, 8, dtype=torch.uint8))


def test_partial_decode_warning_is_a_user_warning() -> None:
    assert issubclass(PartialDecodeWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tsn_indices(5, 2, train=False).tolist() == [1, 3]
