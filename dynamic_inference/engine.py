"""Real early exit: run a scheme on a batch of videos, computing only what each video needs.

Paper Approach (a)-(d). :mod:`dynamic_inference.schemes` *simulates*
a scheme from the logits of every decision point. This module *executes* it:

* the network runs stage by stage (depth axis) and group by group (input axis); after each
  decision point the videos that are confident leave the batch (**compaction**: their rows are
  dropped from the activations and from the streaming cache) and only the rest go on, so stages
  and frames a video does not need are never computed;
* with the online (causal) shift, group g continues the videos through the
  :class:`~dynamic_inference.shift.ShiftCache` of groups < g, and the pooled features of earlier
  groups are kept as running sums per exit: nothing is recomputed when a new group arrives;
* :meth:`~EarlyExitEngine.serve` answers a *stream* of clips under a budget of frames per call
  (the same memory for every scheme): videos wait at the entry of each segment (the stages up
  to a live exit) until a full call has gathered from several earlier calls and groups, as
  continuous-batching servers do, and the queues are flushed when the stream ends. The shift
  caches and running feature sums of the videos in flight live in fixed slots, read and written
  by index, so videos join and leave without copying the others;
* ``run(clips, batch=B)`` is ``serve`` with B videos in flight and calls of B groups: the videos
  move in waves and waiting videos take the places of the stopped ones at the next group
  (*continuous batching*), so one step may hold videos at different groups;
* :meth:`~EarlyExitEngine.follow` runs one video whose frames arrive a group at a time (the
  ``stream`` command: a file decoded frame by frame, or a camera) with the same step;
* for one video at a time, :func:`prune_heads` switches off the heads whose measured cost
  exceeds the time they are predicted to save;
* the head of an exit whose points all have threshold 1.0 can never stop a video and is not
  evaluated (:meth:`~dynamic_inference.schemes.Scheme.live_exits`).

Its predictions, stop points and costs equal the simulation on the same clips (a test checks it),
and it measures wall-clock time, split by segment and kind of work (:data:`WORK_KINDS`). FLOPs
are not time: :func:`dynamic_inference.cost.measure_latency` reads the engine's own clock into a
*latency cost table* (milliseconds per frame up to each exit, on the machine at hand) that the
calibration can use in place of the FLOPs table.

On a CPU the engine's small calls (one group of a few frames, the few videos left at a deep
stage) pay eager PyTorch's fixed cost per convolution; run it on
:func:`dynamic_inference.fold.fold_batchnorm`'s copy of the model for speed, and compute the
simulation's logits with that same copy when comparing the two.

Schemes that split the clip into groups need a causal network: the bidirectional (offline) shift
would need frames that have not arrived yet, so such a checkpoint is refused for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from dynamic_inference.errors import CheckpointError, ConfigError
from dynamic_inference.exits import MultiExitNet, State, frame_rows, select_state
from dynamic_inference.schemes import Scheme, Thresholds, confidence, fires, validate_thresholds
from dynamic_inference.shift import ShiftCache


@dataclass
class EngineResult:
    """What the engine decided for N videos, and how long it took."""

    pred: Tensor  # (N,) predicted class
    stop: Tensor  # (N,) index of the decision point that answered
    cost: Tensor  # (N,) cost of that point (exit_cost units, e.g. GFLOPs)
    logits: Tensor  # (N, C) video logits at the stop point
    wall_s: float  # measured wall-clock seconds (time spent waiting for the input excluded)
    decided_s: Tensor | None = None  # (N,) float64 seconds from a video's arrival to its answer
    calls: list[tuple[int, int]] = field(default_factory=list)  # (segment, frames) per call
    seconds: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds per segment

    @property
    def mean_cost(self) -> float:
        return float(self.cost.float().mean())


WORK_KINDS = ("stem", "convs", "shift", "heads", "stop", "gather")
"""The kinds of work :attr:`EngineResult.seconds` splits the engine's time into: the stem, the
stages' layers (convolutions, norms, activations; the shift excluded), the shift cache (read,
shift, write back), the heads (features, running sums, classifier), the stop test (softmax,
rule, recording the answers) and gather/compaction (the input frames of a call, joining and
splitting the queues, dropping the rows of stopped videos, admitting new videos)."""


def shift_mode(model: MultiExitNet) -> str:
    """'off', 'offline' or 'online': the temporal shift the model was built with."""
    from dynamic_inference.shift import TemporalShift

    modes = {m.mode for m in model.modules() if isinstance(m, TemporalShift)}
    if not modes:
        return "off"
    if len(modes) > 1:
        raise ConfigError(f"model mixes shift modes {sorted(modes)}")
    return modes.pop()


class _SlotCache(ShiftCache):
    """The shift caches of the videos in flight, one fixed *slot* per video (serving mode).

    For each online shift layer a tensor ``(M, fold, H, W)`` holds the fold of the last frame
    each of the M slots processed (zeros for a video that has not reached the layer yet). A
    call on the videos in slots ``slots`` reads and writes through :meth:`view`, so videos at
    different groups and stages share one store and nothing is concatenated or compacted when
    videos join or leave. The time from each layer's read to its write (the gather, the shift
    itself and the scatter) is added to ``seconds``: the *shift cache* share of the profile.
    """

    def __init__(self, slots: int) -> None:
        super().__init__()
        self.slots = slots
        self.seconds = 0.0

    def view(self, slots: Tensor) -> ShiftCache:
        return _SlotView(self, slots)

    def clear(self, slots: Tensor) -> None:
        """New videos in ``slots``: no past frame."""
        for last in self._last.values():
            last.index_fill_(0, slots.to(last.device), 0.0)


class _SlotView(ShiftCache):
    """The rows ``slots`` of a :class:`_SlotCache`, with the ShiftCache interface."""

    def __init__(self, store: _SlotCache, slots: Tensor) -> None:
        super().__init__()
        self.store, self.index, self._t0 = store, slots, 0.0

    def get(self, layer: torch.nn.Module) -> Tensor | None:
        self._t0 = time.perf_counter()
        last = self.store._last.get(id(layer))
        return None if last is None else last.index_select(0, self.index.to(last.device))

    def put(self, layer: torch.nn.Module, last: Tensor) -> None:
        stored = self.store._last.get(id(layer))
        if stored is None:  # the first call that reaches this layer
            stored = last.new_zeros(self.store.slots, *last.shape[1:])
            self.store._last[id(layer)] = stored
        stored.index_copy_(0, self.index.to(stored.device), last)
        self.store.seconds += time.perf_counter() - self._t0


@dataclass
class _Rows:
    """Videos waiting at (or leaving) one segment, each at its own group: one queue entry."""

    video: Tensor  # (n,) index of each video in the stream
    slot: Tensor  # (n,) its slot in the stores of the videos in flight
    group: Tensor  # (n,) the group of frames it is at (0-based)
    state: State | None  # (n*T/G, ...) activations entering the segment; None at segment 0

    def __len__(self) -> int:
        return int(self.video.numel())


def _cat_rows(rows: list[_Rows]) -> _Rows:
    if len(rows) == 1:
        return rows[0]
    states = [r.state for r in rows]
    if states[0] is None:
        state: State | None = None
    elif isinstance(states[0], Tensor):
        state = torch.cat(states)  # type: ignore[arg-type]
    else:  # multi-scale state: a list of tensors per entry
        state = [torch.cat(parts) for parts in zip(*states)]  # type: ignore[arg-type]
    return _Rows(torch.cat([r.video for r in rows]), torch.cat([r.slot for r in rows]),
                 torch.cat([r.group for r in rows]), state)


def _split_rows(rows: _Rows, n: int, per_group: int) -> tuple[_Rows, _Rows | None]:
    """The first ``n`` videos of ``rows`` and the rest (views: nothing is copied)."""
    if len(rows) <= n:
        return rows, None

    def part(s: slice, frames: slice) -> _Rows:
        state = rows.state
        if state is not None:
            state = state[frames] if isinstance(state, Tensor) else [x[frames] for x in state]
        return _Rows(rows.video[s], rows.slot[s], rows.group[s], state)

    cut = n * per_group
    return part(slice(0, n), slice(0, cut)), part(slice(n, None), slice(cut, None))


@dataclass
class _Flight:
    """The stores of the videos in flight (by slot) and the answers so far (by stream index)."""

    clips: list[Tensor | None]  # (T, 3, H, W) the clip of the video in each slot (not copied)
    device: torch.device  # where the clips are
    cache: _SlotCache | None  # the shift caches (None: one group per video, nothing to carry)
    sums: list[Tensor | None]  # per exit: (M, D_k) sum of pooled features of the groups seen
    pred: list[int] = field(default_factory=list)
    stop: list[int] = field(default_factory=list)
    logits: list[Tensor | None] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # perf_counter when the clip arrived
    decided: list[float] = field(default_factory=list)  # seconds from arrival to the answer
    free: list[int] = field(default_factory=list)  # free slots
    calls: list[tuple[int, int]] = field(default_factory=list)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    stop_at: Tensor | None = None  # (N,) forced stop point per video (benchmarks), else None
    latest: Tensor | None = None  # (n, C) the video logits of the last call (for streaming)

    def add(self, kind: str, segment: int, seconds: float) -> None:
        self.seconds[kind][segment] += seconds

    def enter(self, clip: Tensor) -> tuple[int, int]:
        """A new video with ``clip`` takes a free slot: its index in the stream and its slot."""
        slot = self.free.pop()
        self.clips[slot] = clip
        self.pred.append(-1)
        self.stop.append(-1)
        self.logits.append(None)
        self.arrived.append(time.perf_counter())
        self.decided.append(float("nan"))
        return len(self.pred) - 1, slot


@dataclass
class StreamStep:
    """What :meth:`EarlyExitEngine.follow` knows after one more group of a video's frames."""

    group: int  # the group just processed (0-based)
    point: int  # the decision point reached last (index into the scheme's points)
    logits: Tensor  # (C,) video logits at that point
    stopped: bool  # True: the rule fired (or it was the last point); no more frames are needed


