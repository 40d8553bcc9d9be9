"""Backbones: shapes, the exit-head contract, parameter counts, and online-shift streaming.

Streaming and causality run on small frames (32x32 for the paper models, 64x64 for the mini ones)
in eval mode and float32. Torch runs on one thread here: on the shared 2-core machine two
OpenMP threads that compete with other processes made MSDNet's forward 20x slower.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from dynamic_inference.backbones import (
    MODEL_NAMES,
    MSDNetConfig,
    build_model,
    default_size,
    msdnet38,
    msdnet_mini,
    tiny_net,
    tsm_resnet50,
    tsm_resnet101,
    tsn_resnet50,
)
from dynamic_inference.backbones.msdnet import Branch
from dynamic_inference.errors import ConfigError
from dynamic_inference.exits import ExitHead, MultiExitNet
from dynamic_inference.shift import ShiftCache

SMALL = {"tiny": 64, "tsm_resnet50": 32, "msdnet38": 32, "msdnet_mini": 64}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def online_models() -> dict[str, MultiExitNet]:
    torch.manual_seed(0)
    return {name: build_model(name, 10, "online").eval() for name in SMALL}


def n_params(model: nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


@pytest.mark.parametrize("name", list(SMALL))
def test_streaming_equals_whole_clip(online_models: dict[str, MultiExitNet], name: str) -> None:
    """Groups of frames fed with one ShiftCache give the whole clip's per-frame logits."""
    model, size = online_models[name], SMALL[name]
    torch.manual_seed(1)
    clip = torch.randn(2, 6, 3, size, size)
    with torch.no_grad():
        whole = model(clip).stacked_logits()  # (N, K, T, C)
        cache = ShiftCache()
        groups = [
            model(clip[:, a:b], cache=cache).stacked_logits() for a, b in [(0, 2), (2, 3), (3, 6)]
        ]
        # one frame at a time, with a fresh cache: the same again
        cache.reset()
        frames = [model(clip[:, t : t + 1], cache=cache).stacked_logits() for t in range(6)]
    assert whole.shape == (2, model.num_exits, 6, 10)
    assert len(cache) > 0
    torch.testing.assert_close(torch.cat(groups, dim=2), whole, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat(frames, dim=2), whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(SMALL))
def test_online_shift_is_causal(online_models: dict[str, MultiExitNet], name: str) -> None:
    model, size = online_models[name], SMALL[name]
    torch.manual_seed(2)
    clip = torch.randn(1, 5, 3, size, size)
    changed = clip.clone()
    changed[:, 3:] = torch.randn(1, 2, 3, size, size)
    with torch.no_grad():
        a = model(clip).stacked_logits()
        b = model(changed).stacked_logits()
    torch.testing.assert_close(b[:, :, :3], a[:, :, :3], atol=1e-5, rtol=0)
    assert (b[:, :, 3:] - a[:, :, 3:]).abs().max() > 1e-5


def test_offline_shift_sees_the_future_and_off_sees_one_frame() -> None:
    torch.manual_seed(3)
    clip = torch.randn(1, 4, 3, 64, 64)
    changed = clip.clone()
    changed[:, 3] = torch.randn(3, 64, 64)
    for shift, past_changes in [("offline", True), ("off", False)]:
        model = tiny_net(8, shift).eval()
        with torch.no_grad():
            a, b = model(clip).stacked_logits(), model(changed).stacked_logits()
        diff = (a[:, :, :3] - b[:, :, :3]).abs().max().item()
        assert (diff > 1e-5) == past_changes, (shift, diff)
    with pytest.raises(ConfigError, match="cannot stream"):
        tiny_net(8, "offline").eval()(clip, cache=ShiftCache())


