"""Temporal shift (TSM, Lin et al. ICCV 2019), offline and online, with an explicit streaming cache.

Paper: "Dynamic Inference" (Wu et al. 2020), slide "Online temporal shift module".
A 2D CNN sees a video as a batch of frames ``(N*T, C, H, W)``. The temporal shift moves a
fold of ``C // fold_div`` channels one step along time so that a frame's 2D convolution also sees
its neighbours; it costs no multiply-adds.

Three modes:

* ``"offline"`` (bidirectional): channels ``[0, fold)`` of frame ``t`` come from frame ``t+1`` (the
  future), channels ``[fold, 2*fold)`` from frame ``t-1`` (the past); the rest are unchanged. The
  borders are zero padded.
* ``"online"`` (causal): only one fold moves, channels ``[0, fold)`` of frame ``t`` come from
  frame ``t-1``; frame 0 gets zeros. The output at frame ``t`` depends on frames ``<= t`` only.
  We shift one fold (as TSM's online demo does), not two, so the number of channels that carry
  the past is the same as in the offline shift.
* ``"off"``: identity (TSN).

Streaming: the online shift only needs the shifted channels of the *last processed frame*. A
:class:`ShiftCache` holds them per shift layer, so frames can be fed one at a time or one group at
a time and the result equals running the online shift on the whole clip at once. The cache is an
explicit object passed to ``forward``; modules hold no state between calls, so nothing leaks
between videos or batch items. Use a new cache (or :meth:`ShiftCache.reset`) for each video.

Implementation note (measured, see ``benchmarks/shift_overhead.py`` and
``benchmarks/gpu_paper_scale.py``): the shift writes, through ``(N, T, C, H, W)`` views, into one
output tensor allocated with ``torch.empty_like(x)``, so the output keeps the input's memory
format. It copies the tensor once; no multiply-adds. An earlier version built the output with
``torch.cat``, which returns a contiguous (NCHW) tensor even for a ``channels_last`` input: every
following convolution then converted its input back, and TSM-ResNet-50 ran 92% slower than TSN
(H200, bf16, channels_last, 8 x 16 frames at 224). One new frame of a contiguous tensor (live
streaming) takes a single ``torch.cat`` instead, about 3x faster for small frames. The shift is
one autograd node whose backward is the same shift run the other way in time (frame t's fold
went to frame t+1, so its gradient comes back from t+1): the gradients are bit-identical to what
autograd derives from the slice assignments, which filled a zero tensor of the whole input per
slice. Measured on mini MSDNet training steps (16 clips of 16 frames, old and new side by side,
bit-identical weights after 20 steps): 0.75x the time per step at one thread while a second
training shared the two cores, 0.96-1.03x (no gain) alone at one or two threads.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from dynamic_inference.errors import ConfigError

ShiftMode = Literal["off", "offline", "online"]
SHIFT_MODES: tuple[str, ...] = ("off", "offline", "online")


def _check(x: Tensor, n_frames: int, fold_div: int, mode: str) -> None:
    if mode not in SHIFT_MODES:
        raise ConfigError(f"shift mode must be one of {SHIFT_MODES}, got {mode!r}")
    if not isinstance(fold_div, int) or isinstance(fold_div, bool) or fold_div < 2:
        raise ConfigError(f"fold_div must be an integer >= 2, got {fold_div!r}")
    if not isinstance(n_frames, int) or isinstance(n_frames, bool) or n_frames < 1:
        raise ConfigError(f"n_frames must be a positive integer, got {n_frames!r}")
    if x.dim() != 4:
        raise ConfigError(
            f"temporal shift expects a (N*T, C, H, W) tensor, got shape {tuple(x.shape)}"
        )
    if x.shape[0] % n_frames != 0:
        raise ConfigError(
            f"batch dimension {x.shape[0]} is not divisible by n_frames={n_frames}: "
            "the input must be (N*T, C, H, W) with T frames per video"
        )
    if x.shape[1] < fold_div:
        raise ConfigError(
            f"{x.shape[1]} channels cannot be split into folds of C // fold_div with "
            f"fold_div={fold_div}: need C >= fold_div"
        )


def _move(v: Tensor, o: Tensor, lo: int, hi: int, step: int, border: Tensor | float = 0.0) -> None:
    """``o[:, t, lo:hi] = v[:, t - step, lo:hi]`` on ``(N, T, C, H, W)`` views: ``step = 1`` takes
    the channels from the past frame, ``step = -1`` from the future one. The frame with no source
    (the first or the last) gets ``border``: 0 at a clip's edge, the cached channels of the previous
    frame when streaming."""
    if step == 1:
        o[:, 1:, lo:hi] = v[:, :-1, lo:hi]
        o[:, 0, lo:hi] = border
    else:
        o[:, :-1, lo:hi] = v[:, 1:, lo:hi]
        o[:, -1, lo:hi] = border


def _fold_steps(mode: ShiftMode) -> tuple[int, ...]:
    """Where each moved fold comes from: online: fold 0 from the past; offline: fold 0 from the
    future and fold 1 from the past."""
    return (1,) if mode == "online" else (-1, 1)


def _shift(
    x: Tensor, n_frames: int, fold: int, steps: tuple[int, ...], border: Tensor | float = 0.0
) -> Tensor:
    """Fold ``i`` of frame ``t`` comes from frame ``t - steps[i]``; the other channels stay. The
    frame with no source gets ``border`` (see :func:`_move`)."""
    nt, c, h, w = x.shape
    v = x.view(nt // n_frames, n_frames, c, h, w)  # (N, T, C, H, W)
    out = torch.empty_like(x)  # (N*T, C, H, W), same memory format as x
    o = out.view(v.shape)  # (N, T, C, H, W) view of the output
    for i, step in enumerate(steps):
        _move(v, o, i * fold, (i + 1) * fold, step, border)
    moved = len(steps) * fold
    o[:, :, moved:] = v[:, :, moved:]
    return out


class _ShiftFunction(torch.autograd.Function):
    """The shift as one autograd node. Its gradient is the same shift run the other way in time
    (what frame t gave to frame t+1 comes back from t+1 to t): one more copy. Left to autograd,
    every slice assignment of :func:`_shift` records its own backward, which fills a zero tensor of
    the whole input's size and copies one slice into it."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, n_frames: int, fold: int, steps: tuple[int, ...]) -> Tensor:
        ctx.shift = (n_frames, fold, tuple(-step for step in steps))
        return _shift(x, n_frames, fold, steps)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        return _shift(grad, *ctx.shift), None, None, None


