"""Invariants of the temporal shift (issue 3): shapes, reference slicing, causality, streaming."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from dynamic_inference.errors import ConfigError
from dynamic_inference.shift import (
    ShiftCache,
    ShiftedConv,
    TemporalShift,
    online_shift_step,
    temporal_shift,
)

DTYPES = [torch.float32, torch.float64, torch.bfloat16]


def reference_shift(x: torch.Tensor, t: int, fold_div: int, mode: str) -> torch.Tensor:
    """Direct slice-by-slice reference, written independently of the implementation."""
    nt, c, h, w = x.shape
    fold = c // fold_div
    v = x.reshape(nt // t, t, c, h, w)
    out = v.clone()
    if mode == "offline":
        out[:, :, :fold] = 0
        out[:, :-1, :fold] = v[:, 1:, :fold]
        out[:, :, fold : 2 * fold] = 0
        out[:, 1:, fold : 2 * fold] = v[:, :-1, fold : 2 * fold]
    elif mode == "online":
        out[:, :, :fold] = 0
        out[:, 1:, :fold] = v[:, :-1, :fold]
    return out.reshape(nt, c, h, w)


shapes = st.tuples(
    st.integers(1, 3),  # N
    st.integers(1, 9),  # T
    st.integers(2, 24),  # C
    st.integers(1, 4),  # H = W
    st.sampled_from([2, 4, 8]),  # fold_div
)


@settings(max_examples=60, deadline=None)
@given(shapes, st.sampled_from(["off", "offline", "online"]), st.sampled_from(DTYPES))
def test_matches_reference_and_keeps_shape(shape, mode, dtype):
    n, t, c, hw, fold_div = shape
    assume(c >= fold_div)
    x = torch.randn(n * t, c, hw, hw).to(dtype)
    y = temporal_shift(x, t, fold_div, mode)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y, reference_shift(x, t, fold_div, mode))
    moved = {"off": 0, "online": 1, "offline": 2}[mode] * (c // fold_div)
    assert torch.equal(y[:, moved:], x[:, moved:])  # untouched channels identical


@settings(max_examples=40, deadline=None)
@given(shapes, st.data())
def test_online_is_causal(shape, data):
    n, t, c, hw, fold_div = shape
    assume(c >= fold_div)
    x = torch.randn(n * t, c, hw, hw)
    tt = data.draw(st.integers(0, t - 1))
    x2 = x.view(n, t, c, hw, hw).clone()
    x2[:, tt + 1 :] += torch.randn_like(x2[:, tt + 1 :])
    y1 = temporal_shift(x, t, fold_div, "online").view(n, t, c, hw, hw)
    y2 = temporal_shift(x2.view(n * t, c, hw, hw), t, fold_div, "online").view(n, t, c, hw, hw)
    assert torch.equal(y1[:, : tt + 1], y2[:, : tt + 1])


def test_offline_is_not_causal():
    x = torch.randn(4, 8, 2, 2)
    x2 = x.clone()
    x2[3] += 1
    y1, y2 = temporal_shift(x, 4, 8, "offline"), temporal_shift(x2, 4, 8, "offline")
    assert not torch.equal(y1[2], y2[2])  # frame 2 sees frame 3 through the future fold


class ShiftBlock(nn.Module):
    """A residual block with the shift in its branch, as TSM places it."""

    def __init__(self, c: int, mode: str):
        super().__init__()
        self.branch = ShiftedConv(nn.Conv2d(c, c, 3, padding=1), mode)
        self.act = nn.ReLU()

    def forward(self, x, n_frames, cache=None):
        return x + self.act(self.branch(x, n_frames, cache))


class ShiftStack(nn.Module):
    def __init__(self, c: int = 16, depth: int = 3, mode: str = "online"):
        super().__init__()
        self.blocks = nn.ModuleList(ShiftBlock(c, mode) for _ in range(depth))

    def forward(self, x, n_frames, cache=None):
        for b in self.blocks:
            x = b(x, n_frames, cache)
        return x


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(2, 10), st.data())
def test_causal_through_a_stack(n, t, data):
    torch.manual_seed(0)
    net = ShiftStack()
    x = torch.randn(n, t, 16, 5, 5)
    tt = data.draw(st.integers(0, t - 2))
    x2 = x.clone()
    x2[:, tt + 1 :] = torch.randn_like(x2[:, tt + 1 :])
    with torch.no_grad():
        y1 = net(x.view(n * t, 16, 5, 5), t).view(n, t, 16, 5, 5)
        y2 = net(x2.view(n * t, 16, 5, 5), t).view(n, t, 16, 5, 5)
    assert torch.equal(y1[:, : tt + 1], y2[:, : tt + 1])
    assert not torch.equal(y1[:, tt + 1 :], y2[:, tt + 1 :])


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 12), st.lists(st.integers(1, 5), min_size=1))
def test_streaming_equals_offline_causal(n, t, sizes):
    """Feed groups of any size (not dividing T) through one cache: same as the whole clip."""
    torch.manual_seed(1)
    net = ShiftStack()
    x = torch.randn(n, t, 16, 4, 4)
    with torch.no_grad():
        whole = net(x.reshape(n * t, 16, 4, 4), t).view(n, t, 16, 4, 4)
        cache, outs, start, i = ShiftCache(), [], 0, 0
        while start < t:
            g = min(sizes[i % len(sizes)], t - start)
            chunk = x[:, start : start + g].reshape(n * g, 16, 4, 4)
            outs.append(net(chunk, g, cache).view(n, g, 16, 4, 4))
            start, i = start + g, i + 1
    assert len(cache) == 3
    torch.testing.assert_close(torch.cat(outs, 1), whole, atol=1e-5, rtol=0)


def test_batch_items_never_mix():
    net = ShiftStack()
    x = torch.randn(3, 6, 16, 4, 4)
    with torch.no_grad():
        together = net(x.reshape(18, 16, 4, 4), 6).view(3, 6, 16, 4, 4)
        for i in range(3):
            alone = net(x[i], 6)
            torch.testing.assert_close(together[i], alone, atol=1e-6, rtol=0)


def test_cache_reset_and_select():
    net = ShiftStack()
    x = torch.randn(2, 4, 16, 4, 4)
    cache = ShiftCache()
    with torch.no_grad():
        first = net(x[:, :2].reshape(4, 16, 4, 4), 2, cache)
        cache.reset()  # a new video: same as starting fresh
        again = net(x[:, :2].reshape(4, 16, 4, 4), 2, cache)
        torch.testing.assert_close(first, again)
        sub = cache.select(torch.tensor([1]))
        whole = net(x[1].reshape(4, 16, 4, 4), 4).view(4, 16, 4, 4)
        cont = net(x[1, 2:].reshape(2, 16, 4, 4), 2, sub)
    torch.testing.assert_close(cont, whole[2:], atol=1e-6, rtol=0)


def test_cache_shape_mismatch_is_a_clear_error():
    last = torch.zeros(2, 2, 4, 4)
    with pytest.raises(ConfigError, match="ShiftCache"):
        online_shift_step(torch.randn(3, 16, 4, 4), 1, last)


def test_gradients_flow():
    x = torch.randn(2 * 4, 16, 3, 3, requires_grad=True)
    for mode, moved in (("offline", 4), ("online", 2)):
        x.grad = None
        temporal_shift(x, 4, 8, mode).sum().backward()
        grad = x.grad.view(2, 4, 16, 3, 3)
        assert (grad[:, :, moved:] == 1).all()  # unshifted channels: gradient passes straight
        if mode == "online":  # frame t's fold 0 feeds frame t+1; the last one feeds nothing
            assert (grad[:, -1, :2] == 0).all() and (grad[:, :-1, :2] == 1).all()
        else:  # fold 0 feeds frame t-1, fold 1 feeds frame t+1
            assert (grad[:, 0, :2] == 0).all() and (grad[:, 1:, :2] == 1).all()
            assert (grad[:, -1, 2:4] == 0).all() and (grad[:, :-1, 2:4] == 1).all()


@settings(max_examples=40, deadline=None)
@given(shapes, st.sampled_from(["offline", "online"]), st.booleans())
def test_gradient_equals_the_reference_gradient(shape, mode, channels_last):
    """The shift's own backward (the shift run the other way in time) gives, bit for bit, the
    gradient autograd derives from the reference's slice assignments: training is unchanged."""
    n, t, c, hw, fold_div = shape
    assume(c >= fold_div)
    x = torch.randn(n * t, c, hw, hw, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    upstream = torch.randn(n * t, c, hw, hw, dtype=torch.float64)
    grads = []
    for shift in (temporal_shift, reference_shift):
        leaf = x.detach().requires_grad_()
        (shift(leaf, t, fold_div, mode) * upstream).sum().backward()
        grads.append(leaf.grad)
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_backward_is_one_node(mode):
    """Regression (speed): left to autograd, each slice assignment of the shift recorded a node
    whose backward fills a zero tensor of the whole input (a mini MSDNet training step at one
    thread took 1.33x as long with them while a second training shared the machine's memory
    bandwidth; alone, no measurable difference). Now the output's node leads to the input."""
    x = torch.randn(2 * 3, 8, 2, 2, requires_grad=True)
    node = temporal_shift(x, 3, 4, mode).grad_fn
    assert [type(f).__name__ for f, _ in node.next_functions] == ["AccumulateGrad"]


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_gradcheck(mode):
    x = torch.randn(2 * 3, 8, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: temporal_shift(v, 3, 4, mode), (x,))


@pytest.mark.parametrize(
    "shape, t, fold_div, mode, match",
    [
        ((8, 16, 4), 4, 8, "online", "N\\*T, C, H, W"),
        ((7, 16, 4, 4), 2, 8, "online", "not divisible"),
        ((8, 4, 4, 4), 2, 8, "offline", "C >= fold_div"),
        ((8, 16, 4, 4), 2, 1, "offline", "fold_div"),
        ((8, 16, 4, 4), 2, 8, "both", "shift mode"),
        ((8, 16, 4, 4), 0, 8, "online", "n_frames"),
    ],
)
def test_bad_input_raises_value_error(shape, t, fold_div, mode, match):
    with pytest.raises(ValueError, match=match):
        temporal_shift(torch.randn(*shape), t, fold_div, mode)


def test_offline_cannot_stream():
    with pytest.raises(ConfigError, match="cannot stream"):
        TemporalShift("offline")(torch.randn(4, 16, 2, 2), 2, ShiftCache())


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_channels_last_stays_channels_last(mode):
    """Regression: a torch.cat-based shift returned NCHW for a channels_last input, and every
    following conv converted it back (TSM-ResNet-50 92% slower than TSN on an H200)."""
    x = torch.randn(2 * 4, 16, 5, 5).to(memory_format=torch.channels_last)
    out = temporal_shift(x, 4, 8, mode)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, reference_shift(x.contiguous(), 4, 8, mode))
    if mode == "online":
        first, last = online_shift_step(x[:4], 2, None, 8)
        second, _ = online_shift_step(x[4:], 2, last, 8)
        assert first.is_contiguous(memory_format=torch.channels_last)
        assert second.is_contiguous(memory_format=torch.channels_last)
        streamed = torch.cat([first.view(2, 2, 16, 5, 5), second.view(2, 2, 16, 5, 5)], 1)
        # x[:4] holds frames 0-1 of both videos, x[4:] frames 2-3 (streaming layout)
        whole = torch.cat([x[:4].view(2, 2, 16, 5, 5), x[4:].view(2, 2, 16, 5, 5)], 1)
        expect = reference_shift(whole.reshape(8, 16, 5, 5).contiguous(), 4, 8, mode)
        assert torch.equal(streamed.reshape(8, 16, 5, 5), expect)


def test_one_frame_at_a_time_channels_last():
    """The one-frame streaming path on channels_last frames (what a folded model's convs give):
    the whole clip's online shift, frame by frame, and the memory format kept."""
    torch.manual_seed(0)
    x = torch.randn(3 * 5, 16, 4, 4)  # 3 videos x 5 frames
    expect = reference_shift(x, 5, 8, "online").view(3, 5, 16, 4, 4)
    frames = x.view(3, 5, 16, 4, 4)
    last = None
    for t in range(5):
        step = frames[:, t].contiguous(memory_format=torch.channels_last)  # (3, 16, 4, 4)
        out, last = online_shift_step(step, 1, last, 8)
        assert out.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(out, expect[:, t])