@pytest.mark.parametrize("name", list(SMALL))
def test_exit_contract(online_models: dict[str, MultiExitNet], name: str) -> None:
    """features -> (N*T, D) pooled vector, classifier = one nn.Linear(D, classes)."""
    model, size = online_models[name], SMALL[name]
    clip = torch.randn(2, 3, 3, size, size)
    with torch.no_grad():
        out = model(clip)
        state = model.stem(clip.flatten(0, 1))
        for k, head in enumerate(model.heads):
            assert isinstance(head, ExitHead)
            assert isinstance(head.classifier, nn.Linear)
            assert head.classifier.in_features == head.dim
            state = model.stage(k, state, 3, None)
            feats = head.features(state)
            assert feats.shape == (6, head.dim)
            torch.testing.assert_close(out.features[k], feats.view(2, 3, -1))
            # linear classifier: video logits = classifier(mean of the frame features)
            video = head.classifier(out.features[k].mean(dim=1))
            torch.testing.assert_close(out.video_logits(k), video, atol=1e-5, rtol=1e-5)
    assert out.names == model.exit_names and len(model.exit_names) == model.num_exits
    with torch.no_grad():
        first = model(clip, exits=1)
    assert first.num_exits == 1
    torch.testing.assert_close(first.logits[0], out.logits[0])


def test_exit_layout() -> None:
    assert tsm_resnet50(exits=True).exit_names == ["layer2", "layer3", "layer4"]
    assert tsm_resnet50(exits=False).exit_names == ["layer4"]
    assert msdnet38().exit_names == [f"block{k}" for k in range(1, 6)]
    assert tiny_net().exit_names == ["stage1", "stage2", "stage3", "stage4"]
    # MSDNet: 4 scales, the finest dropped at layers 10, 19, 28; heads on the coarsest scale
    m = msdnet38(10).eval()
    with torch.no_grad():
        state = m.stem(torch.randn(1, 3, 64, 64))
        scales = [len(state)]
        for k in range(m.num_exits):
            state = m.stage(k, state, 1)
            scales.append(len(state))
    assert scales == [4, 4, 3, 2, 1, 1]
    assert state[-1].shape[-1] == 2  # 64 / 32


def test_msdnet_mini_layout() -> None:
    """3 scales (16, 8, 4 pixels at 64x64), 4 blocks of 1, 2, 2, 2 layers: the finest scale is
    dropped at layers 4 and 7; every head reads the 4x4 coarsest scale."""
    m = msdnet_mini().eval()
    assert m.num_classes == 16 and m.config.shift == "online"
    assert m.exit_names == ["block1", "block2", "block3", "block4"]
    assert [len(stage.layers) for stage in m.stages] == [1, 2, 3, 3]  # + the two transitions
    with torch.no_grad():
        state = m.stem(torch.randn(2, 3, 64, 64))
        sides = [[t.shape[-1] for t in state]]
        for k in range(m.num_exits):
            state = m.stage(k, state, 1)
            sides.append([t.shape[-1] for t in state])
            assert m.heads[k](state).shape == (2, 16)
    assert sides == [[16, 8, 4], [16, 8, 4], [16, 8, 4], [8, 4], [4]]
    out = m(torch.randn(2, 3, 3, 64, 64))
    assert out.num_exits == 4 and out.stacked_logits().shape == (2, 4, 3, 16)
    # a shift in every branch: layers 1-3 have 1 + 2 + 2 branches, layer 4 (finest dropped) 2 + 2,
    # layers 5-6 1 + 2, layer 7 2
    shifts = [b.shift.mode for b in m.modules() if isinstance(b, Branch)]
    assert len(shifts) == 3 * 5 + 4 + 2 * 3 + 2 and set(shifts) == {"online"}
    assert msdnet_mini(5, "off", growth=4).config.growth == 4  # kw overrides the layout


def test_patch_stem() -> None:
    """``patch_stem=p``: the finest scale at H/p from one p x p stride-p conv; None keeps the
    ImageNet first layer (7x7 conv + max pool, also H/4)."""
    for patch, side in [(None, 16), (4, 16), (2, 32)]:
        m = msdnet_mini(4, "off", patch_stem=patch)
        assert m.stem(torch.randn(1, 3, 64, 64))[0].shape[-1] == side
    assert isinstance(msdnet_mini(4, patch_stem=None).stem_layers.convs[0][1], nn.MaxPool2d)
    with pytest.raises(ConfigError, match="patch_stem"):
        msdnet_mini(4, patch_stem=3)
    assert MSDNetConfig().patch_stem is None  # MSDNet-38 unchanged


