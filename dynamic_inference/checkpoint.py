"""Checkpoints: the configuration of a training run, and saving and loading its weights.

A checkpoint is one ``torch.save`` file holding ``state_dict``, ``config`` (a
:class:`TrainConfig` as a dict) and ``provenance`` (the command, data, classes, per-exit val
top-1 and timings of the run that made it), with the provenance also written as JSON next to it.
:func:`load_checkpoint` reads it with ``torch.load(weights_only=True)`` and checks everything a
caller would otherwise trip over later (keys, types, classes, shapes, NaN weights), raising one
:class:`~dynamic_inference.errors.CheckpointError` line. Evaluation, the notebooks and the
benchmarks need only this module, not the training loop (:mod:`dynamic_inference.train`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dynamic_inference.backbones import build_model, default_size
from dynamic_inference.checks import (
    atomic_write,
    atomic_write_text,
    check_device,
    check_float,
    check_int,
)
from dynamic_inference.errors import CheckpointError, ConfigError
from dynamic_inference.exits import MultiExitNet

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "tiny_online.pt"  # the shipped model
LOSS_KINDS = ("depth", "input", "unified")


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in the checkpoint and its provenance)."""

    model: str = "tiny"
    dataset: str = "mini"
    data: str | None = None  # dataset root; None = the shipped datasets_mini/
    shift: str = "online"
    frames: int = 16
    groups: int = 4
    order: str = "strided"
    loss: str = "unified"
    size: int | None = None  # input side; None = the model's default (backbones.default_size)
    epochs: int = 15
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float | None = None  # None: 2e-3 for AdamW, 0.05 for SGD
    weight_decay: float | None = None  # None: 0.05 for AdamW, 1e-4 for SGD
    label_smoothing: float = 0.0
    reverse_aug: float = 0.0  # probability of playing a clip backwards (needs reverse labels)
    jitter: int = 0  # random translation of each training clip by up to +-jitter pixels
    distill: float = 0.0  # weight of self-distillation from the last exit (0: off)
    seed: int = 0
    device: str = "cpu"
    workers: int = 0
    limit: int | None = None  # only the first N training clips (smoke runs)
    steps: int | None = None  # stop after N optimiser steps (smoke runs)
    skip_bad: bool = False  # drop (and report) clips that are missing or cannot be decoded
    channels_last: bool = False  # NHWC activations: other kernels, other float sums (see train)
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ConfigError(f"loss must be one of {LOSS_KINDS}, got {self.loss!r}")
        if self.frames < 1 or self.groups < 1 or self.frames % self.groups:
            raise ConfigError(
                f"--groups {self.groups} must divide --frames {self.frames} (both >= 1)"
            )
        check_int("--epochs", self.epochs, 1)
        check_int("--batch-size", self.batch_size, 1)
        if self.lr is not None:
            check_float("--lr", self.lr, 0.0, low_open=True)
        if self.weight_decay is not None:
            check_float("--weight-decay", self.weight_decay, 0.0)
        check_float("--label-smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        check_int("--workers", self.workers, 0)
        check_int("--seed", self.seed, 0)
        for flag, value in (("--limit", self.limit), ("--steps", self.steps)):
            if value is not None:
                check_int(flag, value, 1)
        if self.size is not None:
            check_int("--size", self.size, 1)  # what the model can take: check_input_size
        if not isinstance(self.device, str):
            raise ConfigError(f"--device must be a name such as cpu or cuda, got {self.device!r}")
        if not 0.0 <= self.reverse_aug <= 1.0:
            raise ConfigError(f"--reverse-aug must be a probability in [0, 1], got "
                              f"{self.reverse_aug}")
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, int) or self.jitter < 0:
            raise ConfigError(f"--jitter must be a whole number of pixels >= 0, got "
                              f"{self.jitter!r}")
        if not (isinstance(self.distill, (int, float)) and 0.0 <= self.distill < float("inf")):
            raise ConfigError(f"--distill must be a weight >= 0, got {self.distill!r}")
        if not isinstance(self.channels_last, bool):
            raise ConfigError(f"channels_last must be True or False, got {self.channels_last!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")

    @property
    def input_size(self) -> int:
        return self.size if self.size is not None else default_size(self.model)


