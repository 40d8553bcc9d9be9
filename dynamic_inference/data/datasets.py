"""Video records, the clip dataset and the annotation formats of the real datasets.

paper section 4 (UCF-101, HMDB-51, Kinetics-400, Something-Something).

Every reader returns an :class:`AnnotationSet` (:mod:`dynamic_inference.data.records`): the
records (:class:`VideoRecord`), the class names in label order and the listed files that were
missing (only with ``missing="skip"``). MiniActions' reader, :func:`read_mini`, lives with its
writer in :mod:`dynamic_inference.data.mini.annotations`.
Rules shared by all readers:

* an unreadable line, an unknown label or (when a video root is given) a listed file that does
  not exist raises :class:`AnnotationError` naming the file and the line;
  ``missing="skip"`` instead drops missing files, lists them in ``AnnotationSet.missing`` and
  warns with their number;
* a folder with no annotation file of the expected kind raises :class:`DatasetError`;
* records of unlabelled lists (UCF-101 testlists carry the label in the path; Kinetics test CSV,
  SSv2 test JSON, SSv1 test CSV) get ``label = UNLABELLED`` (-1).

:class:`VideoDataset` turns records into ``(frames (T, C, H, W) float32, label)`` pairs: decoding
(:mod:`dynamic_inference.data.video`), TSN sampling (random offsets for training, segment centres
for evaluation) and transforms. Randomness comes from ``(seed, epoch, index)`` only, so a batch
is the same whatever ``num_workers`` is; call :meth:`VideoDataset.set_epoch` each epoch.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from dynamic_inference.data.mini.annotations import read_mini
from dynamic_inference.data.mini.build import default_root, ensure_mini
from dynamic_inference.data.mini.classes import CLASS_NAMES, mini_reverse_labels
from dynamic_inference.data.records import AnnotationSet, VideoRecord
from dynamic_inference.data.video import (
    ClipTransform,
    SamplingMode,
    TransformConfig,
    load_frames,
    probe_video,
    sample_indices,
)
from dynamic_inference.errors import AnnotationError, DatasetError, VideoDecodeError

__all__ = [
    "DATASET_NAMES",
    "UNLABELLED",
    "AnnotationSet",
    "DatasetConfig",
    "VideoDataset",
    "VideoRecord",
    "load_dataset",
    "make_loader",
    "read_class_list",
    "read_hmdb51",
    "read_kinetics400",
    "read_mini",
    "read_sthv1",
    "read_sthv2",
    "read_ucf101",
]

UNLABELLED = -1
_VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov")
Missing = Literal["raise", "skip"]


# --------------------------------------------------------------------------------------------
# Helpers


def _read_lines(path: Path) -> list[str]:
    """Lines of a text file without line endings (CRLF or LF), UTF-8 (BOM tolerated)."""
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file not found; check the path")
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text ({exc}); is it an annotation file?") from exc


class _Collector:
    """Builds records, checking files under an optional root and applying ``missing``."""

    def __init__(self, source: Path, root: Path | None, missing: Missing) -> None:
        if missing not in ("raise", "skip"):
            raise AnnotationError(f"missing must be 'raise' or 'skip', got {missing!r}")
        self.source, self.root, self.missing_mode = source, root, missing
        self.records: list[VideoRecord] = []
        self.missing: list[Path] = []

    def add(self, rel: str, line_no: int, **fields: object) -> None:
        path = Path(rel) if self.root is None else self.root / rel
        if self.root is not None and not path.exists():
            if self.missing_mode == "raise":
                raise AnnotationError(
                    f"{self.source}:{line_no}: lists {rel}, which is not in {self.root}; fix the "
                    "video root, or skip such clips (--skip-bad; missing='skip' in the "
                    "readers and load_dataset)")
            self.missing.append(path)
            return
        self.records.append(VideoRecord(path=path, **fields))  # type: ignore[arg-type]

    def result(self, classes: list[str]) -> AnnotationSet:
        if self.missing:
            warnings.warn(f"{self.source}: skipped {len(self.missing)} listed videos missing from "
                          f"{self.root} (first: {self.missing[0].name}); see "
                          "AnnotationSet.missing", stacklevel=3)
        return AnnotationSet(self.records, classes, self.source, self.missing)


def _label_index(classes: Sequence[str], name: str, where: str) -> int:
    try:
        return list(classes).index(name)
    except ValueError:
        raise AnnotationError(
            f"{where}: unknown label {name!r}; it is not in the class list") from None


def read_class_list(path: str | Path) -> list[str]:
    """Class names in label order from a text list (one per line; an optional header line
    ``label`` is dropped; Kinetics/SSv1 label maps) or a JSON ``{name: index}`` map (PyTorchVideo
    Kinetics names, whose keys may keep CSV quotes, or SSv2 ``labels.json`` with string ids)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            mapping = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise AnnotationError(f"{path}: not a readable JSON class map ({exc})") from exc
        if not isinstance(mapping, dict):
            raise AnnotationError(f"{path}: expected a JSON object {{name: index}}")
        try:
            by_index = {int(index): name.strip('"') for name, index in mapping.items()}
        except (TypeError, ValueError) as exc:
            raise AnnotationError(f"{path}: class indices must be integers ({exc})") from exc
        if len(by_index) != len(mapping):
            seen: dict[int, str] = {}
            for name, index in mapping.items():
                if int(index) in seen:
                    raise AnnotationError(f"{path}: index {int(index)} is given to both "
                                          f"{seen[int(index)]!r} and {name!r}")
                seen[int(index)] = name
        if sorted(by_index) != list(range(len(by_index))):
            raise AnnotationError(f"{path}: class indices are not 0..{len(by_index) - 1}")
        return [by_index[i] for i in range(len(by_index))]
    names = [line.strip() for line in _read_lines(path)]
    if names and names[0] == "label":
        names = names[1:]
    names = [n for n in names if n]
    if not names:
        raise AnnotationError(f"{path}: the class list is empty")
    if len(set(names)) != len(names):
        raise AnnotationError(f"{path}: the class list repeats a name")
    return names


