"""Video decoding (PyAV), frame sampling and clip transforms.

paper section 3 (TSN-style segment sampling of the T input frames).

Decoding
--------
:func:`read_video` / :func:`decode_video` decode every frame of a file with PyAV and return a
``torch.uint8`` tensor of shape ``(F, H, W, 3)`` (RGB, frames in presentation order as the decoder
emits them). Choices, so that real files with awkward properties give predictable frames:

* **Frame count.** Containers often carry no frame count (webm, mkv) and some carry a wrong one
  (a corrupt mp4 says 50, 28 decode). ``F`` is always the number of frames actually decoded.
* **Time.** Frames are indexed by their rank, not by their timestamp: a variable frame rate, a
  non-zero first pts (VP9 webm) or non-monotonic pts (XviD AVI with packed B-frames) change nothing.
* **Rotation.** A display-matrix rotation (phone video, ``.mov``) is applied, so frames come out
  the way a player shows them (a coded 568x320 clip rotated by -90 degrees gives 320x568 frames).
* **Non-square pixels.** By default the stored pixels are returned unchanged (what TSN/TSM
  pipelines do); ``correct_aspect=True`` resizes the width by the sample aspect ratio instead.
* **Corruption mid-way.** If decoding fails after at least one frame, the frames that decoded are
  returned and a :class:`PartialDecodeWarning` names the file and the frame where it stopped
  (``DecodedVideo.complete`` is ``False``). ``strict=True`` raises :class:`VideoDecodeError`
  instead. A missing, zero-byte, non-video or truncated file that yields no frame always raises
  :class:`VideoDecodeError` naming the file.

Folders of JPEG frames (Something-Something v1) are read by :func:`read_frame_folder`;
:func:`load_frames` dispatches on the path.

Sampling
--------
All samplers return ``int64`` numpy index arrays into the decoded frames.

* :func:`tsn_indices` (TSN, Wang et al. 2016; the paper's input): the clip of ``F`` frames is cut
  into ``n`` equal segments; training draws one random frame per segment, evaluation takes the
  centre of each segment: ``idx_i = floor((i + u_i) * F / n)``, ``u_i ~ U[0, 1)`` or ``u_i = 0.5``.
  **Short clips** (``F < n``): the same formula then *repeats* frames in order (each source frame
  is used about ``n / F`` times, e.g. ``F=3, n=8`` -> ``[0,0,0,1,1,2,2,2]``); it never loops back.
* :func:`uniform_indices`: ``n`` evenly spaced frames including the first and the last.
* :func:`dense_indices`: ``n`` consecutive frames with a stride (I3D/SlowFast style) from a random
  (train) or centred (eval) start; when the clip is shorter than ``n * stride`` the indices
  **loop** (wrap modulo ``F``).

Transforms
----------
:class:`ClipTransform` (config :class:`TransformConfig`) maps ``(T, H, W, 3)`` uint8 frames to
``(T, C, H, W)`` float32 (normalised) or uint8: resize of the short side, centre or random crop,
optional horizontal flip (off by default: it turns "left to right" into "right to left" and
"clockwise" into "anticlockwise", so it must stay off for direction classes such as MiniActions'
temporal classes and Something-Something's "pushing from left to right"), normalisation.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch
import torch.nn.functional as F
from av.video.reformatter import VideoReformatter

from dynamic_inference.errors import ConfigError, DatasetError, VideoDecodeError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ClipTransform",
    "DecodedVideo",
    "PartialDecodeWarning",
    "TransformConfig",
    "decode_video",
    "dense_indices",
    "load_frames",
    "probe_video",
    "read_frame_folder",
    "read_video",
    "sample_indices",
    "tsn_indices",
    "uniform_indices",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


class PartialDecodeWarning(UserWarning):
    """A video whose decoding failed part-way; the frames decoded before the failure were kept."""


@dataclass(frozen=True)
class DecodedVideo:
    """The result of :func:`read_video`.

    ``frames``: uint8 ``(F, H, W, 3)`` RGB. ``fps``: the stream's average rate (nominal; ``None``
    if unknown). ``complete``: ``False`` when decoding stopped early on an error, which is then in
    ``error``.
    """

    frames: torch.Tensor
    fps: float | None
    complete: bool
    error: str | None = None

    @property
    def num_frames(self) -> int:
        """Number of frames decoded."""
        return int(self.frames.shape[0])


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoDecodeError(f"{path}: no such video file; check the path and the data root")
    if path.is_dir():
        raise VideoDecodeError(f"{path}: is a folder, not a video file (use read_frame_folder)")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: the file is empty (0 bytes); download or copy it again")


def _rotate(image: np.ndarray, rotation: float) -> np.ndarray:
    """Apply a display-matrix rotation (degrees counter-clockwise, PyAV's ``frame.rotation``)."""
    quarter_turns = int(round(rotation / 90.0)) % 4
    if quarter_turns == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns))


