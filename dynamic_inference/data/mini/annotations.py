"""The CSV files of MiniActions: the annotation rows written by make-mini and read by
:func:`read_mini`, and the plain CSV writer and reader that the manifest shares.

README, "MiniActions". One row a clip (``train.csv``, ``val.csv``, ``test.csv``,
``sample/sample.csv``), the columns of :data:`ANNOTATION_FIELDS`: the path, the label, and for
analysis (not for training) the class group, the appearance difficulty and the evidence window
(:mod:`~dynamic_inference.data.mini.spec`). :func:`read_mini` turns them into the
:class:`~dynamic_inference.data.records.VideoRecord` that every reader of the paper's datasets
returns (paper section 4).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from dynamic_inference.data.mini.classes import CLASS_NAMES, CLASSES
from dynamic_inference.data.mini.spec import SPLITS, ClipSpec
from dynamic_inference.data.records import AnnotationSet, VideoRecord
from dynamic_inference.errors import AnnotationError, DatasetError

ANNOTATION_FIELDS = ("path", "label", "label_name", "group", "split", "n_frames",
                     "appearance_difficulty", "evidence_start", "evidence_length", "outside")


def csv_text(fields: Sequence[str], rows: Sequence[dict[str, str]]) -> str:
    """``rows`` as CSV text with a header of ``fields`` (no quoting: no field has a comma)."""
    lines = [",".join(fields)]
    lines += [",".join(str(row[f]) for f in fields) for row in rows]
    return "\n".join(lines) + "\n"


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV that make-mini wrote (the manifest, a split, the sample list)."""
    if not path.is_file():
        raise DatasetError(f"{path}: missing; regenerate MiniActions with "
                           "`python -m dynamic_inference make-mini --out DIR --seed 0`")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def annotation_row(spec: ClipSpec, path: str | None = None) -> dict[str, str]:
    """The annotation row of a clip (``path`` instead of ``spec.path``: a copy in ``sample/``)."""
    cls = CLASSES[spec.label]
    return {"path": path or spec.path, "label": str(spec.label), "label_name": cls.name,
            "group": cls.group, "split": spec.split, "n_frames": str(spec.n_frames),
            "appearance_difficulty": f"{spec.appearance_difficulty:.4f}",
            "evidence_start": str(spec.evidence_start),
            "evidence_length": str(spec.evidence_length), "outside": spec.outside}


def read_mini(root: str | Path, split: str) -> AnnotationSet:
    """Records of a MiniActions split (``train``/``val``/``test``/``sample``) under ``root``,
    with the group, appearance difficulty and evidence window of each clip."""
    root = Path(root)
    if split not in (*SPLITS, "sample"):
        raise DatasetError(f"unknown MiniActions split {split!r}; use train, val, test or sample")
    csv_file = root / ("sample/sample.csv" if split == "sample" else f"{split}.csv")
    if not csv_file.is_file():
        raise DatasetError(f"{csv_file}: missing; create MiniActions with "
                           "`python -m dynamic_inference make-mini --out DIR --seed 0`")
    records = []
    try:
        text = csv_file.read_text(encoding="utf-8-sig")  # a BOM (spreadsheet export) tolerated
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{csv_file}: not UTF-8 text ({exc}); regenerate it with "
                              "make-mini") from exc
    for line_no, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), 2):
        try:
            label = int(row["label"])
            if not 0 <= label < len(CLASS_NAMES):
                raise ValueError(f"label {label} is not a MiniActions class "
                                 f"(0..{len(CLASS_NAMES) - 1})")
            if CLASS_NAMES[label] != row["label_name"]:
                raise ValueError(f"label {label} is not {row['label_name']}")
            records.append(VideoRecord(
                path=root / row["path"], label=label, label_name=row["label_name"],
                group=row["group"], difficulty=float(row["appearance_difficulty"]),
                evidence_start=int(row["evidence_start"]),
                evidence_length=int(row["evidence_length"]),
                extra={"outside": row["outside"], "n_frames": row["n_frames"]}))
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise AnnotationError(f"{csv_file}:{line_no}: unreadable line ({exc})") from exc
    return AnnotationSet(records, list(CLASS_NAMES), csv_file)
