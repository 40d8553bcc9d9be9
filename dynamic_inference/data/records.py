"""What every annotation reader returns: one :class:`VideoRecord` per video, in an
:class:`AnnotationSet` with the class names in label order.

Shared by the readers of the paper's datasets (section 4: UCF-101, HMDB-51, Kinetics-400,
Something-Something; :mod:`dynamic_inference.data.datasets`) and of MiniActions
(:mod:`dynamic_inference.data.mini.annotations`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class VideoRecord:
    """One video: its file (or frame folder), label and optional analysis metadata.

    ``group``/``difficulty``/``evidence_start``/``evidence_length`` are filled for MiniActions
    (README, "MiniActions"); ``extra`` keeps format-specific fields (e.g. Kinetics time_start).
    """

    path: Path
    label: int
    label_name: str
    group: str | None = None
    difficulty: float | None = None
    evidence_start: int | None = None
    evidence_length: int | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass
class AnnotationSet:
    """What a reader returns: records, class names in label order, missing files skipped."""

    records: list[VideoRecord]
    classes: list[str]
    source: Path
    missing: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[VideoRecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> VideoRecord:
        return self.records[index]