class FrameReader:
    """Decode a video file one frame at a time (PyAV): ``for image in FrameReader(path)``.

    Each item is an RGB ``(H, W, 3)`` uint8 numpy array, rotated as a player shows it. Opening
    raises :class:`VideoDecodeError` (missing, empty, not a video, no video stream). A decoding
    error part-way ends the iteration and is kept in ``error`` (the caller decides whether that
    is fatal). ``frame_count`` is the container's frame count, ``None`` when it has none (it
    can be wrong: count what you decode). :func:`read_video` and the ``stream`` command use it.
    """

    def __init__(self, path: str | Path, threads: bool = False) -> None:
        self.path = Path(path)
        _check_file(self.path)
        try:
            self._container = av.open(str(self.path), mode="r")
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoDecodeError(
                f"{self.path}: cannot be opened as a video ({exc}); the file is truncated or "
                "not a video"
            ) from exc
        if not self._container.streams.video:
            self._container.close()
            raise VideoDecodeError(f"{self.path}: the file holds no video stream; is it a video?")
        self._stream = self._container.streams.video[0]
        if threads:
            self._stream.thread_type = "AUTO"
        self._sws_threads = 0 if threads else 1
        rate = self._stream.average_rate
        self.fps: float | None = float(rate) if rate else None
        self.sar = self._stream.codec_context.sample_aspect_ratio
        self.frame_count: int | None = int(self._stream.frames) or None
        self.error: str | None = None
        self.decoded = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        # One reformatter (swscale context) for all frames: creating one per frame, as
        # frame.to_ndarray(format="rgb24") does, costs ~1 ms per 64x64 frame.
        reformatter = VideoReformatter()
        try:
            for frame in self._container.decode(self._stream):
                rgb = reformatter.reformat(frame, format="rgb24", threads=self._sws_threads)
                image = rgb.to_ndarray()  # (H, W, 3) uint8
                self.decoded += 1
                yield _rotate(image, float(getattr(frame, "rotation", 0) or 0))
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.error = str(exc)
        finally:
            self.close()

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_video(
    path: str | Path,
    *,
    strict: bool = False,
    correct_aspect: bool = False,
    max_frames: int | None = None,
    threads: bool = False,
) -> DecodedVideo:
    """Decode all frames of ``path``: see the module docstring for the rules.

    ``max_frames`` stops after that many frames. ``threads=True`` lets FFmpeg decode with its own
    threads (``thread_type="AUTO"``): faster on large videos, slower on 64x64 MiniActions clips.
    Raises :class:`VideoDecodeError` when no frame can be decoded (or, with ``strict``, on any
    decoding error).
    """
    path = Path(path)
    images: list[np.ndarray] = []
    with FrameReader(path, threads=threads) as reader:
        for image in reader:
            images.append(image)
            if max_frames is not None and len(images) >= max_frames:
                break
    error = reader.error
    if not images:
        reason = f" ({error})" if error else ""
        raise VideoDecodeError(
            f"{path}: no frame could be decoded{reason}; the file is truncated, corrupt or not a "
            "video — re-download it or drop it from the annotation list"
        )
    if error is not None:
        message = (
            f"{path}: decoding failed after {len(images)} frames ({error}); the file is corrupt "
            "part-way"
        )
        if strict:
            raise VideoDecodeError(message + "; re-download it or pass strict=False to keep them")
        warnings.warn(message + f"; kept the first {len(images)} frames", PartialDecodeWarning,
                      stacklevel=2)
    frames = torch.from_numpy(np.stack(images))  # (F, H, W, 3) uint8
    sar = reader.sar
    if correct_aspect and sar is not None and sar != 1 and float(sar) > 0:
        frames = _stretch_width(frames, float(sar))
    return DecodedVideo(frames=frames, fps=reader.fps, complete=error is None, error=error)


