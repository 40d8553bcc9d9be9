"""MiniActions: a procedurally generated stand-in for the real action datasets (DESIGN section 4).

The paper's premise (section 1 of the paper) is that videos differ in how hard they are to
recognise; MiniActions makes that difference controllable and recorded, at a size a 2-core CPU
can train on.

Clips
-----
64x64 RGB, 32 to 48 source frames at 25 fps (longer than the 8/16-frame model input, so TSN
sampling moves objects several pixels between sampled frames), written as real H.264 ``.mp4``
files by PyAV/libx264 with ``pix_fmt=yuv444p`` (profile High 4:4:4; 4:2:0 chroma halves the
colour resolution of a 64x64 frame, which cost 5 points of accuracy in a prototype) at CRF 23,
preset ultrafast (CAVLC: decodes a clip in ~12 ms on the 2-core CPU), and read back through the
same PyAV path as real data (:mod:`dynamic_inference.data.video`).

Classes (:data:`CLASSES`)
-------------------------
* 8 **scene** classes, the Kinetics/UCF/HMDB analogue: each has its own spatial layout and palette
  (beach bands, forest trunks, night sky, ...), recognisable from one frame. They are drawn over a
  class-independent random *neutral background* (gradient + soft blobs) shared by all classes.
  The per-clip **appearance difficulty** ``d ~ U[0, 1]`` fades the layout into that background
  (opacity ``1 - 0.7 d``), shrinks it to a sub-window (side ``64 (1 - 0.5 d u)``), zooms it by an
  odd factor (``exp(0.6 d U[-1, 1])``), adds clutter shapes (``Binomial(12, d)``), pixel noise
  (``sigma = 0.005 + 0.045 d``) and, with probability ``0.6 d``, an occluding rectangle. The layout
  pans slowly (< 0.3 px/frame).
* 8 **temporal** classes in 4 time-reversal pairs, the Something-Something analogue:
  ``move_right``/``move_left``, ``approach``/``recede``, ``rotate_clockwise``/
  ``rotate_anticlockwise``, ``appear``/``vanish``. One object (shape and colour random per clip)
  on a neutral background. **No single-frame shortcut by construction**: a clip of the second
  class of a pair is a clip drawn from the *first* class's process and played backwards, and every
  process has a random phase that makes each frame's state uniformly distributed at every time
  (wrap-around translation from a uniform start; size/opacity sawtooth cycles and rotation angle
  starting at a uniform phase). So any single frame, the first included, has the same distribution
  in both classes of a pair (H.264 coding is not time-symmetric, but its artefacts are far below
  what a classifier of single frames can use). Difficulty ``d`` lowers the object's contrast
  (``0.55 - 0.4 d``) and size, adds static clutter, noise and occluders (which the object passes
  behind).

Evidence windows
----------------
With probability 0.5 a clip shows its evidence throughout. Otherwise only inside a window of
6-16 frames at a uniformly random start: outside it a scene clip shows only the neutral background
and clutter, and a temporal clip's object is frozen (``outside="frozen"``) or shakes randomly
without net motion (``outside="jitter"``, a distractor); both are symmetric under time reversal.
Such clips need more sampled frames. The annotations record ``appearance_difficulty``,
``evidence_start``, ``evidence_length``, ``outside`` and the class ``group``; they are for
analysis, not for training.

Files (``make_mini``)
---------------------
``recipe.json`` (command, seed, version, split sizes, library versions), ``classes.json``,
``train.csv``/``val.csv``/``test.csv``, ``manifest.csv`` (per clip: sha256 of the rendered source
frames, of the decoded frames and of the file), ``videos/<split>/*.mp4``, ``sample/`` (the first
test clip of every class, with ``sample.csv``) and a ``.gitignore`` that keeps ``videos/`` out of
git: the default set (2,880 clips: 80/50/50 per class) is ~130 MB of video, so only the recipe,
annotations, manifest and the 16-clip sample (~0.7 MB) are committed. :func:`ensure_mini`
materialises ``videos/`` from the recipe on first use (2 processes: ~80 s on the 2-core CPU; under
a file lock, into a temporary folder renamed into place) and checks every clip against the
manifest; later calls only check that the files are there (~0.1 s).

Determinism: each clip's random generator is seeded from ``(seed, split, label, index)``, so the
result does not depend on the number of worker processes; the same seed gives the same
annotations and the same decoded frames (with the same FFmpeg/x264 build; the source-frame hashes
are independent of the build), another seed gives a different dataset of the same kind.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from dynamic_inference.errors import ConfigError, DatasetError

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "DATASET_VERSION",
    "DEFAULT_ROOT",
    "DEFAULT_SEED",
    "SPLITS",
    "ClipSpec",
    "MiniClass",
    "MiniConfig",
    "class_strips",
    "cli_make_mini",
    "clip_specs",
    "ensure_mini",
    "make_mini",
    "MiniSummary",
    "class_strip",
    "default_root",
    "encode_clip",
    "load_recipe",
    "render_clip",
    "verify_mini",
]

DATASET_VERSION = "1.0"
DEFAULT_SEED = 0
SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "datasets_mini"
"""The repository's ``datasets_mini/``; override with the ``DYNAMIC_INFERENCE_MINI`` variable."""

Group = Literal["scene", "temporal"]


@dataclass(frozen=True)
class MiniClass:
    """One MiniActions class: index, name, group, a one-line description, reversal partner."""

    index: int
    name: str
    group: Group
    description: str
    reverse_of: str | None = None


