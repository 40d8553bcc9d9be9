"""Checks at the edge: flag values, devices, output paths, class lists.

Every command checks what it was given *before* it starts working, with these functions, so a
bad flag, an unwritable output or a dataset that does not match a checkpoint costs one line on
stderr and exit code 2, not minutes of work and a traceback. One function per rule, shared by
all commands and by the library's configs:

* :func:`check_int` / :func:`check_float`: a number in a range (NaN and infinities refused);
* :func:`check_device`: a torch device that exists on this machine;
* :func:`check_output_file` / :func:`check_output_dir`: an output that can be written (the
  nearest existing folder is writable, the path is not a folder / not a file);
* :func:`atomic_write`: write to a temporary file in the same folder, then ``os.replace``, so
  an interrupted or failed write (a full disk) never leaves half a file where the old one was;
* :func:`check_classes`: a dataset's class list equals a checkpoint's.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from dynamic_inference.errors import CheckpointError, ConfigError, OutputError

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "check_classes",
    "check_device",
    "check_float",
    "check_int",
    "check_output_dir",
    "check_output_file",
]


def check_int(flag: str, value: object, minimum: int) -> int:
    """``value`` as an ``int >= minimum``, else :class:`ConfigError` naming ``flag``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{flag} must be an integer >= {minimum}, got {value!r}")
    return value


def check_float(
    flag: str, value: object, low: float | None = None, high: float | None = None,
    *, low_open: bool = False, high_open: bool = False,
) -> float:
    """``value`` as a finite float in the interval (``low``/``high``: bounds, ``None`` for none;
    ``*_open``: the bound itself excluded), else :class:`ConfigError` naming ``flag``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}" \
                   f"{')' if high_open or high is None else ']'}"
        raise ConfigError(f"{flag} must be a finite number in {interval}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_device(device: str, flag: str = "--device") -> str:
    """``device`` if torch knows it and it exists here (``cpu``, ``cuda``, ``cuda:N``, ``mps``)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"{flag} {device!r} is not a device; use cpu or cuda[:N]") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{flag} {device} was asked for but CUDA is not available on this "
                              "machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"{flag} {device}: this machine has "
                              f"{torch.cuda.device_count()} CUDA devices")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"{flag} mps was asked for but MPS is not available on this machine")
    elif dev.type != "cpu":
        raise ConfigError(f"{flag} {device!r} is not supported; use cpu or cuda[:N]")
    return device


def _nearest_existing(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")


def _check_folder_writable(folder: Path, flag: str, path: Path) -> None:
    """``folder`` (existing, or the nearest existing ancestor) must be a writable folder."""
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise ConfigError(f"{flag} {path}: {base} is a file, not a folder")
    # access(2) also answers "no" on a read-only file system (EROFS); nothing is created
    if not os.access(base, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: cannot write in {base} (read-only or no permission)")


def check_output_file(path: str | Path, flag: str) -> Path:
    """An output *file* that can be written: not a folder, not read-only, its folder (or the
    nearest folder above it that exists) writable. Nothing is created."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {path} is read-only")
    _check_folder_writable(path.parent, flag, path)
    return path


def check_output_dir(path: str | Path, flag: str) -> Path:
    """An output *folder* that can be written into (existing or to be created)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder")
    _check_folder_writable(path, flag, path)
    return path


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``.

    The folder is created if needed. On failure (e.g. a full disk) the temporary file is removed,
    ``path`` is left as it was and :class:`OutputError` names it.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}; it was left as it "
                          "was") from exc
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write` of UTF-8 text."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def check_classes(
    dataset_classes: Sequence[str], checkpoint_classes: Sequence[str], checkpoint: str | Path,
    dataset: str,
) -> None:
    """Raise :class:`CheckpointError` unless the dataset's classes are the checkpoint's, in the
    same order (the label index of one must mean the same class in the other)."""
    have, want = list(dataset_classes), list(checkpoint_classes)
    if have == want:
        return
    if len(have) != len(want):
        detail = f"{len(want)} classes, the dataset {len(have)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(have, want)) if a != b)
        detail = f"class {i} {want[i]!r}, the dataset {have[i]!r}"
    raise CheckpointError(f"checkpoint {checkpoint} does not match the classes of {dataset}: the "
                          f"checkpoint has {detail}; evaluate on the dataset it was trained on")