def _stretch_width(frames: torch.Tensor, sar: float) -> torch.Tensor:
    """Resize ``(F, H, W, 3)`` uint8 frames to square pixels: width * sar."""
    height, width = frames.shape[1], frames.shape[2]
    new_width = max(1, int(round(width * sar)))
    x = frames.permute(0, 3, 1, 2).float()  # (F, 3, H, W)
    x = F.interpolate(x, size=(height, new_width), mode="bilinear", align_corners=False,
                      antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def decode_video(path: str | Path, **kwargs: object) -> torch.Tensor:
    """Decode ``path`` to uint8 ``(F, H, W, 3)``; keyword arguments as :func:`read_video`."""
    return read_video(path, **kwargs).frames  # type: ignore[arg-type]


def probe_video(path: str | Path) -> None:
    """Raise :class:`VideoDecodeError` unless the first frame of ``path`` decodes (cheap)."""
    path = Path(path)
    if path.is_dir():
        read_frame_folder(path, max_frames=1)
    else:
        read_video(path, max_frames=1)


def read_frame_folder(path: str | Path, *, max_frames: int | None = None) -> torch.Tensor:
    """Read a folder of image frames (``00001.jpg`` ...; Something-Something v1) in name order.

    Returns uint8 ``(F, H, W, 3)``. Raises :class:`VideoDecodeError` if the folder is missing,
    holds no image, or an image cannot be read.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_dir():
        raise VideoDecodeError(f"{path}: no such frame folder; check the frames root")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES)
    if not files:
        raise VideoDecodeError(f"{path}: the frame folder holds no .jpg/.png frame")
    if max_frames is not None:
        files = files[:max_frames]
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                images.append(np.asarray(image.convert("RGB")))
        except (OSError, UnidentifiedImageError) as exc:
            raise VideoDecodeError(f"{file}: cannot be read as an image ({exc})") from exc
    if any(image.shape != images[0].shape for image in images):
        raise VideoDecodeError(f"{path}: frames have different sizes; the folder is inconsistent")
    return torch.from_numpy(np.stack(images))


def load_frames(path: str | Path, **kwargs: object) -> torch.Tensor:
    """Frames ``(F, H, W, 3)`` uint8 of a video file or of a folder of frames."""
    path = Path(path)
    if path.is_dir():
        return read_frame_folder(path)
    return decode_video(path, **kwargs)


# --------------------------------------------------------------------------------------------
# Sampling (paper section 3: T frames per video, TSN segments)


def _check_counts(num_frames: int, n: int) -> None:
    if n < 1:
        raise ConfigError(f"number of frames to sample must be >= 1, got {n}")
    if num_frames < 1:
        raise DatasetError("cannot sample from a clip with 0 frames; the video decoded empty")


def tsn_indices(
    num_frames: int, n: int, *, train: bool, rng: np.random.Generator | None = None
) -> np.ndarray:
    """TSN segment sampling: ``n`` indices into ``num_frames`` frames, shape ``(n,)`` int64.

    ``train``: one uniformly random frame per segment (``rng`` required); else segment centres.
    Short clips repeat frames in order (module docstring).
    """
    _check_counts(num_frames, n)
    if train:
        if rng is None:
            raise ConfigError("tsn_indices(train=True) needs an rng (np.random.Generator)")
        offsets = rng.random(n)
    else:
        offsets = np.full(n, 0.5)
    positions = (np.arange(n) + offsets) * (num_frames / n)
    return np.minimum(np.floor(positions).astype(np.int64), num_frames - 1)


def uniform_indices(num_frames: int, n: int) -> np.ndarray:
    """``n`` evenly spaced indices from the first to the last frame (repeats when short)."""
    _check_counts(num_frames, n)
    if n == 1:
        return np.array([(num_frames - 1) // 2], dtype=np.int64)
    return np.round(np.linspace(0, num_frames - 1, n)).astype(np.int64)


def dense_indices(
    num_frames: int,
    n: int,
    *,
    stride: int = 1,
    train: bool,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """``n`` frames ``stride`` apart from a random (train) or centred start; loops when short."""
    _check_counts(num_frames, n)
    if stride < 1:
        raise ConfigError(f"dense sampling stride must be >= 1, got {stride}")
    span = (n - 1) * stride + 1
    slack = max(0, num_frames - span)
    if train:
        if rng is None:
            raise ConfigError("dense_indices(train=True) needs an rng (np.random.Generator)")
        start = int(rng.integers(0, slack + 1))
    else:
        start = slack // 2
    return (start + np.arange(n, dtype=np.int64) * stride) % num_frames


SamplingMode = Literal["tsn", "uniform", "dense"]


def sample_indices(
    num_frames: int,
    n: int,
    *,
    mode: SamplingMode = "tsn",
    train: bool = False,
    rng: np.random.Generator | None = None,
    stride: int = 1,
) -> np.ndarray:
    """Dispatch to :func:`tsn_indices`, :func:`uniform_indices` or :func:`dense_indices`."""
    if mode == "tsn":
        return tsn_indices(num_frames, n, train=train, rng=rng)
    if mode == "uniform":
        return uniform_indices(num_frames, n)
    if mode == "dense":
        return dense_indices(num_frames, n, stride=stride, train=train, rng=rng)
    raise ConfigError(f"unknown sampling mode {mode!r}; use 'tsn', 'uniform' or 'dense'")


# --------------------------------------------------------------------------------------------
# Transforms


@dataclass(frozen=True)
class TransformConfig:
    """Clip transform settings.

    ``resize``: short side after resizing (``None``: keep). ``size``: square crop side (``None``:
    no crop). ``crop``: ``"center"`` or ``"random"`` (random only when the transform is called
    with ``train=True``; evaluation always crops the centre). ``flip``: random horizontal flip in
    training; keep it ``False`` for direction-dependent classes. ``dtype``: ``"float32"``
    (``/255`` then normalised with ``mean``/``std``) or ``"uint8"`` (no normalisation).
    """

    resize: int | None = None
    size: int | None = None
    crop: Literal["center", "random"] = "center"
    flip: bool = False
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    dtype: Literal["float32", "uint8"] = "float32"

    def __post_init__(self) -> None:
        if self.crop not in ("center", "random"):
            raise ConfigError(f"crop must be 'center' or 'random', got {self.crop!r}")
        if self.dtype not in ("float32", "uint8"):
            raise ConfigError(f"dtype must be 'float32' or 'uint8', got {self.dtype!r}")
        for name in ("resize", "size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be a positive number of pixels, got {value}")
        if any(s <= 0 for s in self.std):
            raise ConfigError(f"std must be positive, got {self.std}")


class ClipTransform:
    """``(T, H, W, 3)`` uint8 -> ``(T, C, H, W)`` float32 or uint8, per :class:`TransformConfig`."""

    def __init__(self, config: TransformConfig | None = None) -> None:
        self.config = config or TransformConfig()
        self._mean = torch.tensor(self.config.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(self.config.std, dtype=torch.float32).view(1, 3, 1, 1)

    def __call__(
        self, frames: torch.Tensor, *, train: bool = False, rng: np.random.Generator | None = None
    ) -> torch.Tensor:
        """Transform one clip; ``rng`` drives the random crop and flip when ``train``."""
        cfg = self.config
        if frames.dim() != 4 or frames.shape[-1] != 3:
            raise ConfigError(f"expected frames (T, H, W, 3), got shape {tuple(frames.shape)}")
        if train and (cfg.crop == "random" or cfg.flip) and rng is None:
            raise ConfigError("a training transform with random crop/flip needs an rng")
        x = frames.permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
        as_float = x.float()  # (T, 3, H, W) in [0, 255]
        resized = False
        if cfg.resize is not None:
            height, width = x.shape[-2:]
            scale = cfg.resize / min(height, width)
            new_hw = (max(1, round(height * scale)), max(1, round(width * scale)))
            if new_hw != (height, width):
                as_float = F.interpolate(as_float, size=new_hw, mode="bilinear",
                                         align_corners=False, antialias=True)
                resized = True
        if cfg.size is not None:
            as_float = self._crop(as_float, cfg.size, random=train and cfg.crop == "random",
                                  rng=rng)
        if train and cfg.flip and rng is not None and rng.random() < 0.5:
            as_float = as_float.flip(-1)
        if cfg.dtype == "uint8":
            out = as_float.round().clamp(0, 255) if resized else as_float
            return out.to(torch.uint8).contiguous()
        return ((as_float / 255.0 - self._mean) / self._std).contiguous()

    @staticmethod
    def _crop(
        x: torch.Tensor, size: int, *, random: bool, rng: np.random.Generator | None
    ) -> torch.Tensor:
        """Square crop of side ``size`` from ``(T, C, H, W)``."""
        height, width = x.shape[-2:]
        if size > height or size > width:
            raise ConfigError(
                f"crop size {size} is larger than the frames ({height}x{width}); set resize >= size"
            )
        if random and rng is not None:
            top = int(rng.integers(0, height - size + 1))
            left = int(rng.integers(0, width - size + 1))
        else:
            top, left = (height - size) // 2, (width - size) // 2
        return x[..., top : top + size, left : left + size]