def provenance_path(out: str | Path) -> Path:
    """Where the provenance JSON of checkpoint ``out`` goes: ``out`` with suffix ``.json``."""
    out = Path(out)
    prov = out.with_suffix(".json")
    if prov == out:
        raise ConfigError(f"--out {out}: the provenance is written next to the checkpoint as "
                          f"{prov.name}, which would overwrite the weights; name the "
                          "checkpoint .pt")
    return prov



def save_checkpoint(
    model: MultiExitNet, cfg: TrainConfig, provenance: dict[str, Any], out: str | Path
) -> None:
    """Write the checkpoint ``out`` and its provenance JSON next to it, each atomically."""
    out = Path(out)
    prov = provenance_path(out)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    blob = {"state_dict": state, "config": asdict(cfg), "provenance": provenance}
    atomic_write(out, lambda tmp: torch.save(blob, tmp))
    atomic_write_text(prov, json.dumps(provenance, indent=2) + "\n")


def load_checkpoint(
    path: str | Path, expect: dict[str, Any] | None = None, device: str = "cpu"
) -> tuple[MultiExitNet, TrainConfig, dict[str, Any]]:
    """Rebuild the model of a checkpoint and load its weights.

    ``expect`` lists config values the caller needs (e.g. ``{"shift": "online"}``); a checkpoint
    that differs raises :class:`CheckpointError` naming the mismatch, as does a file that is not
    one of ours or whose weights do not fit the model its config describes.
    """
    path = Path(path)
    check_device(device)  # before torch.load, whose map_location would fail with it
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__})") from e
    if not isinstance(blob, dict) or not {"state_dict", "config", "provenance"} <= blob.keys():
        raise CheckpointError(
            f"{path} is not a dynamic_inference checkpoint (expected keys state_dict, config, "
            "provenance): train one with `python -m dynamic_inference train`"
        )
    state_dict, config, provenance = blob["state_dict"], blob["config"], blob["provenance"]
    if not (isinstance(state_dict, dict) and isinstance(config, dict)
            and isinstance(provenance, dict)
            and all(isinstance(v, Tensor) for v in state_dict.values())):
        raise CheckpointError(f"{path} is not a dynamic_inference checkpoint (state_dict must map "
                              "names to tensors, config and provenance must be dicts)")
    known = {f.name for f in fields(TrainConfig)}
    try:
        cfg = TrainConfig(**{k: v for k, v in config.items() if k in known})
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} has a config this version cannot use: "
                              f"{e}") from None
    for key, want in (expect or {}).items():
        have = getattr(cfg, key, None)
        if have != want:
            raise CheckpointError(f"checkpoint {path} has {key}={have!r}, but {want!r} is needed")
    classes = provenance.get("classes")
    if not (isinstance(classes, list) and len(classes) >= 2
            and all(isinstance(c, str) for c in classes)):
        raise CheckpointError(f"checkpoint {path} does not list its classes (provenance "
                              "'classes' must be a list of >= 2 names); it cannot be used")
    try:
        model = build_model(cfg.model, len(classes), shift=cfg.shift, **cfg.model_kwargs)
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {path}: {e}") from None
    missing, unexpected = [], []
    own = model.state_dict()
    for k, v in blob["state_dict"].items():
        if k not in own:
            unexpected.append(k)
        elif own[k].shape != v.shape:
            raise CheckpointError(
                f"checkpoint {path}: weight {k} has shape {tuple(v.shape)} but model "
                f"{cfg.model} needs {tuple(own[k].shape)}"
            )
    missing = [k for k in own if k not in state_dict]
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {path} does not fit model {cfg.model}: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    broken = [k for k, v in state_dict.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise CheckpointError(f"checkpoint {path}: weight {broken[0]} contains NaN or inf "
                              f"({len(broken)} tensors do); the training diverged, retrain it")
    model.load_state_dict(state_dict)
    model.to(device).eval()
    return model, cfg, provenance
