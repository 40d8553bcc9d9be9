"""Exit heads and the multi-exit network interface (depth-axis scheme, paper Approach (a)).

A multi-exit backbone is cut into K *stages*; after stage k sits *checkpoint* k with an exit head.
Every backbone of this project (TSM-ResNet, MSDNet, the tiny net) implements the same small
interface, :class:`MultiExitNet`, so the schemes, the engine, training and the FLOPs counter work
with any of them:

* ``stem(x)``: ``(N*T, 3, H, W) -> state``
* ``stage(k, state, n_frames, cache) -> state``: runs stage k (0-based) on every frame. ``state``
  is a tensor ``(N*T, C, H, W)`` or, for multi-scale nets (MSDNet), a list of such tensors.
* ``heads[k]``: an :class:`ExitHead`; ``heads[k].features(state) -> (N*T, D_k)`` and
  ``heads[k].classifier``, a single ``nn.Linear(D_k, num_classes)``.

**Contract: the classifier is linear and applied to frame-averaged features.** The video logits of
exit k over any set of frames are therefore the mean of its per-frame logits over those frames.
That is what lets the input-axis scheme keep a running sum of features over frame groups (paper
Approach (b)) and lets :mod:`dynamic_inference.schemes` compute every decision point from per-frame
logits alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor, nn

from dynamic_inference.errors import ConfigError
from dynamic_inference.shift import ShiftCache

State = Union[Tensor, list[Tensor]]


def select_state(state: State, index: Tensor) -> State:
    """Keep rows ``index`` of a state (a tensor or a list of tensors), e.g. for batch compaction."""
    if isinstance(state, Tensor):
        return state.index_select(0, index)
    return [s.index_select(0, index) for s in state]


def frame_rows(video_index: Tensor, n_frames: int) -> Tensor:
    """Rows of the ``(N*T, ...)`` layout that belong to videos ``video_index``: ``(len*T,)``."""
    offsets = torch.arange(n_frames, device=video_index.device)
    return (video_index[:, None] * n_frames + offsets[None, :]).reshape(-1)


class ExitHead(nn.Module):
    """Classifier at a checkpoint: a per-frame feature extractor, then one linear layer.

    ``features`` maps the checkpoint state to a pooled vector per frame, ``(N*T, D)``; it may hold
    a few convolutions (MSDNet's classifiers have two) before global average pooling.
    ``classifier`` is ``nn.Linear(D, num_classes)``, applied to the mean of the per-frame features
    of the frames seen so far (see the module docstring).
    """

    def __init__(self, features: nn.Module, dim: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.features = features
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(dim, num_classes)
        self.dim = dim

    def forward(self, state: State) -> Tensor:
        """Per-frame logits ``(N*T, num_classes)``."""
        return self.classifier(self.dropout(self.features(state)))


@dataclass
class MultiExitOutput:
    """What a multi-exit network returns for N videos of T frames.

    ``features[k]``: ``(N, T, D_k)`` pooled features of exit k per frame;
    ``logits[k]``: ``(N, T, num_classes)`` per-frame logits of exit k.
    """

    names: list[str]
    features: list[Tensor]
    logits: list[Tensor]

    @property
    def num_exits(self) -> int:
        return len(self.logits)

    def video_logits(self, exit_index: int = -1, frames: slice | Tensor | None = None) -> Tensor:
        """``(N, num_classes)``: exit ``exit_index`` on the mean over ``frames`` (default: all)."""
        lg = self.logits[exit_index]  # (N, T, C)
        if frames is not None:
            lg = lg[:, frames]
        return lg.mean(dim=1)

    def stacked_logits(self) -> Tensor:
        """``(N, K, T, num_classes)``, the input of :mod:`dynamic_inference.schemes`."""
        return torch.stack(self.logits, dim=1)


class MultiExitNet(nn.Module):
    """Base class of the backbones: stem, K stages, K exit heads, and a shared ``forward``.

    Subclasses build ``self.stem_layers`` (called by :meth:`stem`), ``self.stages`` (a ModuleList)
    and ``self.heads`` (a ModuleList of :class:`ExitHead`), set ``exit_names`` and
    ``num_classes``, and override :meth:`stage` if a stage needs more than ``(state, n_frames,
    cache)``.
    """

    exit_names: list[str]
    num_classes: int
    stem_layers: nn.Module
    stages: nn.ModuleList
    heads: nn.ModuleList

    @property
    def num_exits(self) -> int:
        return len(self.heads)

    def stem(self, x: Tensor) -> State:
        return self.stem_layers(x)

    def stage(self, k: int, state: State, n_frames: int, cache: ShiftCache | None = None) -> State:
        return self.stages[k](state, n_frames, cache)

    def forward(
        self, clips: Tensor, cache: ShiftCache | None = None, exits: int | None = None
    ) -> MultiExitOutput:
        """Run ``clips`` ``(N, T, 3, H, W)`` through the first ``exits`` stages (default all).

        With an online-shift model and a :class:`~dynamic_inference.shift.ShiftCache`, the T
        frames continue the videos held by the cache (streaming).
        """
        if clips.dim() != 5:
            raise ConfigError(
                f"expected clips of shape (N, T, 3, H, W), got {tuple(clips.shape)}"
            )
        n, t = clips.shape[:2]
        exits = self.num_exits if exits is None else exits
        if not 1 <= exits <= self.num_exits:
            raise ConfigError(f"exits must be in 1..{self.num_exits}, got {exits}")
        state = self.stem(clips.reshape(n * t, *clips.shape[2:]))  # (N*T, C, H, W)
        feats: list[Tensor] = []
        logits: list[Tensor] = []
        for k in range(exits):
            state = self.stage(k, state, t, cache)
            f = self.heads[k].features(state)  # (N*T, D_k)
            feats.append(f.view(n, t, -1))
            logits.append(self.heads[k].classifier(self.heads[k].dropout(f)).view(n, t, -1))
        return MultiExitOutput(list(self.exit_names[:exits]), feats, logits)
