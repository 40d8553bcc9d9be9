"""The real early-exit engine must agree with the simulation from all-points logits (issue 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dynamic_inference.cost import measure_latency
from dynamic_inference.engine import EarlyExitEngine, shift_mode
from dynamic_inference.errors import CheckpointError, ConfigError
from dynamic_inference.exits import ExitHead, MultiExitNet
from dynamic_inference.schemes import make_scheme, simulate
from dynamic_inference.shift import ShiftedConv


class Stage(nn.Module):
    def __init__(self, cin: int, cout: int, mode: str):
        super().__init__()
        self.down = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.branch = ShiftedConv(nn.Conv2d(cout, cout, 3, padding=1), mode)

    def forward(self, x, n_frames, cache=None):
        x = torch.relu(self.down(x))
        return x + torch.relu(self.branch(x, n_frames, cache))


def pooled(c: int) -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


class ToyNet(MultiExitNet):
    """Three stages, three exits: just enough network to test the engine."""

    def __init__(self, mode: str = "online", classes: int = 5):
        super().__init__()
        self.exit_names = ["e1", "e2", "e3"]
        self.num_classes = classes
        self.stem_layers = nn.Conv2d(3, 8, 3, padding=1)
        self.stages = nn.ModuleList([Stage(8, 8, mode), Stage(8, 16, mode), Stage(16, 16, mode)])
        self.heads = nn.ModuleList(ExitHead(pooled(c), c, classes) for c in (8, 16, 16))


def _frame_logits(model, clips):
    with torch.no_grad():
        return model(clips).stacked_logits()


# hand-computed cost per video of each decision point, T = 8 frames, G = 4 groups (2 frames
# each) for input / unified: stopping at group g, exit k costs (g-1)*2*c[K] + 2*c[k]
EXIT_COST = {3: [1.0, 2.5, 4.0], 4: [1.0, 2.0, 3.5, 5.0]}
HAND_COSTS = {
    3: {"full": [32], "depth": [8, 20, 32], "input": [8, 16, 24, 32],
        "unified": [2, 5, 8, 10, 13, 16, 18, 21, 24, 26, 29, 32]},
    4: {"full": [40], "depth": [8, 16, 28, 40], "input": [10, 20, 30, 40],
        "unified": [2, 4, 7, 10, 12, 14, 17, 20, 22, 24, 27, 30, 32, 34, 37, 40]},
}


def reference_stops(frame_logits, groups: int, depth: bool, thresholds: list[float]):
    """A second, deliberately plain implementation of the schemes' rule, video by video: visit
    (g=1: k=1..K), (g=2: ...), ...; the video logits at (g, k) are the mean of exit k's frame
    logits over the first g groups; stop at the first point with top-1 softmax >= its threshold
    (a threshold of 1.0 never fires), the last point always answers. Returns (stop, pred)."""
    v_all, k_all, t, _ = frame_logits.shape
    per_group = t // groups
    points = [(g, k) for g in range(1, groups + 1)
              for k in (range(1, k_all + 1) if depth else [k_all])]
    stops, preds = [], []
    for v in range(v_all):
        for i, (g, k) in enumerate(points):
            logits = frame_logits[v, k - 1, : g * per_group].double().mean(0)
            p = torch.softmax(logits, 0)
            last = i == len(points) - 1
            if last or (p.max() >= thresholds[i] and thresholds[i] < 1.0):
                stops.append(i)
                preds.append(int(p.argmax()))
                break
    return torch.tensor(stops), torch.tensor(preds)


def spread_thresholds(conf, margin: float = 1e-6) -> list[float]:
    """Thresholds ``(P,)`` under which the videos of ``conf`` ``(V, P)`` (top-1 probability at
    each point) stop at *every* point: at each point about an even share of the videos still
    running stop. Each threshold sits half-way in a gap of at least ``margin`` between two
    confidences, so float rounding in the engine cannot move a video across it."""
    v_all, p_all = conf.shape
    running = torch.ones(v_all, dtype=torch.bool)
    thresholds = []
    for p in range(p_all - 1):
        c = conf[running, p].sort(descending=True).values
        later = p_all - 1 - p  # points after this one, each needs a video
        want = max(1, len(c) // (later + 1))
        cuts = [j for j in range(1, len(c) - later + 1) if c[j - 1] - c[j] > margin]
        assert cuts, f"no gap to cut at point {p}: {c.tolist()}"
        j = min(cuts, key=lambda j: abs(j - want))
        thr = float(c[j - 1] + c[j]) / 2
        thresholds.append(thr)
        running &= ~(conf[:, p] >= thr)
    return thresholds + [0.5]  # the last point's threshold is ignored


def _point_confidence(frame_logits, groups: int, depth: bool):
    """(V, P) top-1 softmax of every decision point, computed plainly (as reference_stops)."""
    v_all, k_all, t, _ = frame_logits.shape
    per_group = t // groups
    cols = [torch.softmax(frame_logits[:, k - 1, : g * per_group].double().mean(1), -1).amax(-1)
            for g in range(1, groups + 1) for k in (range(1, k_all + 1) if depth else [k_all])]
    return torch.stack(cols, 1)


def _spread(model: MultiExitNet, size: int, spread: float = 3.0) -> MultiExitNet:
    """Rescale every exit classifier of a random-weight model so that its per-frame logits
    differ by about ``spread`` (random nets average their inputs away: without this all videos
    have nearly the same confidence and stop at the same point)."""
    model.eval()
    torch.manual_seed(123)
    probe = torch.randn(16, 8, 3, size, size)
    with torch.no_grad():
        frames = _frame_logits(model, probe).transpose(0, 1).flatten(1, 2)  # (K, V*T, C)
        for k, head in enumerate(model.heads):
            mean = frames[k].mean(0)  # (C,)
            scale = spread / float((frames[k] - mean).std())
            head.classifier.weight.mul_(scale)
            head.classifier.bias.mul_(scale).sub_(scale * mean)
    return model


def _engine_models():
    from dynamic_inference.backbones import build_model, msdnet38

    torch.manual_seed(0)
    return {
        "toy": (_spread(ToyNet(classes=6), 16), 16),
        "tiny": (_spread(build_model("tiny", 6, "online"), 64), 64),
        # MSDNet: the state between stages is a list of scales (compaction indexes each one)
        "msdnet": (_spread(msdnet38(6, "online", n_blocks=3, base=1, step=1, channels=8,
                                    growth=4, gr_factor=(1, 2, 4), bn_factor=(1, 2, 4)), 32), 32),
        "tsm_resnet50": (_spread(build_model("tsm_resnet50", 6, "online"), 32), 32),
        "msdnet_mini": (_spread(build_model("msdnet_mini", 6, "online"), 64), 64),
    }


@pytest.fixture(scope="module")
def engine_models():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield _engine_models()
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ["toy", "tiny", "msdnet", "tsm_resnet50", "msdnet_mini"])
@pytest.mark.parametrize("scheme", ["full", "depth", "input", "unified"])
def test_engine_equals_simulation_with_mixed_stops(engine_models, name: str, scheme: str):
    """Thresholds are set so that the videos stop at every decision point (a mix, not all at
    the same one); the engine, whole batch or continuous batching (videos joining as others
    stop), takes the decisions of a plain reference written here and of the simulation, and
    its costs are the hand-computed costs of those points. Labels are all different."""
    model, size = engine_models[name]
    torch.manual_seed(1)
    sch = make_scheme(scheme, groups=4)
    k_all = model.num_exits
    n_points = sch.num_points(k_all)
    clips = torch.randn(2 * n_points + 1, 8, 3, size, size)
    fl = _frame_logits(model, clips)
    conf = _point_confidence(fl, sch.groups, sch.depth)
    thresholds = [0.5] if n_points == 1 else spread_thresholds(conf)
    stop, pred = reference_stops(fl, sch.groups, sch.depth, thresholds)
    assert (torch.bincount(stop, minlength=n_points) > 0).all()  # every point is used
    hand = torch.tensor(HAND_COSTS[k_all][scheme], dtype=torch.float64)
    labels = torch.arange(len(clips)) % model.num_classes
    sim = simulate(sch, fl, labels, EXIT_COST[k_all], thresholds)
    assert torch.equal(sim.stop, stop) and torch.equal(sim.pred, pred)
    torch.testing.assert_close(sim.cost, hand[stop])
    assert sim.top1 == pytest.approx(100.0 * float((pred == labels).double().mean()))
    engine = EarlyExitEngine(model, sch, thresholds, EXIT_COST[k_all], 8)
    for batch in (None, 1, 3, 5):
        res = engine.run(clips, batch=batch)
        assert torch.equal(res.stop, stop), (batch, res.stop, stop)
        assert torch.equal(res.pred, pred), batch
        torch.testing.assert_close(res.cost, hand[stop])
        assert res.wall_s > 0


def test_engine_stops_at_a_confidence_exactly_at_the_threshold():
    """Zero classifiers give equal logits: with 2 classes every point has a confidence of
    exactly 0.5. A threshold of 0.5 stops every video at the first point, the next float above
    0.5 sends them all to the last one (the rule is ``>=``)."""
    import math

    model = ToyNet(classes=2).eval()
    with torch.no_grad():
        for head in model.heads:
            head.classifier.weight.zero_()
            head.classifier.bias.zero_()
    clips = torch.randn(4, 8, 3, 16, 16)
    for scheme in ("depth", "unified"):
        sch = make_scheme(scheme, groups=2)
        n = sch.num_points(3)
        at = EarlyExitEngine(model, sch, [0.5] * n, [1.0, 2.5, 4.0], 8).run(clips, batch=3)
        assert at.stop.tolist() == [0] * 4
        above = [math.nextafter(0.5, 1.0)] * n
        res = EarlyExitEngine(model, sch, above, [1.0, 2.5, 4.0], 8).run(clips, batch=3)
        assert res.stop.tolist() == [n - 1] * 4
        assert res.cost.tolist() == [32.0] * 4


def test_engine_skips_work_of_stopped_videos():
    """With threshold 0 every video stops at the first point: later stages never run."""
    model = ToyNet().eval()
    calls = []
    model.stages[1].register_forward_hook(lambda *a: calls.append(1))
    sch = make_scheme("unified", groups=4)
    engine = EarlyExitEngine(model, sch, [0.0] * 12, [1.0, 2.0, 3.0], 8)
    res = engine.run(torch.randn(3, 8, 3, 16, 16))
    assert calls == [] and (res.stop == 0).all()
    assert torch.allclose(res.cost, torch.full((3,), 2.0, dtype=res.cost.dtype))


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_continuous_batching_keeps_the_batch_full_and_computes_each_group_once(batch):
    """At most ``batch`` videos run at once; a video that stops makes room for the next one at
    the start of the next group, so the stem sees exactly the groups each video needed."""
    torch.manual_seed(0)
    model = ToyNet().eval()
    rows: list[int] = []
    model.stem_layers.register_forward_hook(lambda m, i, o: rows.append(o.shape[0]))
    sch = make_scheme("unified", groups=4)
    clips = torch.randn(6, 8, 3, 16, 16) * 3
    # the more confident half stops after group 1 (at g1/e3), the rest at g2/e1
    conf = torch.softmax(sch.point_logits(_frame_logits(model, clips)).double(), -1).amax(-1)
    middle = conf[:, 2].sort().values[2:4]  # half-way between the 3rd and 4th: no video
    thresholds = [1.0, 1.0, float(middle.mean())] + [0.0] * 9  # sits on the knife's edge
    rows.clear()
    res = EarlyExitEngine(model, sch, thresholds, [1.0, 2.0, 3.0], 8).run(clips, batch=batch)
    per_group = 2
    groups_used = torch.tensor([sch.points(3)[i].group for i in res.stop])
    assert groups_used.unique().numel() > 1  # the case this test is about
    assert max(rows) <= batch * per_group
    assert sum(rows) == int(groups_used.sum()) * per_group  # no group computed twice
    # steps needed if the batch never refilled (chunks of ``batch`` videos, each chunk running
    # as many steps as its slowest video) vs the steps taken: refilling takes fewer when a
    # video of a chunk stops before the others
    chunked = sum(int(groups_used[i : i + batch].max()) for i in range(0, 6, batch))
    assert len(rows) <= chunked
    if batch == 2:  # here the chunks' first videos stop a group before their partners
        assert len(rows) < chunked
    sim = simulate(sch, _frame_logits(model, clips), torch.arange(6) % 5, [1.0, 2.0, 3.0],
                   thresholds)
    assert torch.equal(res.stop, sim.stop) and torch.equal(res.pred, sim.pred)


def test_heads_that_cannot_fire_are_not_run():
    """A head whose points all have threshold 1.0 never stops a video: the engine skips it, and
    its stops still equal the simulation's (costs without that head)."""
    torch.manual_seed(0)
    model = ToyNet().eval()
    calls = {k: 0 for k in range(3)}
    for k, head in enumerate(model.heads):
        head.features.register_forward_hook(lambda *a, k=k: calls.__setitem__(k, calls[k] + 1))
    sch = make_scheme("unified", groups=4)
    thresholds = [1.0, 0.3, 1.0] * 4  # exit 1 never fires, exit 2 may, exit 3 answers last
    assert sch.live_exits(thresholds, 3) == [False, True, True]
    clips = torch.randn(5, 8, 3, 16, 16) * 3
    res = EarlyExitEngine(model, sch, thresholds, [1.0, 2.5, 4.0], 8).run(clips)
    assert calls[0] == 0 and calls[1] > 0
    sim = simulate(sch, _frame_logits(model, clips), torch.zeros(5, dtype=torch.long),
                   [1.0, 2.5, 4.0], thresholds)
    assert torch.equal(res.stop, sim.stop) and torch.equal(res.pred, sim.pred)