def temporal_shift(
    x: Tensor, n_frames: int, fold_div: int = 8, mode: ShiftMode = "offline"
) -> Tensor:
    """Shift ``x`` of shape ``(N*T, C, H, W)`` along time; returns the same shape.

    ``n_frames`` is T. See the module docstring for the modes.
    """
    _check(x, n_frames, fold_div, mode)
    if mode == "off":
        return x
    return _ShiftFunction.apply(x, n_frames, x.shape[1] // fold_div, _fold_steps(mode))


class ShiftCache:
    """Per-video streaming state of every online shift layer of one network.

    For each :class:`TemporalShift` layer it keeps the fold of channels of the last processed frame,
    shape ``(N, fold, H, W)``. Create one per batch of videos (or call :meth:`reset`) and pass it
    to every forward call of that batch; :meth:`select` keeps a subset of the videos (batch
    compaction in the early-exit engine).
    """

    def __init__(self) -> None:
        self._last: dict[int, Tensor] = {}

    def reset(self) -> None:
        """Forget everything: the next frame is treated as the first frame of a new video."""
        self._last.clear()

    def __len__(self) -> int:
        return len(self._last)

    def get(self, layer: nn.Module) -> Tensor | None:
        return self._last.get(id(layer))

    def put(self, layer: nn.Module, last: Tensor) -> None:
        self._last[id(layer)] = last

    def add_videos(self, n: int) -> None:
        """Append ``n`` new videos (rows of zeros: no past frame) after the cached ones."""
        for key, last in self._last.items():
            self._last[key] = torch.cat([last, last.new_zeros(n, *last.shape[1:])])

    def select(self, index: Tensor) -> ShiftCache:
        """A new cache holding only the videos ``index`` (a LongTensor of batch positions)."""
        out = ShiftCache()
        out._last = {k: v.index_select(0, index.to(v.device)) for k, v in self._last.items()}
        return out


def online_shift_step(
    x: Tensor, n_frames: int, last: Tensor | None, fold_div: int = 8
) -> tuple[Tensor, Tensor]:
    """Online shift of a group of ``n_frames`` new frames that continue a video.

    ``x``: (N*g, C, H, W), the new frames; ``last``: (N, fold, H, W), the shifted channels of the
    previous frame of each video, or ``None`` at the start of the video. Returns the shifted
    frames and the new ``last`` (the fold of the newest frame).
    """
    _check(x, n_frames, fold_div, "online")
    nt, c, h, w = x.shape
    fold = c // fold_div
    if n_frames == 1 and last is not None and last.shape == (nt, fold, h, w):
        # one new frame per video (live streaming): two copies, ~3x faster than the views below
        if x.is_contiguous():
            return torch.cat([last, x[:, fold:]], dim=1), x[:, :fold].clone()
        out = torch.empty_like(x)  # e.g. channels_last (cat would return NCHW): kept
        out[:, :fold] = last
        out[:, fold:] = x[:, fold:]
        return out, x[:, :fold].clone()
    v = x.view(nt // n_frames, n_frames, c, h, w)  # (N, g, C, H, W)
    if last is not None and last.shape != (v.shape[0], fold, h, w):
        raise ConfigError(
            f"streaming cache holds shape {tuple(last.shape)} but the new frames need "
            f"{(v.shape[0], fold, h, w)}: use a new ShiftCache for each batch of videos"
        )
    # the first new frame gets the cached fold of the previous one (zeros for a new video)
    out = _shift(x, n_frames, fold, _fold_steps("online"), 0.0 if last is None else last)
    return out, v[:, -1, :fold].clone()  # (N*g, C, H, W), (N, fold, H, W)


class TemporalShift(nn.Module):
    """The temporal shift as a layer, placed in a residual branch before its first conv.

    ``forward(x, n_frames, cache)``: ``x`` is ``(N*T, C, H, W)``. With ``mode="online"`` and a
    :class:`ShiftCache`, the frames continue the videos whose state the cache holds (streaming);
    without a cache they are a whole clip.
    """

    def __init__(self, mode: ShiftMode = "offline", fold_div: int = 8) -> None:
        super().__init__()
        if mode not in SHIFT_MODES:
            raise ConfigError(f"shift mode must be one of {SHIFT_MODES}, got {mode!r}")
        if not isinstance(fold_div, int) or fold_div < 2:
            raise ConfigError(f"fold_div must be an integer >= 2, got {fold_div!r}")
        self.mode = mode
        self.fold_div = fold_div

    def forward(self, x: Tensor, n_frames: int, cache: ShiftCache | None = None) -> Tensor:
        if cache is None or self.mode != "online":
            if cache is not None and self.mode == "offline":
                raise ConfigError(
                    "the offline (bidirectional) shift needs future frames and cannot stream; "
                    "use mode='online' for streaming"
                )
            return temporal_shift(x, n_frames, self.fold_div, self.mode)
        out, last = online_shift_step(x, n_frames, cache.get(self), self.fold_div)
        cache.put(self, last)
        return out

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, fold_div={self.fold_div}"


class ShiftedConv(nn.Module):
    """``conv(shift(x))``: the first conv of a residual branch with the shift in front of it.

    This is how TSM inserts the shift "in the residual branch": the identity path keeps the
    unshifted frame, so spatial features are preserved while the branch mixes time.
    """

    def __init__(self, conv: nn.Module, mode: ShiftMode = "offline", fold_div: int = 8) -> None:
        super().__init__()
        self.shift = TemporalShift(mode, fold_div)
        self.conv = conv

    def forward(self, x: Tensor, n_frames: int, cache: ShiftCache | None = None) -> Tensor:
        return self.conv(self.shift(x, n_frames, cache))