def test_parameter_counts() -> None:
    # TSN / TSM ResNet-50 baseline (final exit only): 24.3 M at 400 classes (paper, TSM paper)
    assert n_params(tsn_resnet50(400, exits=False)) == pytest.approx(24.33, rel=0.01)
    assert n_params(tsm_resnet50(400, exits=False)) == n_params(tsn_resnet50(400, exits=False))
    # the paper's dynamic ResNet-50 / -101: 29.12 M / 48.12 M
    assert n_params(tsm_resnet50(400)) == pytest.approx(29.12, rel=0.01)
    assert n_params(tsm_resnet101(400)) == pytest.approx(48.12, rel=0.01)
    # MSDNet-38: 62.31 M with the ImageNet (1000-class) classifiers
    assert n_params(msdnet38(1000)) == pytest.approx(62.31, rel=0.01)
    assert n_params(tiny_net(16)) < 2.0
    assert 0.2 < n_params(msdnet_mini(16)) < 1.0


@pytest.mark.parametrize("stem, side", [(8, 8), (4, 16), (2, 32)])
def test_tiny_stem_sets_first_stage_resolution(stem: int, side: int) -> None:
    model = tiny_net(4, "off", stem=stem, widths=(16, 32), blocks=(1, 1), strides=(1, 2))
    state = model.stem(torch.randn(2, 3, 64, 64))
    assert tuple(state.shape) == (2, 16, side, side)
    with pytest.raises(ConfigError, match="stem"):
        tiny_net(4, stem=3)


def test_tiny_trains() -> None:
    torch.manual_seed(4)
    model = tiny_net(4, "online", dropout=0.1)
    clip, labels = torch.randn(2, 4, 3, 64, 64), torch.tensor([0, 3])
    out = model(clip)
    loss = sum(nn.functional.cross_entropy(out.video_logits(k), labels) for k in range(4))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_build_model() -> None:
    assert set(MODEL_NAMES) == {
        "tsn_resnet50",
        "tsm_resnet50",
        "tsm_resnet101",
        "tsn_resnet101",
        "msdnet38",
        "tiny",
        "msdnet_mini",
    }
    assert build_model("tiny", 5).num_classes == 5
    assert build_model("msdnet_mini", 5).num_classes == 5
    assert build_model("msdnet_mini", 5, "offline").config.shift == "offline"
    assert [default_size(n) for n in ("tiny", "msdnet_mini", "msdnet38")] == [64, 64, 224]
    assert build_model("tsn_resnet50", 5).config.shift == "off"
    assert build_model("tsm_resnet50", 5).config.shift == "online"
    assert build_model("tsm_resnet50", 5, "offline").config.shift == "offline"
    assert build_model("tsn_resnet101", 5, exits=False).num_exits == 1
    with pytest.raises(ConfigError, match="tsn_resnet50, tsm_resnet50"):
        build_model("resnet18", 5)
    with pytest.raises(ConfigError, match="num_classes"):
        build_model("tiny", 1)
    with pytest.raises(ConfigError, match="shift"):
        build_model("tsn_resnet50", 5, "online")
    with pytest.raises(ConfigError, match="shift"):
        build_model("tiny", 5, "sideways")
    with pytest.raises(ConfigError, match="bad option"):
        build_model("msdnet38", 5, exits=False)


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="fold_div"):
        tiny_net(16, fold_div=64)
    with pytest.raises(ConfigError, match="one entry per stage"):
        tiny_net(16, widths=(32, 64))
    with pytest.raises(ConfigError, match="dropout"):
        tsm_resnet50(dropout=1.5)
    with pytest.raises(ConfigError, match="depth"):
        from dynamic_inference.backbones import ResNetTSM, ResNetTSMConfig

        ResNetTSM(ResNetTSMConfig(depth=34))
    with pytest.raises(ConfigError, match=r"\(N, T, 3, H, W\)"):
        tiny_net()(torch.randn(4, 3, 64, 64))