class EarlyExitEngine:
    """Executes ``scheme`` with ``thresholds`` on a multi-exit model.

    ``exit_cost``: cumulative per-frame cost up to each exit (see :mod:`dynamic_inference.flops`),
    only used to report the cost of each stop. The heads of exits that cannot fire (all their
    points at threshold 1.0: :meth:`Scheme.live_exits`) are not evaluated; pass the costs
    without them (:func:`dynamic_inference.cost.exit_costs` with the thresholds).
    Clips given to :meth:`run` and :meth:`serve` must already be in the processing order
    (``clips[:, order]``), as for the simulation.

    The network is cut into *segments*: segment s runs the stages after the previous live exit
    up to live exit s and ends with that exit's head and the stop test (segment 0 starts with
    the stem). :meth:`_step` runs one segment on a set of videos; it is the engine's only stage
    loop, and :meth:`serve` (with :meth:`run` on top) only decides which videos it gets.
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
        k_all = model.num_exits
        self.per_group = num_frames // scheme.groups
        self.exits = list(range(k_all)) if scheme.depth else [k_all - 1]  # exit of each point
        # segments: (index j in self.exits, exit k, the stages it runs), one per live exit
        self.segments: list[tuple[int, int, range]] = []
        first = 0
        for j, k in enumerate(self.exits):
            if self.live[k]:
                self.segments.append((j, k, range(first, k + 1)))
                first = k + 1

    def _stops(self, points: Tensor, logits: Tensor) -> Tensor:
        """(n,) bool: which running videos stop, given each one's decision point ``points`` (n,)
        and its video logits (n, C): the schemes' rule (:func:`~dynamic_inference.schemes.fires`
        on the float64 softmax) with the thresholds validated once in ``__init__``; the last
        point always answers."""
        conf, _ = confidence(logits)
        t = self.thresholds.to(logits.device)[points]  # (n,) float64
        return fires(conf, t) | (points == len(self.points) - 1)

    def _step(self, s: int, rows: _Rows, fl: _Flight) -> _Rows | None:
        """Run segment ``s`` on ``rows`` (videos at any groups), answer the videos that stop at
        its exit, and return the others: at segment s + 1 of the same group, or (after the last
        segment) at segment 0 of their next group."""
        model, pg, n = self.model, self.per_group, len(rows)
        j, k, stages = self.segments[s]
        t0 = time.perf_counter()
        fl.calls.append((s, n * pg))
        state = rows.state
        if s == 0:  # the frames of each video's current group, from its clip
            parts = [fl.clips[i][g * pg : (g + 1) * pg]  # type: ignore[index]
                     for i, g in zip(rows.slot.tolist(), rows.group.tolist())]
            x = parts[0] if len(parts) == 1 else torch.cat(parts)  # (n*T/G, 3, H, W)
            t1 = time.perf_counter()
            fl.add("gather", s, t1 - t0)
            state = model.stem(x)  # (n*T/G, C, H, W)
            t0 = time.perf_counter()
            fl.add("stem", s, t0 - t1)
        cache = None if fl.cache is None else fl.cache.view(rows.slot)
        shift0 = 0.0 if fl.cache is None else fl.cache.seconds
        for stage in stages:
            state = model.stage(stage, state, pg, cache)
        t1 = time.perf_counter()
        shift = 0.0 if fl.cache is None else fl.cache.seconds - shift0
        fl.add("shift", s, shift)
        fl.add("convs", s, t1 - t0 - shift)
        head = model.heads[k]
        f = head.features(state).view(n, pg, -1).sum(1)  # (n, D_k)
        if fl.cache is not None:  # several groups: add the sum of the groups seen before
            if fl.sums[k] is None:
                fl.sums[k] = f.new_zeros(len(fl.clips), f.shape[1])
            f = fl.sums[k].index_select(0, rows.slot) + f  # type: ignore[union-attr]
            fl.sums[k].index_copy_(0, rows.slot, f)  # type: ignore[union-attr]
        seen = ((rows.group + 1) * pg)[:, None]  # (n, 1) frames seen after this group
        logits = head.classifier(f / seen)  # (n, C)
        t0 = time.perf_counter()
        fl.add("heads", s, t0 - t1)
        points = rows.group * len(self.exits) + j  # (n,) decision point of each video
        done = self._stops(points, logits)
        if fl.stop_at is not None:  # forced stops: the rule above was paid for, not followed
            done = fl.stop_at.to(points.device)[rows.video] == points
        fl.latest = logits
        stopped = bool(done.any())
        if stopped:
            now = time.perf_counter()
            answer = logits[done].float().cpu()
            for i, v, p, lg, slot in zip(
                answer.argmax(1).tolist(), rows.video[done].tolist(), points[done].tolist(),
                answer, rows.slot[done].tolist(),
            ):
                fl.pred[v], fl.stop[v], fl.logits[v] = i, p, lg
                fl.decided[v] = now - fl.arrived[v]
                fl.free.append(slot)
                fl.clips[slot] = None
        t1 = time.perf_counter()
        fl.add("stop", s, t1 - t0)
        last = s == len(self.segments) - 1
        if not stopped:  # every row goes on, its state as it is (nothing to compact)
            return _Rows(rows.video, rows.slot, rows.group + int(last), None if last else state)
        if bool(done.all()):
            return None
        keep = (~done).nonzero().squeeze(1)
        out = _Rows(
            rows.video[keep], rows.slot[keep], rows.group[keep] + int(last),
            None if last else select_state(state, frame_rows(keep, pg)),
        )
        fl.add("gather", s, time.perf_counter() - t1)
        return out

    @torch.inference_mode()
    def serve(
        self,
        clips: Iterable[Tensor],
        frames_per_call: int,
        max_videos: int | None = None,
        stop_at: Tensor | None = None,
    ) -> EngineResult:
        """Serving mode: answer a stream of clips, each ``(T, 3, H, W)`` in processing order.

        ``frames_per_call``: no call of a segment gets more frames than this (the memory budget,
        equal for every scheme: a call holds ``frames_per_call // (T/G)`` videos of one group
        each). ``max_videos``: videos in flight at once (default: the number of segments x the
        videos of one call). Videos wait at the entry of a segment until a full call has
        gathered, coming from several earlier calls and groups, as continuous-batching servers
        do; the deepest full queue runs first, and new clips are taken from the stream while
        there is room and the first segment's queue is not full. With the default
        ``max_videos`` some queue is always full while the stream lasts (S queues of fewer than
        a call's videos hold fewer videos than are in flight), so only the last calls, after
        the stream has ended, are smaller than the budget (the *flush*: deepest queue first).
        With ``max_videos`` = the videos of one call, the videos move in waves, one group per
        wave, and the stopped ones are replaced at the next wave (what :meth:`run` does).

        Each video is computed once per group and segment and each call is the same
        computation per video, so predictions, stops and costs equal the simulation, whatever
        the order of the calls. Time spent waiting for the next clip of ``clips`` is not part
        of ``wall_s``; ``decided_s`` counts from the moment a clip arrived.

        ``stop_at``: ``(N,)`` decision point at which each video of the stream must stop, for
        benchmarks that time a given pattern of stops (the rule still runs, so its time is paid);
        every point it names must be at a live exit (one whose head runs).
        """
        if stop_at is not None:
            live = torch.tensor([self.live[p.exit - 1] for p in self.points])
            stop_at = torch.as_tensor(stop_at, dtype=torch.long)
            if stop_at.dim() != 1 or not bool(((stop_at >= 0) & (stop_at < len(live))).all()):
                raise ConfigError(f"stop_at must be (N,) point indices in 0..{len(live) - 1}")
            if not bool(live[stop_at].all()):
                raise ConfigError("stop_at names a point whose exit head does not run: give "
                                  "that exit a threshold < 1.0 (1.0 switches its head off)")
        per_call = _positive(frames_per_call, "frames_per_call") // self.per_group
        if per_call < 1:
            raise ConfigError(
                f"frames_per_call={frames_per_call} is less than one group of one video "
                f"({self.per_group} frames for the {self.scheme.name} scheme)"
            )
        n_seg = len(self.segments)
        slots = n_seg * per_call if max_videos is None else _positive(max_videos, "max_videos")
        queues: list[list[_Rows]] = [[] for _ in range(n_seg)]
        queued = [0] * n_seg
        stream = iter(clips)
        fl: _Flight | None = None
        t_in = 0.0  # seconds spent waiting for the stream
        t_start = time.perf_counter()
        in_flight, ended = 0, False
        while True:
            full = [s for s in range(n_seg) if queued[s] >= per_call]
            if not full and not ended and in_flight < slots:  # admit new clips
                t0 = time.perf_counter()
                taken = self._admit(stream, min(slots - in_flight, per_call - queued[0]), fl,
                                    slots)
                t1 = time.perf_counter()
                rows, fl, waited = taken
                if fl.stop_at is None and stop_at is not None:
                    fl.stop_at = torch.as_tensor(stop_at, dtype=torch.long)
                t_in += waited
                if rows is None:
                    ended = True
                else:
                    queues[0].append(rows)
                    queued[0] += len(rows)
                    in_flight += len(rows)
                    fl.add("gather", 0, t1 - t0 - waited)
                continue
            busy = full or [s for s in range(n_seg) if queued[s]]
            if not busy:
                break
            s = busy[-1]  # the deepest: finish videos before starting new ones
            t0 = time.perf_counter()
            rows, rest = _split_rows(_cat_rows(queues[s]), per_call, self.per_group)
            queues[s] = [] if rest is None else [rest]
            queued[s] = 0 if rest is None else len(rest)
            assert fl is not None
            fl.add("gather", s, time.perf_counter() - t0)
            out = self._step(s, rows, fl)
            in_flight -= len(rows) - (0 if out is None else len(out))
            if out is not None:
                nxt = (s + 1) % n_seg
                queues[nxt].append(out)
                queued[nxt] += len(out)
        wall = time.perf_counter() - t_start - t_in
        if fl is None:
            raise ConfigError("the stream of clips is empty")
        stop = torch.tensor(fl.stop, dtype=torch.long)
        return EngineResult(
            pred=torch.tensor(fl.pred, dtype=torch.long),
            stop=stop,
            cost=self.point_costs[stop].to(torch.float64),
            logits=torch.stack(fl.logits),  # type: ignore[arg-type]
            wall_s=wall,
            decided_s=torch.tensor(fl.decided, dtype=torch.float64),
            calls=fl.calls,
            seconds=fl.seconds,
        )

    def _admit(
        self, stream: Iterator[Tensor], n: int, fl: _Flight | None, slots: int
    ) -> tuple[_Rows | None, _Flight, float]:
        """Take up to ``n`` clips from ``stream`` into free slots: their rows at segment 0 (None
        when the stream has ended), the flight (created at the first clip) and the seconds
        spent waiting for the stream."""
        videos, free, waited = [], [], 0.0
        for _ in range(n):
            t0 = time.perf_counter()
            clip = next(stream, None)
            waited += time.perf_counter() - t0
            if clip is None:
                break
            if clip.dim() != 4 or clip.shape[0] != self.num_frames:
                raise ConfigError(
                    f"expected clips ({self.num_frames}, 3, H, W), got {tuple(clip.shape)}"
                )
            if fl is None:
                fl = self._flight(clip, slots)
            video, slot = fl.enter(clip)
            videos.append(video)
            free.append(slot)
        if fl is None:
            raise ConfigError("the stream of clips is empty")
        if not videos:
            return None, fl, waited
        dev = fl.device
        slot_t = torch.tensor(free, dtype=torch.long, device=dev)
        if fl.cache is not None:
            fl.cache.clear(slot_t)
        for s in fl.sums:
            if s is not None:
                s.index_fill_(0, slot_t, 0.0)
        rows = _Rows(torch.tensor(videos, dtype=torch.long, device=dev), slot_t,
                     torch.zeros(len(videos), dtype=torch.long, device=dev), None)
        return rows, fl, waited

    def _flight(self, clip: Tensor, slots: int) -> _Flight:
        n_seg = len(self.segments)
        return _Flight(
            clips=[None] * slots,
            device=clip.device,
            cache=_SlotCache(slots) if self.scheme.groups > 1 else None,
            sums=[None] * self.model.num_exits,
            free=list(range(slots - 1, -1, -1)),
            seconds={kind: [0.0] * n_seg for kind in WORK_KINDS},
        )

    def run(
        self, clips: Tensor, batch: int | None = None, stop_at: Tensor | None = None
    ) -> EngineResult:
        """``clips``: ``(N, T, 3, H, W)`` in processing order.

        ``batch``: at most this many videos run at once (default: all N). When videos stop, the
        next waiting ones take their places at the start of the next group (*continuous
        batching*), so the batch stays full instead of shrinking to a few videos: on a CPU the
        deep stages run several times slower per frame in calls of a few frames. This is
        :meth:`serve` with ``batch`` videos in flight and calls of ``batch`` groups of frames
        (``stop_at``: forced stops, as for :meth:`serve`).
        """
        if clips.dim() != 5 or clips.shape[1] != self.num_frames:
            raise ConfigError(
                f"expected clips (N, {self.num_frames}, 3, H, W), got {tuple(clips.shape)}"
            )
        n = clips.shape[0]
        batch = n if batch is None else _positive(batch, "batch")
        return self.serve(iter(clips), frames_per_call=batch * self.per_group, max_videos=batch,
                          stop_at=stop_at)

    @torch.inference_mode()
    def follow(self, groups: Iterable[Tensor]) -> Iterator[StreamStep]:
        """One video whose frames arrive a group at a time (a camera, a file being decoded).

        ``groups``: the frames of each group in processing order, ``(T/G, 3, H, W)`` each, as
        they become available. Each group runs through the segments of the network with the
        same step as :meth:`serve` (continuing the video's shift cache and running feature sums),
        and a :class:`StreamStep` is yielded after it; iteration ends when the rule fires (or at
        the last point), so the caller stops reading frames.
        """
        fl: _Flight | None = None
        clip = torch.empty(0)
        for g, frames in enumerate(groups):
            if g >= self.scheme.groups or frames.shape[:1] != (self.per_group,):
                raise ConfigError(
                    f"expected at most {self.scheme.groups} groups of ({self.per_group}, 3, H, "
                    f"W) frames, got group {g + 1} of shape {tuple(frames.shape)}"
                )
            if fl is None:  # the clip fills up as the groups arrive
                clip = frames.new_zeros(self.num_frames, *frames.shape[1:])
                fl = self._flight(clip, 1)
                fl.enter(clip)
            clip[g * self.per_group : (g + 1) * self.per_group] = frames
            dev = clip.device
            rows: _Rows | None = _Rows(torch.zeros(1, dtype=torch.long, device=dev),
                                       torch.zeros(1, dtype=torch.long, device=dev),
                                       torch.full((1,), g, dtype=torch.long, device=dev), None)
            for s in range(len(self.segments)):
                assert rows is not None
                rows = self._step(s, rows, fl)
                if rows is None:
                    break
            assert fl.latest is not None
            point = fl.stop[0] if rows is None else (g + 1) * len(self.exits) - 1
            yield StreamStep(g, point, fl.latest[0].float().cpu(), rows is None)
            if rows is None:
                return


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return value


def prune_heads(
    scheme: Scheme,
    thresholds: Thresholds,
    point_logits: Tensor,
    stage_ms: Sequence[float],
    head_ms: Sequence[float],
    num_frames: int,
) -> tuple[Tensor, float]:
    """Switch off the heads that cost more time than they save: thresholds and predicted ms.

    For one video at a time (batch 1) a head is a call of its own, and on a CPU its fixed costs
    (a few small ops, the stop test, reading the answer) may exceed the compute it saves.
    ``stage_ms[k]``: measured milliseconds of stage k (the stem in stage 0) on one group of
    one video; ``head_ms[k]``: of head k with its stop test. With the live heads L, the time to
    stop at a point is the scheme's cost rule (:meth:`Scheme.point_costs`) applied to the
    per-frame table ``(sum of stage_ms[:k+1] + head_ms of the live heads <= k) / (T/G)``; the
    predicted ms per video is its mean over the stops the thresholds give on ``point_logits``
    ``(V, P, C)`` (a calibration split, e.g. val). Greedily, the live exit (not the last) whose
    points, set to threshold 1.0, lower the prediction most is switched off, until none does.
    Videos that would have stopped at a switched-off exit go on: the result equals the
    simulation with the returned thresholds.
    """
    k_all = len(stage_ms)
    points = scheme.points(k_all)
    thr = validate_thresholds(thresholds, len(points))
    per_group = num_frames // scheme.groups

    def predicted(t: Tensor) -> float:
        live = scheme.live_exits(t, k_all)
        per_frame, total = [], 0.0
        for k in range(k_all):
            total += stage_ms[k] + (head_ms[k] if live[k] else 0.0)
            per_frame.append(total / per_group)
        stop = scheme.decide(point_logits, t)
        return float(scheme.point_costs(per_frame, num_frames)[stop].mean())

    best = predicted(thr)
    while True:
        trials = []
        for k, live in enumerate(scheme.live_exits(thr, k_all)[:-1]):
            if live:
                t = thr.clone()
                t[[i for i, p in enumerate(points[:-1]) if p.exit == k + 1]] = 1.0
                trials.append((predicted(t), k, t))
        if not trials or min(trials, key=lambda x: x[0])[0] >= best:
            return thr, best
        best, _, thr = min(trials, key=lambda x: x[0])