CLASSES: tuple[MiniClass, ...] = (
    MiniClass(0, "beach", "scene", "sky, sea and sand in three horizontal bands"),
    MiniClass(1, "forest", "scene", "dark green wood with a canopy band and brown vertical trunks"),
    MiniClass(2, "night_sky", "scene", "dark blue sky with scattered stars and a pale moon"),
    MiniClass(3, "city", "scene", "grey blocks with lit windows against an orange sky"),
    MiniClass(4, "snowfield", "scene", "white ground with diagonal ski tracks under a grey sky"),
    MiniClass(5, "sunset", "scene", "purple-to-orange sky, a sun on the horizon, dark ground"),
    MiniClass(6, "tiled_room", "scene", "beige wall above a brown and cream checkerboard floor"),
    MiniClass(7, "waves", "scene", "teal water with wavy white crests"),
    MiniClass(8, "move_right", "temporal", "an object slides from left to right (wraps around)",
              "move_left"),
    MiniClass(9, "move_left", "temporal", "an object slides from right to left (wraps around)",
              "move_right"),
    MiniClass(10, "approach", "temporal", "an object grows as if it came closer", "recede"),
    MiniClass(11, "recede", "temporal", "an object shrinks as if it moved away", "approach"),
    MiniClass(12, "rotate_clockwise", "temporal", "an object circles a hub clockwise",
              "rotate_anticlockwise"),
    MiniClass(13, "rotate_anticlockwise", "temporal", "an object circles a hub anticlockwise",
              "rotate_clockwise"),
    MiniClass(14, "appear", "temporal", "an object fades in", "vanish"),
    MiniClass(15, "vanish", "temporal", "an object fades out", "appear"),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
# Temporal classes whose clips are time reversals of their partner's process (the second of a pair).
_REVERSED = {"move_left", "recede", "rotate_anticlockwise", "vanish"}


@dataclass(frozen=True)
class MiniConfig:
    """Generation settings; the defaults are the shipped dataset's (recorded in recipe.json)."""

    seed: int = DEFAULT_SEED
    train_per_class: int = 80
    val_per_class: int = 50
    test_per_class: int = 50
    size: int = 64
    min_frames: int = 32
    max_frames: int = 48
    fps: int = 25
    crf: int = 23
    full_evidence_prob: float = 0.5
    window_min: int = 6
    window_max: int = 16

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"--seed must be an integer >= 0, got {self.seed!r}")
        if min(self.train_per_class, self.val_per_class, self.test_per_class) < 1:
            raise ConfigError("clips per class must be >= 1 in every split")
        if not 8 <= self.min_frames <= self.max_frames:
            raise ConfigError("need 8 <= min_frames <= max_frames")
        if not 1 <= self.window_min <= self.window_max <= self.min_frames:
            raise ConfigError("need 1 <= window_min <= window_max <= min_frames")

    @classmethod
    def with_per_class(cls, seed: int, per_class: int | None) -> MiniConfig:
        """``per_class=K``: K train clips per class and ``ceil(5 K / 8)`` val and test clips
        (the default ratio 80:50:50); ``None`` gives the defaults."""
        if per_class is None:
            return cls(seed=seed)
        if per_class < 1:
            raise ConfigError(f"--per-class must be >= 1, got {per_class}")
        held_out = math.ceil(per_class * 5 / 8)
        return cls(seed=seed, train_per_class=per_class, val_per_class=held_out,
                   test_per_class=held_out)

    def per_class(self, split: str) -> int:
        """Clips per class in ``split``."""
        return {"train": self.train_per_class, "val": self.val_per_class,
                "test": self.test_per_class}[split]


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines one clip (its frames follow from these and the seed)."""

    split: str
    label: int
    index: int
    seed: int
    n_frames: int
    appearance_difficulty: float
    evidence_start: int
    evidence_length: int
    outside: str  # "none" (evidence throughout), "neutral", "frozen" or "jitter"
    config: MiniConfig = field(repr=False, compare=False, default_factory=MiniConfig)

    @property
    def name(self) -> str:
        """File stem, e.g. ``test_03_city_007``."""
        return f"{self.split}_{self.label:02d}_{CLASS_NAMES[self.label]}_{self.index:03d}"

    @property
    def path(self) -> str:
        """Path relative to the dataset root (posix)."""
        return f"videos/{self.split}/{self.name}.mp4"

    def rng(self, stream: int) -> np.random.Generator:
        """The clip's generator, seeded from (seed, split, label, index) only; stream 0 draws the
        recorded values, stream 1 renders the frames."""
        entropy = [self.seed, SPLITS.index(self.split), self.label, self.index, stream]
        return np.random.default_rng(np.random.SeedSequence(entropy))


def _draw_spec(config: MiniConfig, split: str, label: int, index: int) -> ClipSpec:
    """Draw the recorded per-clip values (first draws of the clip's generator)."""
    base = ClipSpec(split, label, index, config.seed, 0, 0.0, 0, 0, "none", config)
    rng = base.rng(stream=0)
    n_frames = int(rng.integers(config.min_frames, config.max_frames + 1))
    difficulty = float(rng.random())
    full = rng.random() < config.full_evidence_prob
    length = int(rng.integers(config.window_min, config.window_max + 1))
    start = int(rng.integers(0, n_frames - length + 1))
    jitter = rng.random() < 0.5
    if full:
        start, length, outside = 0, n_frames, "none"
    elif CLASSES[label].group == "scene":
        outside = "neutral"
    else:
        outside = "jitter" if jitter else "frozen"
    if CLASSES[label].name in _REVERSED:  # the rendered process runs backwards
        start = n_frames - start - length
    return ClipSpec(split, label, index, config.seed, n_frames, round(difficulty, 4), start,
                    length, outside, config)


def clip_specs(config: MiniConfig, splits: Sequence[str] = SPLITS) -> list[ClipSpec]:
    """All clips of the dataset, in annotation order (split, label, index)."""
    return [
        _draw_spec(config, split, label, index)
        for split in splits
        for label in range(len(CLASSES))
        for index in range(config.per_class(split))
    ]


# --------------------------------------------------------------------------------------------
# Rendering. Images are float32 (H, W, 3) in [0, 1]; clips float32 (F, H, W, 3).

Image = np.ndarray
_SHAPES = ("disk", "square", "diamond", "ring")


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (Y, X), each (size, size) float32."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return ys, xs


def _soft(x: np.ndarray) -> np.ndarray:
    """Anti-aliased step: 0 below -0.5, 1 above 0.5."""
    return np.clip(x + 0.5, 0.0, 1.0)


def _shape_mask(
    kind: str, dx: np.ndarray, dy: np.ndarray, radius: float | np.ndarray,
    angle: float | np.ndarray,
) -> Image:
    """Soft mask of a shape of ``radius`` centred at offsets (dx, dy), rotated by ``angle``;
    (H, W), or (F, H, W) when the arguments carry a leading frame axis (broadcasting)."""
    cos, sin = np.cos(angle), np.sin(angle)
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy
    if kind == "disk":
        return _soft(radius - np.hypot(u, v))
    if kind == "square":
        return _soft(0.85 * radius - np.maximum(np.abs(u), np.abs(v)))
    if kind == "diamond":
        return _soft(1.2 * radius - (np.abs(u) + np.abs(v)))
    if kind == "ring":
        d = np.hypot(u, v)
        return _soft(radius - d) * _soft(d - 0.5 * radius)
    raise ValueError(kind)


def _paint(image: Image, mask: Image, colour: np.ndarray, alpha: float = 1.0) -> Image:
    """Alpha-blend ``colour`` (3,) into ``image`` (H, W, 3) where ``mask`` (H, W) is set."""
    m = (mask * alpha)[..., None]
    return image * (1.0 - m) + colour.astype(np.float32) * m


def _neutral_background(rng: np.random.Generator, size: int) -> Image:
    """Class-independent background: a muted colour gradient plus soft blobs (H, W, 3)."""
    ys, xs = _grid(size)
    grey = rng.uniform(0.3, 0.7)
    c0 = np.clip(grey + rng.uniform(-0.12, 0.12, 3), 0, 1)
    c1 = np.clip(c0 + rng.normal(0, 0.1, 3), 0, 1)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = ((xs - size / 2) * math.cos(angle) + (ys - size / 2) * math.sin(angle)) / size + 0.5
    image = c0 + (c1 - c0) * ramp[..., None]
    for _ in range(3):
        cy, cx = rng.uniform(0, size, 2)
        sigma = rng.uniform(8, 16)
        blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))
        image = image + blob[..., None] * rng.normal(0, 0.08, 3)
    return np.clip(image, 0, 1).astype(np.float32)