# --------------------------------------------------------------------------------------------
# UCF-101


def read_ucf101(
    split_file: str | Path,
    class_ind: str | Path,
    video_root: str | Path | None = None,
    *,
    missing: Missing = "raise",
) -> AnnotationSet:
    """UCF-101 ``trainlist0X.txt`` (``Class/v_..._gXX_cYY.avi <1-based label>``) or
    ``testlist0X.txt`` (no label) with ``classInd.txt`` (``<1-based index> <Class>``), CRLF.

    The class comes from the directory part (``HandstandPushups/v_HandStandPushups_...``: the file
    name's spelling differs); a train label must agree with it. Labels are returned 0-based.
    """
    split_file, class_ind = Path(split_file), Path(class_ind)
    classes: list[str] = []
    for line_no, line in enumerate(_read_lines(class_ind), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != len(classes) + 1:
            raise AnnotationError(f"{class_ind}:{line_no}: expected '<{len(classes) + 1}> "
                                  f"<ClassName>', got {line!r}")
        classes.append(parts[1])
    if not classes:
        raise AnnotationError(f"{class_ind}: no class listed")
    root = Path(video_root) if video_root is not None else None
    out = _Collector(split_file, root, missing)
    labelled: bool | None = None
    for line_no, line in enumerate(_read_lines(split_file), 1):
        if not line.strip():
            continue
        parts = line.split()
        where = f"{split_file}:{line_no}"
        if len(parts) not in (1, 2) or "/" not in parts[0] or \
                not parts[0].lower().endswith(_VIDEO_SUFFIXES):
            raise AnnotationError(f"{where}: expected 'Class/file.avi [label]', got {line!r} "
                                  "(a truncated line?)")
        if labelled is None:
            labelled = len(parts) == 2  # a train list labels every line, a test list none
        elif labelled != (len(parts) == 2):
            raise AnnotationError(f"{where}: {'no' if labelled else 'a'} label where the lines "
                                  f"above {'have one' if labelled else 'have none'}, got "
                                  f"{line!r} (a truncated line?)")
        label = _label_index(classes, parts[0].split("/")[0], where)
        if len(parts) == 2:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(classes):
                raise AnnotationError(f"{where}: unknown label {parts[1]!r} (classInd has "
                                      f"1..{len(classes)})")
            if int(parts[1]) - 1 != label:
                raise AnnotationError(f"{where}: label {parts[1]} is {classes[int(parts[1]) - 1]} "
                                      f"but the file is in {classes[label]}/")
        out.add(parts[0], line_no, label=label, label_name=classes[label])
    return out.result(classes)


# --------------------------------------------------------------------------------------------
# HMDB-51


def read_hmdb51(
    splits_dir: str | Path,
    split: int = 1,
    subset: Literal["train", "test"] = "train",
    video_root: str | Path | None = None,
    *,
    missing: Missing = "raise",
) -> AnnotationSet:
    """HMDB-51 ``<class>_test_split{1,2,3}.txt`` files (``<video>.avi <id> `` with a trailing
    space; id 1 = train, 2 = test, 0 = unused). Classes are the file-name prefixes (they contain
    underscores) in alphabetical order; videos are looked up as ``<video_root>/<class>/<video>``.
    """
    splits_dir = Path(splits_dir)
    if split not in (1, 2, 3):
        raise DatasetError(f"HMDB-51 has splits 1, 2, 3; got {split}")
    wanted = {"train": "1", "test": "2"}.get(subset)
    if wanted is None:
        raise DatasetError(f"subset must be 'train' or 'test', got {subset!r}")
    if not splits_dir.is_dir():
        raise DatasetError(f"{splits_dir}: no such folder of HMDB-51 split files")
    suffix = f"_test_split{split}.txt"
    files = sorted(p for p in splits_dir.iterdir() if p.name.endswith(suffix))
    if not files:
        raise DatasetError(f"{splits_dir}: holds no '*{suffix}' file; is it "
                           "testTrainMulti_7030_splits?")
    classes = [p.name[: -len(suffix)] for p in files]
    root = Path(video_root) if video_root is not None else None
    out = _Collector(splits_dir, root, missing)
    for label, file in enumerate(files):
        out.source = file
        lines = _read_lines(file)
        if not any(line.strip() for line in lines):
            raise AnnotationError(f"{file}: the split file is empty, so class {classes[label]!r} "
                                  "would have no video; download the split files again")
        for line_no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise AnnotationError(f"{file}:{line_no}: expected '<video>.avi <0|1|2>', "
                                      f"got {line!r}")
            if parts[1] == wanted:
                out.add(f"{classes[label]}/{parts[0]}", line_no, label=label,
                        label_name=classes[label])
    out.source = splits_dir
    return out.result(classes)


# --------------------------------------------------------------------------------------------
# Kinetics-400


def read_kinetics400(
    csv_file: str | Path,
    video_root: str | Path | None = None,
    *,
    classes: Sequence[str] | str | Path | None = None,
    path_format: str = "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4",
    missing: Missing = "raise",
) -> AnnotationSet:
    """Kinetics-400 CSV in either official dialect: 2017 (``label,youtube_id,time_start,time_end,
    split,is_cc``, quoted multi-word labels, split ``val``) or 2020 (no ``is_cc``, unquoted,
    split ``validate``); the test CSV has no label column (``label = UNLABELLED``).

    ``classes``: names in label order (a list, or a file for :func:`read_class_list`); default:
    the sorted labels of this CSV (the usual alphabetical index). ``path_format``: file name
    under ``video_root`` (fields: label, youtube_id, time_start, time_end, split).
    """
    csv_file = Path(csv_file)
    if not csv_file.is_file():
        raise AnnotationError(f"{csv_file}: annotation file not found; check the path")
    try:
        with csv_file.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{csv_file}: not UTF-8 text ({exc}); is it a Kinetics CSV?") \
            from exc
    if not rows:
        raise AnnotationError(f"{csv_file}: empty CSV")
    header = [h.strip() for h in rows[0]]
    needed = {"youtube_id", "time_start", "time_end"}
    if not needed <= set(header):
        raise AnnotationError(f"{csv_file}:1: header {header} lacks {sorted(needed - set(header))}"
                              "; is it a Kinetics CSV?")
    column = {name: i for i, name in enumerate(header)}
    labelled = "label" in column
    if classes is None:
        names = sorted({r[column["label"]] for r in rows[1:] if len(r) == len(header)}) \
            if labelled else []
    elif isinstance(classes, (str, Path)):
        names = read_class_list(classes)
    else:
        names = list(classes)
    root = Path(video_root) if video_root is not None else None
    out = _Collector(csv_file, root, missing)
    for line_no, row in enumerate(rows[1:], 2):
        if not row:
            continue
        where = f"{csv_file}:{line_no}"
        if len(row) != len(header):
            raise AnnotationError(f"{where}: {len(row)} fields, the header has {len(header)}")
        values = {name: row[i] for name, i in column.items()}
        try:
            start, end = int(values["time_start"]), int(values["time_end"])
        except ValueError:
            raise AnnotationError(
                f"{where}: time_start/time_end are not integers: {row}") from None
        label_name = values.get("label", "")
        label = _label_index(names, label_name, where) if labelled else UNLABELLED
        rel = path_format.format(label=label_name, youtube_id=values["youtube_id"],
                                 time_start=start, time_end=end, split=values.get("split", ""))
        out.add(rel, line_no, label=label, label_name=label_name,
                extra={"youtube_id": values["youtube_id"], "time_start": str(start),
                       "time_end": str(end), "split": values.get("split", "")})
    return out.result(names)


# --------------------------------------------------------------------------------------------
# Something-Something v2 and v1


def read_sthv2(
    annotation_json: str | Path,
    labels_json: str | Path,
    video_root: str | Path | None = None,
    *,
    extension: str = ".webm",
    missing: Missing = "raise",
) -> AnnotationSet:
    """Something-Something v2 ``train``/``validation``/``test`` JSON (a list of
    ``{"id", "label", "template", "placeholders"}``; test has ``id`` only) and ``labels.json``
    (``{"Template text": "index"}``). The class is the template with its ``[]`` removed
    (``"Putting [something] on [something]"`` -> ``"Putting something on something"``)."""
    annotation_json, labels_json = Path(annotation_json), Path(labels_json)
    classes = read_class_list(labels_json)
    try:
        entries = json.loads(annotation_json.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise AnnotationError(
            f"{annotation_json}: annotation file not found; check the path") from None
    except ValueError as exc:
        raise AnnotationError(f"{annotation_json}: not valid JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise AnnotationError(f"{annotation_json}: expected a JSON list of videos")
    root = Path(video_root) if video_root is not None else None
    out = _Collector(annotation_json, root, missing)
    index = {name: i for i, name in enumerate(classes)}
    for number, entry in enumerate(entries):
        line_no = number + 2  # one object per line after "[" in the official files
        where = f"{annotation_json}:{line_no} (entry {number})"
        if not isinstance(entry, dict) or "id" not in entry:
            raise AnnotationError(f"{where}: expected an object with an 'id'")
        template = entry.get("template")
        if template is None:
            label, label_name = UNLABELLED, ""
        elif not isinstance(template, str):
            raise AnnotationError(f"{where}: 'template' must be a string, got {template!r}")
        else:
            label_name = template.replace("[", "").replace("]", "")
            if label_name not in index:
                raise AnnotationError(f"{where}: unknown label {label_name!r}")
            label = index[label_name]
        out.add(f"{entry['id']}{extension}", line_no, label=label, label_name=label_name,
                extra={"label_text": str(entry.get("label", ""))})
    return out.result(classes)


def read_sthv1(
    annotation_csv: str | Path,
    labels_file: str | Path,
    frames_root: str | Path | None = None,
    *,
    missing: Missing = "raise",
) -> AnnotationSet:
    """Something-Something v1 ``id;label`` CSV (semicolon, no quoting; labels contain commas;
    the test CSV has ids only) with the labels file (one per line, official order; an added
    header line ``label`` or ``video;label`` is tolerated). Videos are frame folders
    ``<frames_root>/<id>/`` of JPEGs."""
    annotation_csv = Path(annotation_csv)
    classes = read_class_list(labels_file)
    index = {name: i for i, name in enumerate(classes)}
    root = Path(frames_root) if frames_root is not None else None
    out = _Collector(annotation_csv, root, missing)
    for line_no, line in enumerate(_read_lines(annotation_csv), 1):
        if not line.strip() or (line_no == 1 and line.strip() in ("video;label", "video")):
            continue
        video, sep, label_name = line.partition(";")
        where = f"{annotation_csv}:{line_no}"
        if not video.strip().isdigit():
            raise AnnotationError(f"{where}: expected '<numeric id>;<label>', got {line!r}")
        if sep:
            if label_name not in index:
                raise AnnotationError(f"{where}: unknown label {label_name!r}")
            label = index[label_name]
        else:
            label, label_name = UNLABELLED, ""
        out.add(video.strip(), line_no, label=label, label_name=label_name)
    return out.result(classes)


# --------------------------------------------------------------------------------------------
# Dataset


@dataclass(frozen=True)
class DatasetConfig:
    """How clips are drawn from videos (paper section 3: T frames per video, TSN sampling).

    ``n_frames``: T. ``train``: random segment offsets (and random crop/flip if the transform
    asks for them); else segment centres. ``sampling``: ``tsn``, ``uniform`` or ``dense``.
    ``skip_bad``: drop videos that fail to decode, reported in ``VideoDataset.skipped`` and by a
    warning (default: raise). ``preload``: keep every decoded uint8 source clip in memory
    (MiniActions: ~12 KB per frame; 1,280 clips of 40 frames ~ 0.6 GB). ``seed``: randomness.
    """

    n_frames: int = 16
    train: bool = False
    sampling: SamplingMode = "tsn"
    stride: int = 1
    transform: TransformConfig = field(default_factory=TransformConfig)
    skip_bad: bool = False
    preload: bool = False
    seed: int = 0


class VideoDataset(Dataset[tuple[torch.Tensor, int]]):
    """``(frames (T, C, H, W) float32 [or uint8], label)`` for each record."""

    def __init__(
        self,
        records: Sequence[VideoRecord],
        config: DatasetConfig | None = None,
        **overrides: object,
    ) -> None:
        config = config or DatasetConfig()
        if overrides:
            config = replace(config, **overrides)  # type: ignore[arg-type]
        if config.n_frames < 1:
            raise DatasetError(f"n_frames must be >= 1, got {config.n_frames}")
        self.config = config
        self.transform = ClipTransform(config.transform)
        self.epoch = 0
        self.skipped: list[tuple[Path, str]] = []
        records = list(records)
        if not records:
            raise DatasetError("the dataset has no video; check the annotation file and split")
        self._cache: list[torch.Tensor] | None = None
        self.classes: list[str] = []  # class names in label order (set by load_dataset)
        self.checksum: str | None = None  # of the annotation source (set by load_dataset)
        # label of the time-reversed clip of each class (itself for time-symmetric classes),
        # None where reversal does not map a class onto a class (set by load_dataset)
        self.reverse_labels: list[int] | None = None
        if config.preload:
            records = self._preload(records)
        elif config.skip_bad:
            records = self._probe(records)
        self.records = records

    # -- construction helpers -----------------------------------------------------------------

    def _drop(self, bad: list[tuple[Path, str]]) -> None:
        self.skipped.extend(bad)
        if bad:
            warnings.warn(f"skipped {len(bad)} videos that cannot be decoded (first: {bad[0][0]}: "
                          f"{bad[0][1]}); see VideoDataset.skipped", stacklevel=3)

    def _probe(self, records: list[VideoRecord]) -> list[VideoRecord]:
        kept, bad = [], []
        for record in records:
            try:
                probe_video(record.path)
                kept.append(record)
            except VideoDecodeError as exc:
                bad.append((record.path, str(exc)))
        self._drop(bad)
        return self._non_empty(kept)

    def _preload(self, records: list[VideoRecord]) -> list[VideoRecord]:
        kept, bad, cache = [], [], []
        for record in records:
            try:
                cache.append(load_frames(record.path))  # (F, H, W, 3) uint8
                kept.append(record)
            except VideoDecodeError as exc:
                if not self.config.skip_bad:
                    raise
                bad.append((record.path, str(exc)))
        self._drop(bad)
        self._cache = cache
        return self._non_empty(kept)

    @staticmethod
    def _non_empty(records: list[VideoRecord]) -> list[VideoRecord]:
        if not records:
            raise DatasetError("no video of the dataset could be decoded")
        return records

    @classmethod
    def from_mini(
        cls, root: str | Path | None = None, split: str = "train", n_frames: int = 16,
        train: bool = False, **overrides: object,
    ) -> VideoDataset:
        """MiniActions ``split`` (``sample`` needs no materialisation; the others are generated
        first by :func:`ensure_mini` if needed). Keyword overrides go to :class:`DatasetConfig`;
        its default transform has no flip, which MiniActions' direction classes require."""
        root = Path(root) if root is not None else default_root()
        if split != "sample":
            ensure_mini(root)
        return cls(read_mini(root, split).records,
                   DatasetConfig(n_frames=n_frames, train=train), **overrides)

    # -- access -------------------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws of training sampling (call once per epoch)."""
        self.epoch = int(epoch)

    @property
    def labels(self) -> list[int]:
        """Labels of all records, in order."""
        return [r.label for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def _source(self, index: int) -> torch.Tensor:
        if self._cache is not None:
            return self._cache[index]
        return load_frames(self.records[index].path)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """Decode, sample ``n_frames`` and transform: ``(T, C, H, W)``, label."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, self.epoch, index])
        try:
            frames = self._source(index)  # (F, H, W, 3) uint8
        except VideoDecodeError as exc:
            if not cfg.skip_bad:
                raise
            # Found bad only now (e.g. changed on disk after the probe): report, use the next.
            warnings.warn(f"skipping {self.records[index].path}: {exc}", stacklevel=2)
            self.skipped.append((self.records[index].path, str(exc)))
            return self[(index + 1) % len(self)]
        picks = sample_indices(frames.shape[0], cfg.n_frames, mode=cfg.sampling, train=cfg.train,
                               rng=rng, stride=cfg.stride)
        clip = self.transform(frames[torch.from_numpy(picks)], train=cfg.train, rng=rng)
        return clip, self.records[index].label


def make_loader(
    dataset: VideoDataset, batch_size: int, *, shuffle: bool = False, num_workers: int = 0,
    seed: int = 0, pin_memory: bool = False, drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling is seeded; sampling randomness is per (seed, epoch, index)
    in the dataset, so batches do not depend on ``num_workers``."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=generator, pin_memory=pin_memory, drop_last=drop_last,
                      persistent_workers=False)


# --------------------------------------------------------------------------------------------
# One entry point for training and evaluation

DATASET_NAMES = ("mini", "ucf101", "hmdb51", "kinetics400", "sthv2", "sthv1")


_KINETICS_CLASS_LISTS = ("classes.txt", "labels.txt", "label_map_k400.txt",
                         "kinetics_classnames.json")


def kinetics_classes(root: Path) -> list[str]:
    """The Kinetics class index shared by every split of ``root``: the first label list found
    (:data:`_KINETICS_CLASS_LISTS`, e.g. ``label_map_k400.txt``), else the sorted labels of all
    labelled CSVs there together. Never one CSV's own labels: a validation CSV that lacks a class
    would shift every later class's index against the training CSV's."""
    for name in _KINETICS_CLASS_LISTS:
        if (root / name).is_file():
            return read_class_list(root / name)
    names: set[str] = set()
    for csv_name in ("train.csv", "validate.csv", "val.csv"):
        if (root / csv_name).is_file():
            names |= {r.label_name for r in read_kinetics400(root / csv_name, classes=None)}
    return sorted(names)


def _real_annotations(name: str, root: Path, split: str,
                      missing: Missing = "raise") -> AnnotationSet:
    """Records of a real dataset in its usual folder layout under ``root`` (split 1 where the
    dataset has several; ``val`` and ``test`` both mean the official evaluation list):

    * ucf101: ``classInd.txt``, ``trainlist01.txt``/``testlist01.txt``, videos in ``videos/``;
    * hmdb51: ``testTrainMulti_7030_splits/``, videos in ``videos/<class>/``;
    * kinetics400: ``train.csv``/``validate.csv`` (or ``val.csv``), videos in ``videos/<split>/``,
      one class index for both (:func:`kinetics_classes`);
    * sthv2: ``labels.json``, ``train.json``/``validation.json``, videos in ``videos/``;
    * sthv1: ``labels.csv``, ``train.csv``/``validation.csv``, frame folders in ``frames/``.
    """
    train = split == "train"
    if name == "ucf101":
        listing = root / ("trainlist01.txt" if train else "testlist01.txt")
        return read_ucf101(listing, root / "classInd.txt", root / "videos", missing=missing)
    if name == "hmdb51":
        return read_hmdb51(root / "testTrainMulti_7030_splits", 1, "train" if train else "test",
                           root / "videos", missing=missing)
    if name == "kinetics400":
        candidates = ["train.csv"] if train else ["validate.csv", "val.csv"]
        found = [root / c for c in candidates if (root / c).is_file()]
        if not found:
            raise DatasetError(f"{root}: no {' or '.join(candidates)} (Kinetics-400 CSV)")
        return read_kinetics400(found[0], root / "videos" / ("train" if train else "val"),
                                classes=kinetics_classes(root), missing=missing)
    if name == "sthv2":
        listing = root / ("train.json" if train else "validation.json")
        return read_sthv2(listing, root / "labels.json", root / "videos", missing=missing)
    if name == "sthv1":
        listing = root / ("train.csv" if train else "validation.csv")
        return read_sthv1(listing, root / "labels.csv", root / "frames", missing=missing)
    raise DatasetError(f"unknown dataset {name!r}; expected one of {DATASET_NAMES}")


def load_dataset(
    name: str,
    root: str | Path | None,
    split: str,
    n_frames: int = 16,
    train: bool = False,
    size: int = 64,
    limit: int | None = None,
    preload: bool = False,
    skip_bad: bool = False,
    missing: Missing | None = None,
) -> VideoDataset:
    """The clips of dataset ``name`` for training (``train=True``) or evaluation.

    ``mini`` is MiniActions at its native 64x64 (materialised on first use, no resize, no flip:
    its left/right classes would swap); the real datasets are resized to ``size * 8 / 7`` on the
    short side and cropped to ``size`` (random crop in training, centre crop otherwise; no flip,
    for Something-Something's left/right classes). ``limit`` keeps the first N records
    (smoke runs). The dataset gets ``classes`` (names in label order) and ``checksum`` (of the
    annotation file, MiniActions: of its manifest), recorded in checkpoint provenance.

    ``skip_bad``: drop clips that cannot be decoded; ``missing``: ``"raise"`` or ``"skip"``
    listed files that do not exist (default: ``"skip"`` with ``skip_bad``, else ``"raise"``).
    Every dropped clip is in ``dataset.skipped`` as ``(path, reason)``.
    """
    import hashlib

    if name == "mini":
        base = Path(root) if root is not None else default_root()
        if split != "sample" and (base / "manifest.csv").is_file():
            ensure_mini(base)  # materialise the videos from the recipe on first use
        annotations = read_mini(base, split)  # a hand-made subset without manifest: as it is
        classes, checksum_file = list(CLASS_NAMES), base / "manifest.csv"
        transform = TransformConfig(size=size if size != 64 else None)
        reverse_labels = mini_reverse_labels()
    else:
        if root is None:
            raise DatasetError(f"--data is required for dataset {name!r} (its root folder)")
        base = Path(root)
        if not base.is_dir():
            raise DatasetError(f"dataset root {base} is not a folder")
        annotations = _real_annotations(name, base, split,
                                        missing or ("skip" if skip_bad else "raise"))
        classes, checksum_file = list(annotations.classes), annotations.source
        reverse_labels = None  # real classes have no exact time-reversed partner
        transform = TransformConfig(resize=round(size * 8 / 7), size=size,
                                    crop="random" if train else "center")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DatasetError(f"limit must be an integer >= 1, got {limit!r}")
    records = annotations.records[:limit] if limit is not None else annotations.records
    if not records and annotations.missing:
        raise DatasetError(f"{annotations.source}: every listed video is missing (first: "
                           f"{annotations.missing[0]}); check the dataset root {base}")
    config = DatasetConfig(n_frames=n_frames, train=train, transform=transform,
                           preload=preload, skip_bad=skip_bad)
    dataset = VideoDataset(records, config)
    dataset.skipped[:0] = [(path, "file missing") for path in annotations.missing]
    dataset.classes = classes
    dataset.reverse_labels = reverse_labels
    dataset.checksum = (hashlib.sha256(checksum_file.read_bytes()).hexdigest()[:16]
                        if checksum_file.is_file() else None)
    return dataset