def test_live_exits():
    assert make_scheme("depth").live_exits([1.0, 0.5, 1.0, 0.0], 4) == [False, True, False, True]
    assert make_scheme("input", groups=2).live_exits([0.5, 1.0], 3) == [False, False, True]
    unified = make_scheme("unified", groups=2)  # g1/e1, g1/e2, g2/e1, g2/e2
    assert unified.live_exits([1.0, 1.0, 0.9, 1.0], 2) == [True, True]
    assert unified.live_exits([1.0, 0.9, 1.0, 0.0], 2) == [False, True]
    with pytest.raises(ConfigError):
        unified.live_exits([1.0, 2.0, 1.0, 1.0], 2)


def test_bad_batch_is_refused():
    eng = EarlyExitEngine(ToyNet(), make_scheme("depth"), [0.5] * 3, [1, 2, 3], 8)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="batch"):
            eng.run(torch.randn(2, 8, 3, 16, 16), batch=bad)


def test_offline_shift_refused_for_group_schemes():
    model = ToyNet("offline")
    assert shift_mode(model) == "offline"
    with pytest.raises(CheckpointError, match="causal"):
        EarlyExitEngine(model, make_scheme("input", groups=2), [0.5, 0.5], [1, 2, 3], 8)
    EarlyExitEngine(model, make_scheme("depth"), [0.5] * 3, [1, 2, 3], 8)  # depth is fine