def _contrasting_colour(rng: np.random.Generator, base: np.ndarray, contrast: float) -> np.ndarray:
    """A colour that differs from ``base`` (3,) by about ``contrast`` in brightness."""
    sign = -1.0 if float(base.mean()) > 0.5 else 1.0
    return np.clip(base + sign * contrast + rng.normal(0, 0.12, 3), 0, 1)


def _clutter(rng: np.random.Generator, size: int, count: int) -> list[tuple[Image, np.ndarray]]:
    """``count`` static distractor shapes as (mask (H, W), colour (3,)) pairs."""
    ys, xs = _grid(size)
    items = []
    for _ in range(count):
        cy, cx = rng.uniform(0, size, 2)
        kind = _SHAPES[int(rng.integers(len(_SHAPES)))]
        mask = _shape_mask(kind, xs - cx, ys - cy, rng.uniform(1.5, 4.5), rng.uniform(0, math.pi))
        items.append((mask, rng.uniform(0, 1, 3)))
    return items


def _occluder(rng: np.random.Generator, size: int) -> tuple[Image, np.ndarray]:
    """A static occluding rectangle (mask, colour)."""
    ys, xs = _grid(size)
    h, w = rng.uniform(12, 30, 2)
    top, left = rng.uniform(-4, size - h + 4), rng.uniform(-4, size - w + 4)
    mask = _soft(np.minimum.reduce([ys - top, top + h - ys, xs - left, left + w - xs]))
    return mask, np.clip(rng.uniform(0.2, 0.8) + rng.uniform(-0.1, 0.1, 3), 0, 1)


def _flatten(layers: Sequence[tuple[Image, np.ndarray]], size: int) -> tuple[Image, Image]:
    """Compose static layers (mask (H, W), colour (3,)), painted in order, into one overlay:
    premultiplied colour (H, W, 3) and coverage (H, W, 1); ``image * (1 - a) + c`` paints all."""
    colour = np.zeros((size, size, 3), dtype=np.float32)
    coverage = np.zeros((size, size, 1), dtype=np.float32)
    for mask, layer_colour in layers:
        m = mask[..., None].astype(np.float32)
        colour = colour * (1 - m) + layer_colour.astype(np.float32) * m
        coverage = coverage * (1 - m) + m
    return colour, coverage


def _shift(canvas: Image, dy: float, dx: float, size: int) -> Image:
    """The (size, size) window of ``canvas`` at sub-pixel offset (dy, dx) >= 0, bilinear."""
    iy, ix = int(math.floor(dy)), int(math.floor(dx))
    fy, fx = dy - iy, dx - ix
    a = canvas[iy : iy + size + 1, ix : ix + size + 1]
    top = a[:-1, :-1] * (1 - fx) + a[:-1, 1:] * fx
    bottom = a[1:, :-1] * (1 - fx) + a[1:, 1:] * fx
    return top * (1 - fy) + bottom * fy


def _jitter(c: np.ndarray, rng: np.random.Generator, amount: float = 0.06) -> np.ndarray:
    return np.clip(np.asarray(c, dtype=np.float32) + rng.uniform(-amount, amount, 3), 0, 1)


LayoutFn = Callable[[np.ndarray, np.ndarray], Image]


def _noise_sigma(difficulty: float) -> float:
    """Per-pixel Gaussian noise of a clip of the given appearance difficulty."""
    return 0.005 + 0.045 * difficulty


