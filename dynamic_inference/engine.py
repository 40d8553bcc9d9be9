"""Real early exit: run a scheme on a batch of videos, computing only what each video needs.

Paper Approach (a)-(d); DESIGN.md sections 1 and 6. :mod:`dynamic_inference.schemes` *simulates*
a scheme from the logits of every decision point. This module *executes* it:

* the network runs stage by stage (depth axis) and group by group (input axis); after each
  decision point the videos that are confident leave the batch (**compaction**: their rows are
  dropped from the activations and from the streaming cache) and only the rest go on, so stages
  and frames a video does not need are never computed;
* with the online (causal) shift, group g continues the videos through the
  :class:`~dynamic_inference.shift.ShiftCache` of groups < g, and the pooled features of earlier
  groups are kept as running sums per exit: nothing is recomputed when a new group arrives;
* with ``run(clips, batch=B)`` at most B videos run at once and waiting videos take the places
  of the stopped ones at the next group (*continuous batching*), so one step may hold videos at
  different groups, each with its own decision points;
* the head of an exit whose points all have threshold 1.0 can never stop a video and is not
  evaluated (:meth:`~dynamic_inference.schemes.Scheme.live_exits`).

Its predictions, stop points and costs equal the simulation on the same clips (a test checks it),
and it measures wall-clock time. FLOPs are not time, so :func:`measure_latency` also measures a
*latency cost table* (milliseconds per frame up to each exit, on the machine at hand) that the
calibration can use in place of the FLOPs table.

Schemes that split the clip into groups need a causal network: the bidirectional (offline) shift
would need frames that have not arrived yet, so such a checkpoint is refused for them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from dynamic_inference.errors import CheckpointError, ConfigError
from dynamic_inference.exits import MultiExitNet, frame_rows, select_state
from dynamic_inference.schemes import Scheme, Thresholds, confidence, validate_thresholds
from dynamic_inference.shift import ShiftCache


@dataclass
class EngineResult:
    """What the engine decided for N videos, and how long it took."""

    pred: Tensor  # (N,) predicted class
    stop: Tensor  # (N,) index of the decision point that answered
    cost: Tensor  # (N,) cost of that point (exit_cost units, e.g. GFLOPs)
    logits: Tensor  # (N, C) video logits at the stop point
    wall_s: float  # measured wall-clock seconds

    @property
    def mean_cost(self) -> float:
        return float(self.cost.float().mean())


def shift_mode(model: MultiExitNet) -> str:
    """'off', 'offline' or 'online': the temporal shift the model was built with."""
    from dynamic_inference.shift import TemporalShift

    modes = {m.mode for m in model.modules() if isinstance(m, TemporalShift)}
    if not modes:
        return "off"
    if len(modes) > 1:
        raise ConfigError(f"model mixes shift modes {sorted(modes)}")
    return modes.pop()


class EarlyExitEngine:
    """Executes ``scheme`` with ``thresholds`` on a multi-exit model.

    ``exit_cost``: cumulative per-frame cost up to each exit (see :mod:`dynamic_inference.flops`),
    only used to report the cost of each stop. The heads of exits that cannot fire (all their
    points at threshold 1.0: :meth:`Scheme.live_exits`) are not evaluated; pass the costs
    without them (:func:`dynamic_inference.evaluate.scheme_exit_gflops` with the thresholds).
    ``clips`` given to :meth:`run` must already be in the processing order
    (``clips[:, order]``), as for the simulation.
    """

    def __init__(
        self,
        model: MultiExitNet,
        scheme: Scheme,
        thresholds: Thresholds,
        exit_cost: Sequence[float],
        num_frames: int,
    ) -> None:
        self.model = model.eval()
        self.scheme = scheme
        self.num_frames = num_frames
        self.points = scheme.points(model.num_exits)
        self.thresholds = validate_thresholds(thresholds, len(self.points))
        self.point_costs = scheme.point_costs(exit_cost, num_frames)  # (P,)
        # heads whose points all have threshold 1.0 can never stop a video: they are skipped
        self.live = scheme.live_exits(self.thresholds, model.num_exits)
        if scheme.groups > 1 and shift_mode(model) == "offline":
            raise CheckpointError(
                f"the {scheme.name} scheme feeds frames group by group and needs a causal "
                "model; this checkpoint uses the offline (bidirectional) shift: use an "
                "online-shift or no-shift checkpoint"
            )

    def _stops(self, points: Tensor, logits: Tensor, videos: Tensor) -> Tensor:
        """(n,) bool: which running videos stop, given each one's decision point ``points`` (n,)
        and its video logits (n, C); ``videos`` (n,): their indices in the clips given to
        :meth:`run` (unused here; for subclasses that decide per video).

        The rule of :meth:`Scheme.should_stop` (float64 softmax, a threshold of 1.0 never fires,
        the last point always answers) with the thresholds validated once in ``__init__``.
        """
        conf, _ = confidence(logits)
        t = self.thresholds.to(logits.device)[points]  # (n,) float64
        return ((conf >= t) & (t < 1.0)) | (points == len(self.points) - 1)

    @torch.inference_mode()
    def run(self, clips: Tensor, batch: int | None = None) -> EngineResult:
        """``clips``: ``(N, T, 3, H, W)`` in processing order.

        ``batch``: at most this many videos run at once (default: all N). When videos stop, the
        next waiting ones take their places at the start of the next group (*continuous
        batching*), so the batch stays full instead of shrinking to a few videos: on a CPU the
        deep stages run several times slower per frame in calls of a few frames.
        """
        if clips.dim() != 5 or clips.shape[1] != self.num_frames:
            raise ConfigError(
                f"expected clips (N, {self.num_frames}, 3, H, W), got {tuple(clips.shape)}"
            )
        n = clips.shape[0]
        batch = n if batch is None else batch
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigError(f"batch must be a positive int, got {batch!r}")
        t0 = time.perf_counter()
        model, dev = self.model, clips.device
        groups, k_all = self.scheme.groups, model.num_exits
        per_group = self.num_frames // groups
        exits = list(range(k_all)) if self.scheme.depth else [k_all - 1]
        offsets = torch.arange(per_group, device=dev)
        flat = clips.reshape(n * self.num_frames, *clips.shape[2:])  # (N*T, 3, H, W)
        pred = torch.full((n,), -1, dtype=torch.long)
        stop = torch.full((n,), -1, dtype=torch.long)
        out_logits = torch.zeros(n, model.num_classes)
        # one row per running video: its index in ``clips`` and the group it is at
        active = torch.zeros(0, dtype=torch.long, device=dev)
        group = torch.zeros(0, dtype=torch.long, device=dev)
        waiting = 0  # videos clips[waiting:] have not started yet
        cache = ShiftCache() if groups > 1 else None
        # running sums of pooled features of the groups seen so far, per exit: (n_active, D_k)
        sums: list[Tensor | None] = [None] * k_all
        while waiting < n or len(active) > 0:
            joining = min(batch - len(active), n - waiting)
            if joining > 0:  # new videos start at group 0 with an empty past
                active = torch.cat([active, torch.arange(waiting, waiting + joining, device=dev)])
                group = torch.cat([group, group.new_zeros(joining)])
                sums = [None if s is None else torch.cat([s, s.new_zeros(joining, s.shape[1])])
                        for s in sums]
                if cache is not None:
                    cache.add_videos(joining)
                waiting += joining
            # rows of the frames of each video's current group in clips viewed as (N*T, 3, H, W)
            rows = (active * self.num_frames + group * per_group)[:, None] + offsets  # (n, T/G)
            x = flat.index_select(0, rows.reshape(-1))  # (n*T/G, 3, H, W)
            state = model.stem(x)  # (n*T/G, C, H, W)
            seen = ((group + 1) * per_group)[:, None]  # (n, 1) frames seen after this group
            for j, k in enumerate(exits):
                for stage in range(exits[j - 1] + 1 if j else 0, k + 1):
                    state = model.stage(stage, state, per_group, cache)
                if not self.live[k]:  # a head that cannot fire is not evaluated
                    continue
                head = model.heads[k]
                f = head.features(state).view(len(active), per_group, -1).sum(1)  # (n, D_k)
                sums[k] = f if sums[k] is None else sums[k] + f
                logits = head.classifier(sums[k] / seen)  # (n, C)
                points = group * len(exits) + j  # (n,) decision point of each video
                done = self._stops(points, logits, active)
                if done.any():
                    idx = active[done].cpu()
                    pred[idx] = logits[done].argmax(1).cpu()
                    stop[idx] = points[done].cpu()
                    out_logits[idx] = logits[done].float().cpu()
                    keep = (~done).nonzero().squeeze(1)
                    active, group, seen = active[keep], group[keep], seen[keep]
                    sums = [s.index_select(0, keep) if s is not None else None for s in sums]
                    if cache is not None:
                        cache = cache.select(keep)
                    if len(active) == 0:
                        break
                    state = select_state(state, frame_rows(keep, per_group))
            group = group + 1  # the videos still running go on to their next group
        wall = time.perf_counter() - t0
        cost = self.point_costs[stop].to(torch.float64)
        return EngineResult(pred, stop, cost, out_logits, wall)


@torch.inference_mode()
def measure_latency(
    model: MultiExitNet,
    num_frames: int,
    size: int,
    batch: int = 8,
    repeats: int = 5,
    device: str = "cpu",
    heads: str = "all",
) -> list[float]:
    """Measured cumulative milliseconds per frame up to each exit (head included).

    Times stem + stages + the head of each checkpoint on ``batch`` random clips of ``num_frames``
    frames, median of ``repeats``; the time of the cheap heads of earlier exits is included in
    later entries, as the depth scheme evaluates them (``heads="all"``; ``"last"``: only the last
    head runs, as in full inference and the input axis). Use it as ``exit_cost`` to calibrate for
    a time budget instead of a FLOPs budget (``evaluate(..., budget_ms=...)``). Call it with
    ``num_frames`` = the frames of one group: the engine feeds the network group by group.
    """
    if heads not in ("all", "last"):
        raise ConfigError(f"heads must be 'all' or 'last', got {heads!r}")
    model = model.eval().to(device)
    x = torch.randn(batch * num_frames, 3, size, size, device=device)
    k_all = model.num_exits
    samples: list[list[float]] = [[] for _ in range(k_all)]
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        state = model.stem(x)
        for k in range(k_all):
            state = model.stage(k, state, num_frames, None)
            if heads == "all" or k == k_all - 1:
                model.heads[k](state)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if r > 0:  # the first round warms up
                samples[k].append(time.perf_counter() - t0)
    frames = batch * num_frames
    return [1e3 * statistics.median(s) / frames for s in samples]


def cli_stream(args: argparse.Namespace) -> int:
    """``python -m dynamic_inference stream VIDEO --checkpoint C``: online inference."""
    from dynamic_inference.evaluate import stream_video

    stream_video(args.video, args.checkpoint, args.group, args.threshold, args.frames,
                 args.order)
    return 0
