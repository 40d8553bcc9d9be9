"""What determines a MiniActions clip: the generation settings and the per-clip values.

README, "MiniActions"; the paper's premise (section 1) is that videos differ in how hard they are
to recognise, and these values make that difference controllable and recorded.

Per clip (:class:`ClipSpec`): 32 to 48 source frames, an **appearance difficulty**
``d ~ U[0, 1]`` (how faded, small, cluttered and noisy the evidence is; see
:mod:`~dynamic_inference.data.mini.render`) and an **evidence window**. With probability 0.5 a
clip shows its evidence throughout; otherwise only inside a window of 6-16 frames at a uniformly
random start: outside it a scene clip shows only the neutral background and clutter
(``outside="neutral"``), and a temporal clip's object is frozen (``outside="frozen"``) or shakes
randomly without net motion (``outside="jitter"``, a distractor); both are symmetric under time
reversal. Such clips need more sampled frames. The window is recorded in the time of the clip as
it is played (for a class of :data:`~dynamic_inference.data.mini.classes.PLAYED_BACKWARDS`, the
reversed time). The annotations record these values for analysis, not for training.

Determinism: each clip's random generator is seeded from ``(seed, split, label, index)``, so the
result does not depend on the number of worker processes; the same seed gives the same
annotations and the same frames, another seed gives a different dataset of the same kind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dynamic_inference.data.mini.classes import CLASS_NAMES, CLASSES, PLAYED_BACKWARDS
from dynamic_inference.errors import ConfigError

DEFAULT_SEED = 0
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class MiniConfig:
    """Generation settings; the defaults are the shipped dataset's (recorded in recipe.json)."""

    seed: int = DEFAULT_SEED
    train_per_class: int = 80
    val_per_class: int = 150  # 2,400 val clips: a 0.5 pt loss is 12 of them
    test_per_class: int = 150
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
        """``per_class=K``: K train clips per class and ``ceil(15 K / 8)`` val and test clips
        (the default ratio 80:150:150); ``None`` gives the defaults."""
        if per_class is None:
            return cls(seed=seed)
        if per_class < 1:
            raise ConfigError(f"--per-class must be >= 1, got {per_class}")
        held_out = math.ceil(per_class * 15 / 8)
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
    if CLASSES[label].name in PLAYED_BACKWARDS:  # the rendered process runs backwards
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
