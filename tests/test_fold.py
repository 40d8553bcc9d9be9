"""fold_batchnorm: the folded, prepacked copy computes what the model computes, on every
backbone, and the engine on it still equals the simulation on it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamic_inference.backbones import build_model
from dynamic_inference.engine import EarlyExitEngine
from dynamic_inference.fold import FoldedConv2d, fold_batchnorm
from dynamic_inference.schemes import make_scheme, simulate


def _randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial statistics, so that a missed or wrong fold shows."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.2)


BACKBONES = [
    ("tiny", {}, 64),
    ("msdnet_mini", {}, 64),
    ("tsm_resnet50", {}, 64),
    ("msdnet38", {}, 64),
]


@pytest.mark.parametrize("name,kw,size", BACKBONES, ids=[b[0] for b in BACKBONES])
def test_folded_model_computes_the_same_logits(name, kw, size):
    torch.manual_seed(0)
    model = build_model(name, 5, **kw).eval()
    _randomise_bn(model)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules()), \
        "a BatchNorm was left unfolded"
    assert not any(isinstance(m, nn.Conv2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is kept
    x = torch.randn(2, 4, 3, size, size)
    with torch.inference_mode():
        ref = model(x).stacked_logits()
        got = folded(x).stacked_logits()
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4), (got - ref).abs().max()


def test_folded_conv_matches_conv_bn_and_runs_off_the_prepacked_path():
    torch.manual_seed(1)
    conv, bn = nn.Conv2d(6, 8, 3, 2, 1, bias=True), nn.BatchNorm2d(8)
    _randomise_bn(bn)
    seq = nn.Sequential(conv, bn).eval()
    f = FoldedConv2d(conv, bn)
    x = torch.randn(3, 6, 9, 9)
    with torch.inference_mode():
        ref = seq(x)
        assert torch.allclose(f(x), ref, atol=1e-5)
        # channels_last input and the plain F.conv2d path (e.g. float64, or off the CPU)
        assert torch.allclose(f(x.contiguous(memory_format=torch.channels_last)), ref, atol=1e-5)
        assert torch.allclose(f.double()(x.double()), ref.double(), atol=1e-5)


@pytest.mark.parametrize("scheme", ["depth", "input", "unified"])
def test_engine_on_the_folded_model_equals_its_simulation(scheme):
    torch.manual_seed(2)
    model = build_model("tiny", 4).eval()
    _randomise_bn(model)
    model = fold_batchnorm(model)
    sch = make_scheme(scheme, 4, "strided", 0)
    clips = torch.randn(12, 8, 3, 64, 64)
    with torch.inference_mode():
        logits = model(clips).stacked_logits()  # (N, K, T, C)
    thr = [0.3] * sch.num_points(model.num_exits)
    cost = [1.0, 2.0, 3.0, 4.0]
    labels = torch.zeros(12, dtype=torch.long)
    sim = simulate(sch, logits, labels, cost, thr)
    res = EarlyExitEngine(model, sch, thr, cost, 8).serve(iter(clips), frames_per_call=8)
    assert torch.equal(res.stop, sim.stop)
    assert torch.equal(res.pred, sim.pred)