def test_bad_thresholds_and_shapes():
    model = ToyNet()
    with pytest.raises(ConfigError):
        EarlyExitEngine(model, make_scheme("depth"), [0.5, float("nan"), 0.5], [1, 2, 3], 8)
    with pytest.raises(ConfigError):
        EarlyExitEngine(model, make_scheme("depth"), [0.5, 0.5], [1, 2, 3], 8)
    eng = EarlyExitEngine(model, make_scheme("depth"), [0.5] * 3, [1, 2, 3], 8)
    with pytest.raises(ConfigError, match="expected clips"):
        eng.run(torch.randn(2, 4, 3, 16, 16))


def test_latency_table_by_hand(monkeypatch):
    """A fake clock that each stage and head call advances by a known time (stage k: k+1 ms,
    every head 0.5 ms), read by the engine that measures the table: cumulative milliseconds per
    frame, earlier heads counted with ``heads="all"`` and not in the last entry with ``"last"``,
    divided by the batch's frames."""
    import types

    import dynamic_inference.engine as engine_mod

    clock = {"t": 0.0}
    monkeypatch.setattr(engine_mod, "time", types.SimpleNamespace(
        perf_counter=lambda: clock["t"]))
    model = ToyNet()
    for k, stage in enumerate(model.stages):
        stage.register_forward_hook(
            lambda *a, k=k: clock.__setitem__("t", clock["t"] + (k + 1) * 1e-3))
    for head in model.heads:
        head.features.register_forward_hook(
            lambda *a: clock.__setitem__("t", clock["t"] + 0.5e-3))
    frames = 2 * 4  # batch x num_frames
    ms = measure_latency(model, num_frames=4, size=16, batch=2, repeats=3)
    assert ms == pytest.approx([1.5 / frames, 4.0 / frames, 7.5 / frames])
    last = measure_latency(model, num_frames=4, size=16, batch=2, repeats=3, heads="last")
    assert last == pytest.approx([1.5 / frames, 4.0 / frames, 6.5 / frames])