def _make_layout(label: int, rng: np.random.Generator) -> LayoutFn:
    """The scene layout of class ``label`` with its random parameters drawn now.

    Returns ``f(u, v) -> (H, W, 3)`` rendering the layout at layout coordinates ``u`` (x) and
    ``v`` (y), both (H, W) in pixels; the layout is defined on the whole plane so it can pan.
    """
    name = CLASS_NAMES[label]
    if name == "beach":
        sky, sea, sand = (_jitter(c, rng) for c in ((0.55, 0.8, 0.95), (0.1, 0.35, 0.7),
                                                    (0.9, 0.8, 0.5)))
        h1, h2 = rng.uniform(18, 26), rng.uniform(36, 44)

        def beach(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            image = _paint(image, _soft(v - h1), sea)
            return _paint(image, _soft(v - h2), sand)

        return beach
    if name == "forest":
        ground, canopy, bark = (_jitter(c, rng) for c in ((0.1, 0.35, 0.12), (0.25, 0.6, 0.2),
                                                          (0.4, 0.24, 0.1)))
        top = rng.uniform(10, 18)
        trunks = [(x, rng.uniform(2.5, 5.5)) for x in np.sort(rng.uniform(-20, 84, 9))]

        def forest(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(ground, u.shape + (3,)).astype(np.float32)
            for x, w in trunks:
                image = _paint(image, _soft(w / 2 - np.abs(u - x)) * _soft(v - top), bark)
            return _paint(image, _soft(top - v), canopy)

        return forest
    if name == "night_sky":
        sky, star, moon = (_jitter(c, rng) for c in ((0.03, 0.05, 0.22), (0.95, 0.95, 0.8),
                                                     (0.95, 0.92, 0.7)))
        stars = rng.uniform(-20, 84, (22, 2))
        moon_xy, moon_r = (rng.uniform(10, 54), rng.uniform(8, 24)), rng.uniform(6, 9)

        def night(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            for sx, sy in stars:
                image = _paint(image, _soft(1.1 - np.hypot(u - sx, v - sy)), star)
            return _paint(image, _soft(moon_r - np.hypot(u - moon_xy[0], v - moon_xy[1])), moon)

        return night
    if name == "city":
        sky, wall, light = (_jitter(c, rng) for c in ((0.95, 0.6, 0.35), (0.38, 0.38, 0.42),
                                                      (0.95, 0.85, 0.3)))
        edges = np.cumsum(rng.uniform(6, 12, 14)) - 24.0
        heights = rng.uniform(16, 42, len(edges))

        def city(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            index = np.clip(np.searchsorted(edges, u), 0, len(edges) - 1)
            building = _soft(v - (64.0 - heights[index]))
            image = _paint(image, building, wall)
            windows = ((np.floor(u / 3) % 2 == 0) & (np.floor(v / 3) % 2 == 0)).astype(np.float32)
            return _paint(image, building * windows * _soft(v - (66.0 - heights[index])), light)

        return city
    if name == "snowfield":
        sky, snow, track = (_jitter(c, rng) for c in ((0.55, 0.6, 0.7), (0.96, 0.97, 0.99),
                                                      (0.7, 0.74, 0.84)))
        horizon, angle, period = rng.uniform(20, 30), rng.uniform(0.5, 1.1), rng.uniform(8, 12)

        def snowfield(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            image = _paint(image, _soft(v - horizon), snow)
            phase = (u * math.cos(angle) + v * math.sin(angle)) % period
            tracks = _soft(1.0 - np.abs(phase - period / 2)) * _soft(v - horizon - 2)
            return _paint(image, tracks, track)

        return snowfield
    if name == "sunset":
        high, low, sun, ground = (_jitter(c, rng) for c in ((0.35, 0.15, 0.45), (0.98, 0.55, 0.2),
                                                            (1.0, 0.88, 0.35), (0.15, 0.08, 0.1)))
        horizon, sun_x, sun_r = rng.uniform(38, 46), rng.uniform(16, 48), rng.uniform(8, 12)

        def sunset(u: np.ndarray, v: np.ndarray) -> Image:
            t = np.clip(v / horizon, 0, 1)[..., None]
            image = (high * (1 - t) + low * t).astype(np.float32)
            image = _paint(image, _soft(sun_r - np.hypot(u - sun_x, v - horizon)), sun)
            return _paint(image, _soft(v - horizon), ground)

        return sunset
    if name == "tiled_room":
        wall, dark, light = (_jitter(c, rng) for c in ((0.85, 0.78, 0.6), (0.45, 0.25, 0.12),
                                                       (0.92, 0.86, 0.75)))
        horizon, tile = rng.uniform(20, 28), rng.uniform(6, 9)

        def tiled_room(u: np.ndarray, v: np.ndarray) -> Image:
            checker = ((np.floor(u / tile) + np.floor(v / tile)) % 2)[..., None]
            floor = light * (1 - checker) + dark * checker
            wall_mask = _soft(horizon - v)[..., None]
            return (floor * (1 - wall_mask) + wall * wall_mask).astype(np.float32)

        return tiled_room
    if name == "waves":
        water, crest = (_jitter(c, rng) for c in ((0.05, 0.5, 0.55), (0.85, 0.95, 0.95)))
        period, amp, wavelength = rng.uniform(8, 12), rng.uniform(1.5, 3.0), rng.uniform(16, 28)

        def waves(u: np.ndarray, v: np.ndarray) -> Image:
            phase = np.sin(2 * math.pi * (v + amp * np.sin(2 * math.pi * u / wavelength)) / period)
            image = np.broadcast_to(water, u.shape + (3,)).astype(np.float32)
            return _paint(image, np.clip((phase - 0.5) * 4, 0, 1), crest)

        return waves
    raise ValueError(f"{name} is not a scene class")


def _evidence_progress(spec: ClipSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: time since the evidence started, clamped to the window (F,) float, and a
    mask (F,) bool of the frames inside the window — in the *rendered* (forward) time."""
    n, length = spec.n_frames, spec.evidence_length
    start = spec.evidence_start
    if CLASS_NAMES[spec.label] in _REVERSED:  # spec times are of the reversed clip
        start = n - start - length
    t = np.arange(n, dtype=np.float32)
    return np.clip(t - start, 0, length - 1).astype(np.float32), (t >= start) & (
        t < start + length)


def _render_scene(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    """Scene clip (F, H, W, 3) float32: layout faded/shrunk/zoomed by difficulty, slow pan."""
    size, d, n = spec.config.size, spec.appearance_difficulty, spec.n_frames
    ys, xs = _grid(size)
    background = _neutral_background(rng, size)
    layout = _make_layout(spec.label, rng)
    opacity = 1.0 - 0.7 * d
    side = size * (1.0 - 0.5 * d * rng.uniform(0.6, 1.0))
    top, left = rng.uniform(0, size - side, 2)
    window = _soft(np.minimum.reduce([ys - top, top + side - ys, xs - left, left + side - xs]))
    zoom = math.exp(0.6 * d * rng.uniform(-1, 1))
    velocity = rng.uniform(-0.3, 0.3, 2)  # px/frame (y, x)
    layers = _clutter(rng, size, int(rng.binomial(12, d)))
    if rng.random() < 0.6 * d:
        layers.append(_occluder(rng, size))
    over_colour, over_alpha = _flatten(layers, size)
    sigma = _noise_sigma(d)
    _, inside = _evidence_progress(spec)
    # Render the layout once on a canvas large enough for the whole pan, then slide a window.
    pad = int(math.ceil(0.3 * n)) + 2
    cys, cxs = np.mgrid[0 : size + 2 * pad, 0 : size + 2 * pad].astype(np.float32) + 0.5 - pad
    canvas = layout((cxs - size / 2) / zoom + size / 2, (cys - size / 2) / zoom + size / 2)
    visible = (window * opacity)[..., None]  # (H, W, 1)
    frames = np.repeat(background[None], n, axis=0)  # (F, H, W, 3)
    for t in np.flatnonzero(inside):
        scene = _shift(canvas, pad + velocity[0] * t, pad + velocity[1] * t, size)
        frames[t] += (scene - background) * visible
    frames = frames * (1 - over_alpha) + over_colour
    frames += rng.standard_normal(frames.shape, dtype=np.float32) * sigma
    return frames


def _render_temporal(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    """Temporal clip (F, H, W, 3) float32 of the *forward* process of the class's pair."""
    size, d, n = spec.config.size, spec.appearance_difficulty, spec.n_frames
    ys, xs = _grid(size)
    background = _neutral_background(rng, size)
    kind = _SHAPES[int(rng.integers(len(_SHAPES)))]
    radius = (8.0 - 4.0 * d) * rng.uniform(0.85, 1.15)
    colour = _contrasting_colour(rng, background.mean(axis=(0, 1)), 0.55 - 0.4 * d)
    shape_angle = rng.uniform(0, 2 * math.pi)
    clutter_colour, clutter_alpha = _flatten(_clutter(rng, size, int(rng.binomial(10, d))), size)
    occluder = _flatten([_occluder(rng, size)], size) if rng.random() < 0.5 * d else None
    sigma = _noise_sigma(d)
    progress, inside = _evidence_progress(spec)
    jitter = rng.uniform(-1.5, 1.5, (n, 2)).astype(np.float32)
    if spec.outside != "jitter":
        jitter[:] = 0.0
    jitter[inside] = 0.0
    process = CLASS_NAMES[spec.label] if CLASS_NAMES[spec.label] not in _REVERSED else (
        CLASSES[spec.label].reverse_of)
    # Random phase parameters: the state at every frame is uniformly distributed (module doc).
    phase = rng.random()
    cx, cy = rng.uniform(16, 48, 2)
    lane_y = rng.uniform(radius + 4, size - radius - 4)
    speed = rng.uniform(1.0, 2.0)  # px/frame, move_*
    period = rng.uniform(24, 48)  # frames per size/opacity cycle
    omega = 2 * math.pi / rng.uniform(24, 48)  # rad/frame, rotate_*
    orbit = rng.uniform(10, 16)
    hub = _shape_mask("disk", xs - cx, ys - cy, 2.0, 0.0)

    # Per-frame state, shape (F, 1, 1) so that it broadcasts over (F, H, W).
    tau = progress[:, None, None]
    jx, jy = jitter[:, 0, None, None], jitter[:, 1, None, None]
    alpha = np.ones_like(tau)
    r: float | np.ndarray = radius
    angle: float | np.ndarray = shape_angle
    base = background * (1 - clutter_alpha) + clutter_colour  # (H, W, 3)
    if process == "move_right":
        x = phase * size + speed * tau + jx
        dx = (xs - x + size / 2) % size - size / 2  # wrap-around (torus) distance
        dy = ys - lane_y - jy
    elif process == "approach":
        r = radius * (0.4 + 1.2 * ((phase + tau / period) % 1.0))
        dx, dy = xs - cx - jx, ys - cy - jy
    elif process == "rotate_clockwise":
        theta = 2 * math.pi * phase + omega * tau  # y points down: increasing = clockwise
        dx = xs - (cx + orbit * np.cos(theta)) - jx
        dy = ys - (cy + orbit * np.sin(theta)) - jy
        angle = shape_angle + theta
        base = _paint(base, hub, colour)
    elif process == "appear":
        alpha = (phase + tau / period) % 1.0
        dx, dy = xs - cx - jx, ys - cy - jy
    else:
        raise ValueError(process)
    mask = (_shape_mask(kind, dx, dy, r, angle) * alpha)[..., None]  # (F, H, W, 1)
    frames = (base * (1 - mask) + colour.astype(np.float32) * mask).astype(np.float32)
    if occluder is not None:
        frames = frames * (1 - occluder[1]) + occluder[0]
    frames += rng.standard_normal(frames.shape, dtype=np.float32) * sigma
    return frames


def render_clip(spec: ClipSpec) -> np.ndarray:
    """The source frames of a clip, uint8 ``(F, H, W, 3)`` RGB (before H.264 coding)."""
    rng = spec.rng(stream=1)
    if CLASSES[spec.label].group == "scene":
        frames = _render_scene(spec, rng)
    else:
        frames = _render_temporal(spec, rng)
        if CLASS_NAMES[spec.label] in _REVERSED:
            frames = frames[::-1]  # the exact time reversal of the partner's process
    return np.ascontiguousarray((np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


# --------------------------------------------------------------------------------------------
# Encoding, hashing, files

_ENCODER = {"codec": "libx264", "pix_fmt": "yuv444p", "preset": "ultrafast",
            # Without these, x264's lookahead made the bytes of a clip depend on what the process
            # had encoded or decoded before (measured with this build); with them they depend on
            # the frames only.
            "x264-params": "sync-lookahead=0:rc-lookahead=0:no-mbtree=1:bframes=0"}
_ANNOTATION_FIELDS = ("path", "label", "label_name", "group", "split", "n_frames",
                      "appearance_difficulty", "evidence_start", "evidence_length", "outside")
_MANIFEST_FIELDS = ("path", "n_frames", "render_sha256", "frames_sha256", "file_sha256")
_MATERIALISED = ".materialised.json"
_MARKER = ".make-mini.json"  # written first by make_mini: the files it writes in its folder
_TOP_FILES = ("train.csv", "val.csv", "test.csv", "manifest.csv", "recipe.json", "classes.json",
              ".gitignore", _MATERIALISED)
_GITIGNORE = "# generated by ensure_mini()/make_mini(); rebuilt from recipe.json\nvideos/\n" \
             ".lock\n.tmp-*/\n" + _MATERIALISED + "\n"


def library_versions() -> dict[str, str]:
    """PyAV and FFmpeg library versions: the encoder build decides the exact H.264 bytes."""
    versions = {"pyav": av.__version__}
    versions.update({k: ".".join(map(str, v)) for k, v in sorted(av.library_versions.items())})
    return versions


def _sha256(data: bytes | np.ndarray) -> str:
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(data).hexdigest()


def _rgb_to_yuv444(image: np.ndarray) -> list[np.ndarray]:
    """BT.601 limited-range Y, U, V planes (each (H, W) uint8) of an RGB uint8 image (H, W, 3):
    the matrix FFmpeg assumes when it decodes an untagged stream back to RGB."""
    rgb = image.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0
    return [np.clip(np.round(p), 0, 255).astype(np.uint8) for p in (y, u, v)]


def encode_clip(frames: np.ndarray, path: Path, *, fps: int = 25, crf: int = 23) -> None:
    """Write uint8 frames ``(F, H, W, 3)`` as H.264 yuv444p (High 4:4:4) mp4 at ``path``.

    Reproducible bytes: the RGB -> YUV conversion is done here in numpy, every frame carries its
    pts, x264 runs on one thread without lookahead, mb-tree or B-frames (with them its output
    varied with the process's history) and the muxer is ``bitexact``; the bytes then depend only on
    the frames and the FFmpeg/x264 build.
    """
    height, width = int(frames.shape[1]), int(frames.shape[2])
    with av.open(str(path), mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(_ENCODER["codec"], rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = _ENCODER["pix_fmt"]
        stream.options = {"crf": str(crf), "preset": _ENCODER["preset"], "threads": "1",
                          "x264-params": _ENCODER["x264-params"]}
        for index, image in enumerate(frames):
            frame = av.VideoFrame(width, height, "yuv444p")
            for plane, values in zip(frame.planes, _rgb_to_yuv444(image), strict=True):
                if plane.line_size == width:
                    plane.update(values.tobytes())
                else:  # padded rows
                    padded = np.zeros((height, plane.line_size), dtype=np.uint8)
                    padded[:, :width] = values
                    plane.update(padded.tobytes())
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _make_clip(job: tuple[ClipSpec, str, dict[str, str] | None]) -> dict[str, str]:
    """Worker: render, encode to ``<root>/<spec.path>``, decode back, and hash (a manifest row).

    With an ``expected`` manifest row whose file hash the new file matches, the decoded-frame
    hash is taken from it (same bytes, same frames) and the decoding is skipped.
    """
    from dynamic_inference.data.video import read_video

    spec, root, expected = job
    frames = render_clip(spec)  # (F, H, W, 3) uint8
    path = Path(root) / spec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_clip(frames, path, fps=spec.config.fps, crf=spec.config.crf)
    file_sha = _sha256(path.read_bytes())
    row = {"path": spec.path, "n_frames": str(spec.n_frames), "render_sha256": _sha256(frames)}
    if expected is not None and expected.get("file_sha256") == file_sha:
        return dict(row, frames_sha256=expected["frames_sha256"], file_sha256=file_sha)
    decoded = read_video(path, strict=True).frames.numpy()  # (F, H, W, 3) uint8
    if decoded.shape != frames.shape:
        raise DatasetError(f"{path}: decoded {decoded.shape[0]} frames, wrote {frames.shape[0]}; "
                           "the H.264 encoder of this PyAV build misbehaves")
    return dict(row, frames_sha256=_sha256(decoded), file_sha256=file_sha)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _run_jobs(
    specs: Sequence[ClipSpec], root: Path, workers: int | None,
    expected: dict[str, dict[str, str]] | None = None,
) -> list[dict[str, str]]:
    """Generate ``specs`` under ``root`` with a process pool; rows in the order of ``specs``.

    Every clip depends only on its spec, so the result does not depend on ``workers``.
    """
    workers = _default_workers() if workers is None else max(1, workers)
    workers = min(workers, max(1, len(specs)))
    jobs = [(spec, str(root), (expected or {}).get(spec.path)) for spec in specs]
    if workers == 1:
        return [_make_clip(job) for job in jobs]
    # fork: workers start at once and need no importable __main__ (notebooks, stdin scripts);
    # they only run numpy and PyAV, no threaded torch code.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers) as pool:
        return list(pool.imap(_make_clip, jobs, chunksize=4))


def _write_text(path: Path, text: str) -> None:
    """Write atomically (temporary file + rename), so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def _csv_text(fields: Sequence[str], rows: Sequence[dict[str, str]]) -> str:
    lines = [",".join(fields)]
    lines += [",".join(str(row[f]) for f in fields) for row in rows]
    return "\n".join(lines) + "\n"


def _annotation_row(spec: ClipSpec, path: str | None = None) -> dict[str, str]:
    cls = CLASSES[spec.label]
    return {"path": path or spec.path, "label": str(spec.label), "label_name": cls.name,
            "group": cls.group, "split": spec.split, "n_frames": str(spec.n_frames),
            "appearance_difficulty": f"{spec.appearance_difficulty:.4f}",
            "evidence_start": str(spec.evidence_start),
            "evidence_length": str(spec.evidence_length), "outside": spec.outside}


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing; regenerate MiniActions with "
                           "`python -m dynamic_inference make-mini --out DIR --seed 0`")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _recipe(config: MiniConfig, n_clips: int) -> dict[str, object]:
    per_class = "" if (config.train_per_class, config.val_per_class, config.test_per_class) == (
        80, 50, 50) else f" --per-class {config.train_per_class}"
    return {
        "name": "MiniActions",
        "version": DATASET_VERSION,
        "seed": config.seed,
        "command": f"python -m dynamic_inference make-mini --out DIR --seed {config.seed}"
        + per_class,
        "config": asdict(config),
        "n_clips": n_clips,
        "encoder": dict(_ENCODER, crf=config.crf),
        "libraries": library_versions(),
    }


def load_recipe(root: Path) -> tuple[MiniConfig, dict[str, object]]:
    """The generation config recorded in ``root/recipe.json`` and the whole recipe."""
    path = root / "recipe.json"
    if not path.is_file():
        raise DatasetError(f"{path}: no MiniActions recipe here; create the dataset with "
                           "`python -m dynamic_inference make-mini --out DIR --seed 0`")
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
        config = MiniConfig(**recipe["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: unreadable recipe ({exc}); regenerate the dataset") from exc
    if recipe.get("version") != DATASET_VERSION:
        raise DatasetError(f"{path}: dataset version {recipe.get('version')} but this code "
                           f"generates {DATASET_VERSION}; regenerate it with make-mini")
    return config, recipe


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """An exclusive inter-process lock on ``root/.lock`` (no-op where fcntl is missing)."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _materialise(
    root: Path, specs: Sequence[ClipSpec], workers: int | None,
    expected: dict[str, dict[str, str]] | None, recipe: dict[str, object] | None,
) -> list[dict[str, str]]:
    """Generate ``videos/`` of ``root`` in a temporary folder, check it, rename it into place.

    ``expected``: manifest rows by path to verify against (source-frame hashes must match; a
    decoded-frame hash mismatch is an error with the recipe's FFmpeg build, else a warning).
    """
    _refuse_foreign(root, _files_under(root, "videos"), _owned_files(root) | set(expected or {}))
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        rows = _run_jobs(specs, tmp, workers, expected)
        if expected is not None:
            _check_rows(root, rows, expected, recipe or {})
        target = root / "videos"
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp / "videos", target)
        local = {"libraries": library_versions(),
                 "files": {r["path"]: r["file_sha256"] for r in rows},
                 "sizes": {r["path"]: (root / r["path"]).stat().st_size for r in rows}}
        _write_text(root / _MATERIALISED, json.dumps(local, indent=0, sort_keys=True))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_rows(root: Path, rows: Sequence[dict[str, str]],
                expected: dict[str, dict[str, str]], recipe: dict[str, object]) -> None:
    source_bad = [r["path"] for r in rows
                  if expected.get(r["path"], {}).get("render_sha256") != r["render_sha256"]]
    if source_bad:
        raise DatasetError(
            f"{root / 'manifest.csv'}: {len(source_bad)} clips (first {source_bad[0]}) differ from "
            "the recorded source frames; this generator does not reproduce the recipe — "
            "check the package version or regenerate with make-mini")
    decoded_bad = [r["path"] for r in rows if expected[r["path"]]["frames_sha256"]
                   != r["frames_sha256"]]
    if decoded_bad:
        message = (f"{root / 'manifest.csv'}: {len(decoded_bad)} of {len(rows)} clips decode to "
                   f"frames that differ from the manifest (first {decoded_bad[0]})")
        if recipe.get("libraries") == library_versions():
            raise DatasetError(message + " with the same FFmpeg build; regenerate with make-mini")
        warnings.warn(message + "; the source frames match but this FFmpeg/x264 build "
                      f"({library_versions()}) differs from the recipe's, so the H.264 bytes "
                      "differ slightly", stacklevel=3)


@dataclass(frozen=True)
class MiniSummary:
    """What :func:`make_mini` wrote: root, clip count, bytes of video and seconds taken."""

    root: Path
    n_clips: int
    video_bytes: int
    seconds: float


def _files_under(root: Path, folder: str) -> list[str]:
    """Files below ``root/folder``, as posix paths relative to ``root``."""
    base = root / folder
    if not base.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in base.rglob("*") if not p.is_dir())


def _owned_files(root: Path) -> set[str]:
    """Files of ``root`` that make-mini wrote: those its marker lists; for a dataset made before
    the marker existed (a MiniActions ``recipe.json`` there), its standard files and the clips
    of its manifest and sample list."""
    marker = root / _MARKER
    if marker.is_file():
        try:
            return set(json.loads(marker.read_text(encoding="utf-8"))["files"])
        except (ValueError, KeyError, TypeError):
            return set()
    try:
        recipe = json.loads((root / "recipe.json").read_text(encoding="utf-8"))
        if not isinstance(recipe, dict) or recipe.get("name") != "MiniActions":
            return set()
        owned = set(_TOP_FILES) | {"sample/sample.csv"}
        for listing in ("manifest.csv", "sample/sample.csv"):
            if (root / listing).is_file():
                owned |= {row["path"] for row in _read_csv(root / listing) if "path" in row}
        return owned
    except (OSError, ValueError):
        return set()


def _refuse_foreign(root: Path, paths: Sequence[str], owned: set[str]) -> None:
    """Raise :class:`DatasetError` if any of ``paths`` (that make-mini would overwrite or
    delete) exists and was not written by make-mini: it never destroys data it did not make."""
    foreign = [p for p in paths if p not in owned and (root / p).exists()]
    if foreign:
        raise DatasetError(
            f"{root}: make-mini would overwrite or delete {len(foreign)} files it did not write "
            f"(first: {foreign[0]}); move them away or choose another --out")


def _check_out_folder(root: Path, force: bool) -> set[str]:
    """The files of ``root`` that make-mini owns; refuses a file, and a non-empty folder that
    make-mini did not make unless ``force`` (even then nothing foreign is touched)."""
    if root.exists() and not root.is_dir():
        raise DatasetError(f"--out {root} is a file, not a folder")
    owned = _owned_files(root) if root.is_dir() else set()
    entries = [p.name for p in root.iterdir()] if root.is_dir() else []
    if entries and not owned and not force:
        raise DatasetError(
            f"--out {root} is not empty and was not made by make-mini (no {_MARKER}); choose an "
            "empty or new folder, or pass --force to write next to its files (they are kept)")
    return owned


def make_mini(
    out_dir: str | Path, seed: int = DEFAULT_SEED, per_class: int | None = None,
    *, workers: int | None = None, sample_per_class: int = 1, force: bool = False,
    config: MiniConfig | None = None,
) -> MiniSummary:
    """Generate MiniActions into ``out_dir``: videos, annotations, manifest, recipe, classes,
    sample and .gitignore. ``per_class``: see :meth:`MiniConfig.with_per_class`; ``config``
    (instead of ``seed`` and ``per_class``) sets every split's size, e.g. large val and test
    splits and a one-clip train split for evaluating shipped checkpoints on a new seed.

    Replaces a previous dataset there; safe against a concurrent :func:`ensure_mini`. It writes
    ``.make-mini.json`` first, listing the files it writes, and never overwrites or deletes a
    file it did not write: a non-empty folder it did not make is refused unless ``force``
    (then the files there are kept, and any that stand where make-mini writes are refused).
    """
    started = time.perf_counter()
    root = Path(out_dir)
    config = config if config is not None else MiniConfig.with_per_class(seed, per_class)
    specs = clip_specs(config)
    owned = _check_out_folder(root, force)
    sample = [f"sample/{s.name}.mp4" for s in specs
              if s.split == "test" and s.index < sample_per_class] + ["sample/sample.csv"]
    written = [*_TOP_FILES, *(s.path for s in specs), *sample]
    _refuse_foreign(root, [*_TOP_FILES, *_files_under(root, "videos"),
                           *_files_under(root, "sample")], owned)
    with _locked(root):
        _write_text(root / _MARKER, json.dumps({"files": sorted(owned | set(written))}) + "\n")
        rows = _materialise(root, specs, workers, expected=None, recipe=None)
        for split in SPLITS:
            split_rows = [_annotation_row(s) for s in specs if s.split == split]
            _write_text(root / f"{split}.csv", _csv_text(_ANNOTATION_FIELDS, split_rows))
        _write_text(root / "manifest.csv", _csv_text(_MANIFEST_FIELDS, rows))
        _write_text(root / "recipe.json",
                    json.dumps(_recipe(config, len(specs)), indent=2) + "\n")
        classes = [asdict(c) for c in CLASSES]
        _write_text(root / "classes.json", json.dumps(classes, indent=2) + "\n")
        _write_text(root / ".gitignore", _GITIGNORE)
        _write_sample(root, specs, sample_per_class)
    video_bytes = sum((root / r["path"]).stat().st_size for r in rows)
    return MiniSummary(root, len(specs), video_bytes, time.perf_counter() - started)


def _write_sample(root: Path, specs: Sequence[ClipSpec], per_class: int) -> None:
    """Copy the first ``per_class`` test clips of every class to ``sample/`` (committed)."""
    sample = root / "sample"
    _refuse_foreign(root, _files_under(root, "sample"), _owned_files(root))
    if sample.exists():
        shutil.rmtree(sample)
    sample.mkdir()
    chosen = [s for s in specs if s.split == "test" and s.index < per_class]
    for spec in chosen:
        shutil.copyfile(root / spec.path, sample / f"{spec.name}.mp4")
    rows = [_annotation_row(s, f"sample/{s.name}.mp4") for s in chosen]
    _write_text(sample / "sample.csv", _csv_text(_ANNOTATION_FIELDS, rows))


def default_root() -> Path:
    """``$DYNAMIC_INFERENCE_MINI`` if set, else the repository's ``datasets_mini/``."""
    env = os.environ.get("DYNAMIC_INFERENCE_MINI")
    return Path(env) if env else DEFAULT_ROOT


def _is_materialised(root: Path) -> bool:
    """Fast check: every clip recorded at materialisation exists with its size."""
    marker = root / _MATERIALISED
    if not marker.is_file():
        return False
    try:
        sizes = json.loads(marker.read_text(encoding="utf-8"))["sizes"]
        manifest = {row["path"] for row in _read_csv(root / "manifest.csv")}
    except (ValueError, KeyError, DatasetError):
        return False
    if set(sizes) != manifest:
        return False
    for rel, size in sizes.items():
        path = root / rel
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def ensure_mini(root: str | Path | None = None, *, workers: int | None = None) -> Path:
    """Make sure the MiniActions videos exist under ``root`` and return ``root``.

    If they are missing or incomplete they are regenerated from ``recipe.json`` (about a minute
    on 2 cores) and checked against ``manifest.csv``. Safe when called from several processes at
    once (file lock; generation in a temporary folder renamed into place).
    """
    root = Path(root) if root is not None else default_root()
    if _is_materialised(root):
        return root
    config, recipe = load_recipe(root)
    with _locked(root):
        if _is_materialised(root):  # another process finished while we waited
            return root
        expected = {row["path"]: row for row in _read_csv(root / "manifest.csv")}
        specs = clip_specs(config)
        missing = sorted({s.path for s in specs} ^ set(expected))
        if missing:
            raise DatasetError(f"{root / 'manifest.csv'}: does not list the clips of the recipe "
                               f"(first difference {missing[0]}); regenerate with make-mini")
        print(f"MiniActions: generating {len(specs)} clips into {root / 'videos'} "
              f"(seed {config.seed}) ...", file=sys.stderr, flush=True)
        _materialise(root, specs, workers, expected, recipe)
    return root


def verify_mini(root: str | Path, paths: Sequence[str] | None = None) -> list[str]:
    """Decode clips of ``root`` (all, or ``paths``) and return those whose decoded frames do not
    match ``manifest.csv`` (an empty list when all match)."""
    from dynamic_inference.data.video import read_video
    from dynamic_inference.errors import VideoDecodeError

    root = Path(root)
    manifest = {row["path"]: row for row in _read_csv(root / "manifest.csv")}
    bad = []
    for rel in paths if paths is not None else list(manifest):
        try:
            frames = read_video(root / rel, strict=True).frames.numpy()
            ok = _sha256(frames) == manifest[rel]["frames_sha256"]
        except (VideoDecodeError, KeyError, OSError):  # undecodable or unlisted: no match
            ok = False
        if not ok:
            bad.append(rel)
    return bad


# --------------------------------------------------------------------------------------------
# Figures and command line


def class_strip(label: int, *, n_frames: int = 8, difficulty: float = 0.15, seed: int = 0,
                index: int = 0) -> np.ndarray:
    """``n_frames`` evenly spaced source frames of one clip of class ``label`` side by side,
    uint8 ``(H, n_frames * W, 3)``; evidence throughout, the given appearance difficulty."""
    config = MiniConfig(seed=seed)
    n = 40
    spec = ClipSpec("test", label, index, seed, n, difficulty, 0, n, "none", config)
    frames = render_clip(spec)
    picks = np.round(np.linspace(0, n - 1, n_frames)).astype(int)
    return np.concatenate(list(frames[picks]), axis=1)


def class_strips(*, n_frames: int = 8, difficulty: float = 0.15, seed: int = 0) -> np.ndarray:
    """One :func:`class_strip` per class stacked vertically (class order of :data:`CLASSES`),
    uint8 ``(16 * H, n_frames * W, 3)``."""
    return np.concatenate([class_strip(c.index, n_frames=n_frames, difficulty=difficulty,
                                       seed=seed) for c in CLASSES], axis=0)


def cli_make_mini(args: object) -> int:
    """``python -m dynamic_inference make-mini --out DIR --seed N [--per-class K]``.

    ``args`` has ``.out``, ``.seed`` and ``.per_class``. Prints one summary line; returns 0.
    """
    from dynamic_inference.checks import check_output_dir

    check_output_dir(args.out, "--out")  # type: ignore[attr-defined]
    summary = make_mini(Path(args.out), args.seed,  # type: ignore[attr-defined]
                        getattr(args, "per_class", None), force=getattr(args, "force", False))
    print(f"MiniActions: {summary.n_clips} clips, {summary.video_bytes / 1e6:.1f} MB of video, "
          f"written to {summary.root} in {summary.seconds:.1f} s")
    return 0
