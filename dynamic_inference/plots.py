"""Matplotlib figures shared by the notebooks, the demo and the benchmarks.

Each function draws on an ``Axes`` (a new figure when none is given) and returns it, so a notebook
can lay several out side by side. Nothing here computes results: the numbers come from
:mod:`dynamic_inference.calibrate`, :mod:`dynamic_inference.evaluate` and
:mod:`dynamic_inference.flops`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from dynamic_inference.errors import ConfigError

Curve = tuple[Sequence[float], Sequence[float]]  # (costs, top-1 %)


def _axes(ax: Axes | None, size: tuple[float, float] = (5.5, 4.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def accuracy_vs_cost(
    curves: Mapping[str, Curve],
    points: Mapping[str, tuple[float, float]] | None = None,
    oracle: tuple[float, float] | None = None,
    operating_point: tuple[float, float] | None = None,
    xlabel: str = "GFLOPs / video",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Top-1 against cost: one line per dynamic curve, markers for static settings.

    ``curves``: name -> (costs, accuracies); ``points``: name -> (cost, accuracy) of static
    baselines (fewer frames, a fixed earlier exit, full inference); ``oracle``: the bound.
    """
    ax = _axes(ax)
    for name, (c, a) in curves.items():
        order = np.argsort(np.asarray(c, dtype=float))
        ax.plot(np.asarray(c)[order], np.asarray(a)[order], "-", lw=1.8, label=name)
    markers = "osD^v<>p*h"
    for i, (name, (c, a)) in enumerate((points or {}).items()):
        ax.plot([c], [a], markers[i % len(markers)], ms=7, mfc="none", mew=1.6, label=name)
    if oracle is not None:
        ax.plot([oracle[0]], [oracle[1]], "k*", ms=12, label="oracle (bound)")
    if operating_point is not None:
        ax.plot([operating_point[0]], [operating_point[1]], "ro", ms=9, label="chosen point")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 (%)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def stop_histogram(
    counts: Sequence[int], names: Sequence[str], title: str | None = None, ax: Axes | None = None
) -> Axes:
    """Bar chart: how many videos stopped at each decision point."""
    ax = _axes(ax, (max(4.0, 0.45 * len(names) + 2), 3.2))
    ax.bar(range(len(counts)), counts, color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=60 if len(names) > 6 else 0, fontsize=8)
    ax.set_ylabel("videos")
    ax.set_xlabel("decision point (group / exit)")
    if title:
        ax.set_title(title)
    return ax


def frame_strip(
    frames: torch.Tensor | np.ndarray,
    title: str | None = None,
    ax: Axes | None = None,
    max_frames: int = 8,
) -> Axes:
    """Frames ``(T, 3, H, W)`` or ``(T, H, W, 3)`` (uint8 or float in [0, 1]) side by side."""
    f = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if f.ndim != 4:
        raise ValueError(f"frame_strip expects (T, C, H, W) or (T, H, W, C), got {f.shape}")
    if f.shape[1] == 3 and f.shape[-1] != 3:
        f = f.transpose(0, 2, 3, 1)  # (T, H, W, 3)
    step = max(1, int(np.ceil(len(f) / max_frames)))
    f = f[::step]
    if f.dtype != np.uint8:
        f = np.clip(f, 0, 1)
    strip = np.concatenate(list(f), axis=1)
    ax = _axes(ax, (1.1 * len(f), 1.4))
    ax.imshow(strip)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8, loc="left")
    return ax


def shift_diagram(
    mode: str, frames: int = 6, channels: int = 8, fold_div: int = 4, ax: Axes | None = None
) -> Axes:
    """The channel x time picture of the temporal shift: where each output cell comes from.

    Each cell of the output grid is coloured by the frame its value is taken from; white cells
    (marked "-") are the zero padding at the borders.
    """
    from dynamic_inference.shift import temporal_shift

    t_idx = torch.arange(frames, dtype=torch.float32) + 1  # frame number + 1, 0 = padding
    x = t_idx.view(frames, 1, 1, 1).expand(frames, channels, 1, 1).contiguous()
    src = temporal_shift(x, frames, fold_div, mode).view(frames, channels).T  # (C, T)
    grid = np.ma.masked_equal(src.numpy(), 0) - 1
    ax = _axes(ax, (3.2, 3.0))
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("white")
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=frames - 1, aspect="auto")
    for c in range(channels):
        for t in range(frames):
            v = src[c, t].item()
            ax.text(t, c, "-" if v == 0 else f"{int(v) - 1}", ha="center", va="center",
                    fontsize=7, color="black" if v == 0 else "white")
    ax.set_xlabel("time (output frame t)")
    ax.set_ylabel("channel")
    ax.set_title(f"{mode} shift: source frame of each value", fontsize=9)
    return ax


def cost_table_bars(
    names: Sequence[str], gflops: Sequence[float], title: str | None = None, ax: Axes | None = None
) -> Axes:
    """Horizontal bars of per-video GFLOPs (e.g. the paper's cost rows)."""
    ax = _axes(ax, (5.5, 0.35 * len(names) + 1))
    ax.barh(range(len(names)), gflops, color="tab:gray")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("GFLOPs / video")
    for i, g in enumerate(gflops):
        ax.text(g, i, f" {g:.1f}", va="center", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def frame_groups(
    order: Sequence[int] | torch.Tensor, groups: int, title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Which frames each group of the input axis holds (paper Approach (b) and (c)).

    ``order``: a frame order of T frames (:func:`dynamic_inference.schemes.frame_order`),
    position i of the processing order holding frame ``order[i]``; group j is positions
    ``j*T/G .. (j+1)*T/G - 1``. The grid has one row per group, in processing order, and one
    column per frame, in temporal order: cell (j, t) is coloured by group j when frame t is in
    group j (it shows the frame's position 1..T in the processing order) and left blank
    otherwise. The drawn values (``ax.images[0].get_array()``) are the group numbers 1..G.
    """
    perm = torch.as_tensor(order).reshape(-1).long()
    frames = perm.numel()
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ConfigError(f"groups must be a positive int, got {groups!r}")
    if frames == 0 or frames % groups != 0:
        raise ConfigError(f"groups={groups} does not divide the {frames} frames of the order")
    if not torch.equal(perm.sort().values, torch.arange(frames)):
        raise ConfigError(f"order must be a permutation of 0..{frames - 1}, got {perm.tolist()}")
    per_group = frames // groups
    grid = np.zeros((groups, frames))
    for pos, frame in enumerate(perm.tolist()):
        grid[pos // per_group, frame] = pos // per_group + 1
    ax = _axes(ax, (0.32 * frames + 1.2, 0.32 * groups + 0.9))
    cmap = plt.get_cmap("Set3", max(groups, 3)).with_extremes(bad="white")
    ax.imshow(np.ma.masked_array(grid, mask=grid == 0), cmap=cmap, vmin=0.5,
              vmax=max(groups, 3) + 0.5, aspect="equal")
    for pos, frame in enumerate(perm.tolist()):
        ax.text(frame, pos // per_group, str(pos + 1), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(frames), [str(t) for t in range(frames)], fontsize=7)
    ax.set_yticks(range(groups), [f"group {j + 1}" for j in range(groups)], fontsize=8)
    ax.set_xticks(np.arange(frames + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(groups + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.8", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("frame (temporal index); the number in a cell: its position in processing order",
                  fontsize=8)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return ax
