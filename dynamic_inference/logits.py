"""Per-frame logits of every exit on a split: what the simulation and the calibration work from.

Every decision point of every scheme is a slice of ``frame_logits (V, K, T, C)`` (videos, exits,
frames in processing order, classes; :mod:`dynamic_inference.schemes`), so a split is run through
the network once per frame order (:func:`collect_logits`, all exits on all frames) and every
threshold setting is then evaluated without touching the network again.

Decoding and the network are the slow parts, so a caller that evaluates several schemes, orders
or thresholds holds a :class:`LogitCache` and passes it along: it keeps the decoded clips of each
MiniActions split (2,400 clips of 16 x 64 x 64 fit in memory; real datasets are streamed from disk
each time) and the logits of each (checkpoint, split, frame order). Nothing is cached at module
level: without a cache every call decodes and runs again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from dynamic_inference.checkpoint import TrainConfig, load_checkpoint
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.schemes import Scheme, frame_order


@dataclass
class SplitLogits:
    """Per-frame logits of every exit on one split, frames in processing order."""

    frame_logits: Tensor  # (V, K, T, C)
    labels: Tensor  # (V,)
    records: list[Any]  # the dataset's records (label names, group, difficulty)
    order: Tensor  # (T,) the permutation applied to the sampled frames
    classes: list[str]
    skipped: list[str] = field(default_factory=list)  # clips dropped (--skip-bad): "path: why"


def order_for(scheme: Scheme, cfg: TrainConfig) -> Tensor:
    """The frame permutation a scheme uses with a checkpoint.

    Input-axis and unified schemes use their own order and group count; full inference and the
    depth axis see all frames at once and use the order the checkpoint was trained with.
    """
    if scheme.groups > 1:
        return frame_order(scheme.order, cfg.frames, scheme.groups, scheme.seed)
    return frame_order(cfg.order, cfg.frames, cfg.groups, cfg.seed)


def load_split(cfg: TrainConfig, split: str, data: str | Path | None = None, **kw: Any) -> Any:
    """The evaluation dataset of a checkpoint's config (centre sampling, no augmentation)."""
    from dynamic_inference.data.datasets import load_dataset

    root = data if data is not None else cfg.data
    return load_dataset(
        cfg.dataset, root, split, n_frames=cfg.frames, train=False, size=cfg.input_size, **kw
    )


class DecodedClips(Dataset):
    """An evaluation split decoded once and kept in memory: ``clips (V, T, 3, H, W)``."""

    def __init__(self, dataset: Any) -> None:
        loader = DataLoader(dataset, batch_size=64, shuffle=False)
        pairs = [(c, y) for c, y in loader]
        self.clips = torch.cat([c for c, _ in pairs])
        self.labels = torch.cat([y for _, y in pairs])
        self.records = list(dataset.records)
        self.classes = list(dataset.classes)
        self.skipped = list(dataset.skipped)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.clips[i], int(self.labels[i])


@torch.inference_mode()
def collect_logits(
    model: MultiExitNet,
    dataset: Any,
    order: Tensor,
    batch_size: int = 32,
    device: str = "cpu",
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Run every exit on every frame of ``dataset``: ``(V, K, T, C)`` logits and ``(V,)`` labels."""
    model.eval().to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out, labels = [], []
    for clips, y in tqdm(loader, desc="logits", disable=not progress, leave=False):
        res = model(clips[:, order].to(device))  # frames in processing order
        out.append(res.stacked_logits().float().cpu())
        labels.append(y)
    return torch.cat(out), torch.cat(labels)


class LogitCache:
    """Decoded clips and per-frame logits a caller reuses across schemes, orders and thresholds.

    Entries are keyed by what determines them: the dataset (name, root, split, frames, size,
    ``skip_bad``) for clips and, for logits, the model's ``name`` (e.g. its checkpoint path) or,
    without one, the model object itself (the cache keeps a reference, so the key cannot be
    reused by another model while the cache lives), the split and the frame order. Drop the
    cache object to free the memory.
    """

    def __init__(self) -> None:
        self._clips: dict[tuple, DecodedClips] = {}
        self._logits: dict[tuple, SplitLogits] = {}
        self._models: dict[int, MultiExitNet] = {}  # keeps the models keyed by identity alive

    def clips(self, cfg: TrainConfig, split: str, data: str | Path | None, skip_bad: bool,
              make: Any) -> Any:
        key = (cfg.dataset, str(data if data is not None else cfg.data), split, cfg.frames,
               cfg.input_size, skip_bad)
        if key not in self._clips:
            self._clips[key] = make()
        return self._clips[key]

    def logits(self, key: tuple, model: MultiExitNet, make: Any) -> SplitLogits:
        if key[0] is None:
            self._models[id(model)] = model
            key = (id(model),) + key[1:]
        if key not in self._logits:
            self._logits[key] = make()
        return self._logits[key]


def eval_split(
    cfg: TrainConfig,
    split: str,
    data: str | Path | None = None,
    skip_bad: bool = False,
    cache: LogitCache | None = None,
) -> Any:
    """The evaluation clips of a split. MiniActions splits are decoded into memory
    (:class:`DecodedClips`), once per ``cache``; real datasets are streamed from disk."""
    if cfg.dataset != "mini":
        return load_split(cfg, split, data, skip_bad=skip_bad)

    def make() -> DecodedClips:
        return DecodedClips(load_split(cfg, split, data, skip_bad=skip_bad))

    return make() if cache is None else cache.clips(cfg, split, data, skip_bad, make)


def split_logits(
    model: MultiExitNet,
    cfg: TrainConfig,
    split: str,
    order: Tensor,
    data: str | Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    skip_bad: bool = False,
    cache: LogitCache | None = None,
    name: str | None = None,
) -> SplitLogits:
    """:func:`collect_logits` on a split, frames in ``order``; kept in ``cache`` under ``name``
    (e.g. the checkpoint path; default: the model object). ``skip_bad``: drop missing and
    undecodable clips (listed in ``SplitLogits.skipped``)."""

    def make() -> SplitLogits:
        ds = eval_split(cfg, split, data, skip_bad, cache)
        fl, y = collect_logits(model, ds, order, batch_size, device)
        return SplitLogits(fl, y, list(ds.records), order, list(ds.classes),
                           [f"{p}: {why}" for p, why in getattr(ds, "skipped", [])])

    if cache is None:
        return make()
    key = (name, split, tuple(order.tolist()), str(data), cfg.frames, skip_bad)
    return cache.logits(key, model, make)


def split_logits_for(
    checkpoint: str | Path,
    split: str,
    order: str | None = None,
    groups: int | None = None,
    data: str | Path | None = None,
    device: str = "cpu",
    cache: LogitCache | None = None,
) -> SplitLogits:
    """Per-frame logits of a checkpoint on a split, frames in ``order`` with ``groups`` groups
    (default: the order the checkpoint was trained with), kept in ``cache``."""
    model, cfg, _ = load_checkpoint(checkpoint, device=device)
    perm = frame_order(order or cfg.order, cfg.frames, groups or cfg.groups, cfg.seed)
    return split_logits(model, cfg, split, perm, data=data, device=device, cache=cache,
                        name=str(Path(checkpoint).resolve()))