SAMPLE = (Path(__file__).resolve().parents[1] / "datasets_mini" / "sample"
          / "test_08_move_right_000.mp4")


def _random_checkpoint(tmp_path: Path) -> Path:
    from dynamic_inference.backbones import build_model
    from dynamic_inference.data.mini import CLASS_NAMES
    from dynamic_inference.train import TrainConfig, save_checkpoint

    torch.manual_seed(0)
    cfg = TrainConfig(model="tiny", shift="online")
    model = build_model("tiny", 16, shift="online")
    for m in model.modules():  # make the prediction depend on the frames
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.fill_(0.15)
    out = tmp_path / "random.pt"
    save_checkpoint(model, cfg, {"classes": list(CLASS_NAMES)}, out)
    return out


@pytest.mark.parametrize("order", ["strided", "sequential"])
def test_stream_equals_whole_clip_and_stops_decoding_early(tmp_path: Path, order: str, capsys):
    """The stream command, fed frame by frame through the cache, ends with the probabilities
    of the whole clip in the same order; with threshold 0 it stops after the first group and
    decodes only the frames that group needs."""
    from dynamic_inference.checkpoint import load_checkpoint
    from dynamic_inference.schemes import frame_order
    from dynamic_inference.stream import load_clip, stream_video

    ck = _random_checkpoint(tmp_path)
    full = stream_video(SAMPLE, ck, group=2, threshold=1.0, order=order)
    model, cfg, _ = load_checkpoint(ck)
    clip = load_clip(SAMPLE, 16, 64)[frame_order(order, 16, 4)]  # (T, 3, H, W)
    with torch.inference_mode():
        expect = torch.softmax(model(clip[None]).video_logits(-1)[0].double(), 0)
    assert full["frames_used"] == 16  # it stops decoding after the last input frame
    assert torch.allclose(torch.tensor(full["probs"], dtype=torch.float64), expect, atol=1e-5)
    early = stream_video(SAMPLE, ck, group=2, threshold=0.0, order=order)
    assert early["frames_used"] == 2
    assert early["frames_decoded"] < full["frames_in_video"]
    assert "confident after 2 of 16" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="threshold"):
        stream_video(SAMPLE, ck, threshold=float("nan"))
