"""MSDNet (Huang et al., "Multi-Scale Dense Networks for Resource Efficient Image Classification",
ICLR 2018), ImageNet layout, with an optional temporal shift: the paper's MSDNet-38 backbone, and
:func:`msdnet_mini`, the same network scaled down to the 64x64 mini experiments.

Paper: "Dynamic Inference" (Wu et al. 2020), "Instantiation: MSDNet-38" (62.31 M params, 52 G
FLOPs for 16 frames of full inference). Written from MSDNet's section 4 and appendix A:

* **Multi-scale state.** The network keeps S = 4 feature maps, one per scale (1/4, 1/8, 1/16 and
  1/32 of the input), as a list of tensors ``[(N*T, c_s, H_s, W_s) for each scale s]``. Scale s
  has ``g_s`` times the base channel count (``gr_factor`` 1-2-4-4).
* **First layer** (the stem): 7x7 conv stride 2 with 32 channels, BN, ReLU, 3x3 max pool stride 2
  (scale 0, 1/4), then a 3x3 stride-2 conv + BN + ReLU for each coarser scale (64, 128, 128 ch).
* **Dense layers.** Layer l adds ``growth * g_s`` channels at every scale s by concatenation: half
  from a "regular" branch on scale s and half from a "strided" branch on scale s-1 (the finest
  scale only has the regular branch, with all ``growth * g_s`` channels). Each branch is a 1x1
  bottleneck conv to ``min(c_in, bn_factor_s * growth * g_s)`` channels (``bn_factor`` 1-2-4-4),
  then a 3x3 conv (stride 2 in the strided branch); every conv is followed by BN and ReLU.
* **Blocks and exits.** 5 blocks of 7 layers ("even" step mode, base = step = 7: 35 dense layers);
  after each block a classifier on the coarsest scale: two 3x3 stride-2 convs with BN and ReLU,
  average pooling and a linear layer. For ImageNet MSDNet's conv layers keep the number of input
  channels (its appendix A: "the number of output channels of each convolutional layer is set to be
  the same as the number of its input channels"); ``head_channels=128`` gives the CIFAR classifier.
* **Pruning and transitions** ("max" pruning, reduction 0.5): the 35 layers are split into 4 runs
  of ``ceil(35 / 4) = 9``; at the first layer of each new run the finest scale is dropped (layers
  10, 19 and 28), and a transition (a 1x1 conv + BN + ReLU per remaining scale) compresses the
  channels to ``floor(0.5 * c)``.

Counted with fvcore at 224x224 this is 3.25 GFLOPs (multiply-adds) per frame up to the last exit
(every earlier classifier included, as MSDNet counts its anytime cost), and 62.31 M parameters at
1000 classes (the paper's video model count, so the table used the ImageNet classifier size;
at 400 classes it is 60.31 M). "MSDNet-38": 35 dense layers + the first layer + the two
classifier convs.

**Temporal shift (TSM-MSDNet).** The dense connections play the role of ResNet's identity path:
the input of a dense layer is concatenated unchanged into its output. So, as TSM does in the
residual branch, the shift is applied to the input of each branch, in front of its first conv
(the 1x1 bottleneck); the concatenated copy stays unshifted. The first layer, the transitions and
the classifiers are not shifted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import Tensor, nn

from dynamic_inference.errors import ConfigError
from dynamic_inference.exits import ExitHead, MultiExitNet
from dynamic_inference.shift import SHIFT_MODES, ShiftCache, ShiftMode, TemporalShift

Scales = list[Tensor]  # one (N*T, C_s, H_s, W_s) tensor per kept scale, finest first


@dataclass
class MSDNetConfig:
    """Configuration of :class:`MSDNet`; the defaults are MSDNet-38 for ImageNet."""

    num_classes: int = 400
    shift: ShiftMode = "online"
    fold_div: int = 8
    n_blocks: int = 5
    base: int = 7  # layers in the first block
    step: int = 7  # layers in every later block ("even" step mode)
    channels: int = 32  # base channel count of the first layer
    growth: int = 16
    gr_factor: tuple[int, ...] = field(default=(1, 2, 4, 4))
    bn_factor: tuple[int, ...] = field(default=(1, 2, 4, 4))
    reduction: float = 0.5
    head_channels: int | None = None  # None: as many as the classifier's input (ImageNet)
    patch_stem: int | None = None  # None: the ImageNet first layer; p: a p x p stride-p conv
    dropout: float = 0.0

    @property
    def n_scales(self) -> int:
        return len(self.gr_factor)

    def validate(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if self.shift not in SHIFT_MODES:
            raise ConfigError(f"shift must be one of {SHIFT_MODES}, got {self.shift!r}")
        if not isinstance(self.fold_div, int) or not 2 <= self.fold_div <= self.channels:
            raise ConfigError(f"fold_div must be an integer in 2..{self.channels}")
        if min(self.n_blocks, self.base, self.step, self.channels, self.growth) < 1:
            raise ConfigError("n_blocks, base, step, channels and growth must be >= 1")
        if len(self.bn_factor) != self.n_scales or self.n_scales < 1:
            raise ConfigError("gr_factor and bn_factor need one entry per scale")
        if self.patch_stem is not None and self.patch_stem not in (2, 4, 8):
            raise ConfigError(f"patch_stem must be None, 2, 4 or 8, got {self.patch_stem!r}")
        if not 0.0 < self.reduction <= 1.0:
            raise ConfigError(f"reduction must be in (0, 1], got {self.reduction!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FirstLayer(nn.Module):
    """``(N*T, 3, H, W)`` -> one map per scale: ``[(NT, 32, H/4), (NT, 64, H/8), ...]``.

    ``patch_stem=p`` replaces the finest scale's 7x7 conv and max pool by one p x p stride-p conv
    with BN and ReLU (finest scale at H/p; the mini MSDNet uses p = 4, i.e. H/4 as well)."""

    def __init__(
        self, channels: int, gr_factor: tuple[int, ...], patch_stem: int | None = None
    ) -> None:
        super().__init__()
        c0 = channels * gr_factor[0]
        if patch_stem is None:
            first = nn.Sequential(
                conv_bn_relu(3, c0, 7, stride=2),  # (NT, 32, H/2, W/2)
                nn.MaxPool2d(3, stride=2, padding=1),  # (NT, 32, H/4, W/4)
            )
        else:
            first = nn.Sequential(  # (NT, c0, H/p, W/p)
                nn.Conv2d(3, c0, patch_stem, stride=patch_stem, bias=False),
                nn.BatchNorm2d(c0),
                nn.ReLU(inplace=True),
            )
        convs = [first]
        for s in range(1, len(gr_factor)):  # halve the resolution for each coarser scale
            convs.append(conv_bn_relu(channels * gr_factor[s - 1], channels * gr_factor[s], 3, 2))
        self.convs = nn.ModuleList(convs)

    def forward(self, x: Tensor) -> Scales:
        out = []
        for conv in self.convs:
            x = conv(x)
            out.append(x)
        return out


class Branch(nn.Module):
    """Shift -> 1x1 bottleneck conv -> 3x3 conv (stride 1 or 2), each with BN + ReLU."""

    def __init__(
        self, c_in: int, c_out: int, bn_factor: int, stride: int, shift: ShiftMode, fold_div: int
    ) -> None:
        super().__init__()
        inner = min(c_in, bn_factor * c_out)
        self.shift = TemporalShift(shift, fold_div)
        self.bottleneck = conv_bn_relu(c_in, inner, 1)
        self.conv = conv_bn_relu(inner, c_out, 3, stride)

    def forward(self, x: Tensor, n_frames: int, cache: ShiftCache | None) -> Tensor:
        return self.conv(self.bottleneck(self.shift(x, n_frames, cache)))


class ScaleUnit(nn.Module):
    """Output of one dense layer at one scale: ``cat([x_s, regular(x_s), strided(x_{s-1})])``."""

    def __init__(
        self,
        c_finer: int | None,  # channels of scale s-1, None if this unit has no strided branch
        c_in: int,
        growth: int,
        bn_finer: int,
        bn_factor: int,
        shift: ShiftMode,
        fold_div: int,
    ) -> None:
        super().__init__()
        if c_finer is None:
            self.strided = None
            self.regular = Branch(c_in, growth, bn_factor, 1, shift, fold_div)
        else:
            self.strided = Branch(c_finer, growth // 2, bn_finer, 2, shift, fold_div)
            self.regular = Branch(c_in, growth // 2, bn_factor, 1, shift, fold_div)

    def forward(
        self, finer: Tensor | None, x: Tensor, n_frames: int, cache: ShiftCache | None
    ) -> Tensor:
        parts = [x, self.regular(x, n_frames, cache)]  # (NT, c_in + growth [/2], H_s, W_s)
        if self.strided is not None:
            parts.append(self.strided(finer, n_frames, cache))
        return torch.cat(parts, dim=1)


class DenseLayer(nn.Module):
    """One MSDNet layer: ``in_scales`` maps in, ``out_scales`` maps out (the finest may drop)."""

    def __init__(self, channels: int, cfg: MSDNetConfig, in_scales: int, out_scales: int) -> None:
        super().__init__()
        s_total = cfg.n_scales
        self.discard = in_scales - out_scales  # 0, or 1 where the finest scale is dropped
        offset = s_total - out_scales  # absolute index of the finest output scale
        units = []
        for s in range(offset, s_total):
            has_finer = s > offset or self.discard > 0
            units.append(
                ScaleUnit(
                    channels * cfg.gr_factor[s - 1] if has_finer else None,
                    channels * cfg.gr_factor[s],
                    cfg.growth * cfg.gr_factor[s],
                    cfg.bn_factor[s - 1] if has_finer else 1,
                    cfg.bn_factor[s],
                    cfg.shift,
                    cfg.fold_div,
                )
            )
        self.units = nn.ModuleList(units)

    def forward(self, x: Scales, n_frames: int, cache: ShiftCache | None = None) -> Scales:
        out = []
        for j, unit in enumerate(self.units):
            i = j + self.discard  # index of this unit's own scale in the input list
            finer = x[i - 1] if i > 0 else None
            out.append(unit(finer, x[i], n_frames, cache))
        return out


class Transition(nn.Module):
    """A 1x1 conv + BN + ReLU per scale that compresses the channels (no shift)."""

    def __init__(self, c_in: int, c_out: int, gr_factor: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList([conv_bn_relu(c_in * g, c_out * g, 1) for g in gr_factor])

    def forward(self, x: Scales, n_frames: int, cache: ShiftCache | None = None) -> Scales:
        return [conv(t) for conv, t in zip(self.convs, x)]


class MSDBlock(nn.Module):
    """The layers between two classifiers; ``forward(state, n_frames, cache) -> state``."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Scales, n_frames: int, cache: ShiftCache | None = None) -> Scales:
        for layer in self.layers:
            x = layer(x, n_frames, cache)
        return x


class Coarsest(nn.Module):
    """Select the coarsest scale of the state (the input of every MSDNet classifier)."""

    def forward(self, x: Scales) -> Tensor:
        return x[-1]


def _classifier(c_in: int, cfg: MSDNetConfig) -> ExitHead:
    width = cfg.head_channels or c_in
    features = nn.Sequential(
        Coarsest(),  # (NT, c_in, H/32, W/32)
        conv_bn_relu(c_in, width, 3, stride=2),  # (NT, width, H/64, W/64)
        conv_bn_relu(width, width, 3, stride=2),  # (NT, width, H/128, W/128)
        nn.AdaptiveAvgPool2d(1),  # MSDNet's 2x2 average pool at 224
        nn.Flatten(1),  # (NT, width)
    )
    return ExitHead(features, width, cfg.num_classes, cfg.dropout)


class MSDNet(MultiExitNet):
    """MSDNet with optional temporal shift; one exit after each block (see module docstring)."""

    def __init__(self, config: MSDNetConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.num_classes = config.num_classes
        cfg = config
        n_scales = cfg.n_scales
        steps = [cfg.base] + [cfg.step] * (cfg.n_blocks - 1)
        n_layers = sum(steps)
        interval = math.ceil(n_layers / n_scales)  # "max" pruning: a scale per `interval` layers

        self.stem_layers = FirstLayer(cfg.channels, cfg.gr_factor, cfg.patch_stem)
        channels = cfg.channels  # base channel count (scale s has channels * gr_factor[s])
        layer_index = 0
        stages, heads = [], []
        for step in steps:
            layers: list[nn.Module] = []
            for _ in range(step):
                layer_index += 1
                in_scales = n_scales - max(0, layer_index - 2) // interval
                out_scales = n_scales - (layer_index - 1) // interval
                layers.append(DenseLayer(channels, cfg, in_scales, out_scales))
                channels += cfg.growth
                if in_scales > out_scales:
                    reduced = math.floor(cfg.reduction * channels)
                    layers.append(
                        Transition(channels, reduced, cfg.gr_factor[n_scales - out_scales :])
                    )
                    channels = reduced
            stages.append(MSDBlock(layers))
            heads.append(_classifier(channels * cfg.gr_factor[-1], cfg))
        self.stages = nn.ModuleList(stages)
        self.heads = nn.ModuleList(heads)
        self.exit_names = [f"block{k + 1}" for k in range(cfg.n_blocks)]


def msdnet38(num_classes: int = 400, shift: ShiftMode = "online", **kw: object) -> MSDNet:
    """MSDNet-38 for 224x224 frames: 4 scales, 5 blocks of 7 layers (the paper's backbone)."""
    return MSDNet(MSDNetConfig(num_classes=num_classes, shift=shift, **kw))


MINI_LAYOUT: Mapping[str, object] = MappingProxyType({
    "n_blocks": 4,
    "base": 1,
    "step": 2,
    "channels": 12,
    "growth": 8,
    "gr_factor": (1, 2, 4),
    "bn_factor": (1, 2, 4),
    "head_channels": 32,
    "patch_stem": 4,
})  # the MSDNetConfig fields of msdnet_mini (read-only; its docstring says why each was chosen)


def msdnet_mini(num_classes: int = 16, shift: ShiftMode = "online", **kw: object) -> MSDNet:
    """The mini MSDNet: MSDNet-38 scaled down to MiniActions (64x64 frames, 16 classes, CPU).

    Paper: "Instantiation: MSDNet-38 & ResNet-50" (the MSDNet backbone of the paper's ablations),
    at the scale of the mini experiments, where :func:`~dynamic_inference.backbones.tiny_net`
    stands in for the ResNet. Same building rules as :func:`msdnet38` (multi-scale dense layers,
    "max" pruning with transitions, a classifier on the coarsest scale after each block, the
    online shift in front of every branch of every dense layer); scaled down
    (:data:`MINI_LAYOUT`):

    * **3 scales** (gr_factor and bn_factor 1-2-4) instead of 4: 64x64 frames give 16x16, 8x8
      and 4x4 maps, as MSDNet's CIFAR model keeps 3 scales for 32x32 images; a fourth would be
      2x2, below the classifier's two stride-2 convs.
    * **A 4x4 stride-4 patch stem** (``patch_stem=4``, the tiny net's) instead of the 7x7 conv
      and max pool for the finest scale; the same 1/4 resolution. At 64x64 the 7x7 conv alone
      would cost 1.8 M multiply-adds, more than the whole budget of exit 1 (20 % of ~7 M).
    * **4 blocks of 1, 2, 2, 2 dense layers** (base 1, step 2; 7 layers) instead of 5 of 7: 4
      exits like the tiny net, and a one-layer first block keeps exit 1 cheap. With 7 layers and
      3 scales the finest scale is dropped at layers 4 and 7.
    * **Narrow:** 12 base channels and growth 8 (MSDNet-38: 32 and 16), classifiers of a fixed
      32 channels (``head_channels``, as MSDNet's CIFAR classifiers have a fixed 128).

    Cost at 64x64 (fvcore, cumulative, every earlier head included): 1.19, 3.06, 5.30 and
    7.12 M multiply-adds per frame (exit 1 at 16.7 %; the tiny net: 1.68 ... 8.24 M, 20.4 %),
    0.40 M parameters at 16 classes. The size was chosen by CPU training speed: dense layers of
    few channels are memory-bound (concatenations, batch norms, shifts), so a training step
    costs 2-2.5x the tiny net's for fewer multiply-adds (one thread, 16 clips of 16 frames:
    0.54 vs 0.21 s on synthetic clips, 0.82 vs 0.39 s in the train command on a shared
    machine; 16 channels and growth 10, 11.1 M multiply-adds, took 0.70 s on synthetic clips).
    The tiny net's recipe (20 epochs at lr 2e-3) left it short of training (last exit 64.9 % on
    val, temporal classes at 50 % even on its own train clips); the shipped checkpoints use 45
    epochs at lr 4e-3, chosen on seed 0's val split (30 epochs gave 63.6 / 70.5 / 78.2 / 81.2 %
    per exit and a depth-axis cut 0.5 pt short of 40 % on unseen data seeds): val top-1 per exit
    69.5 / 75.4 / 81.3 / 82.5 % (the tiny net: 43.6 / 61.0 / 68.1 / 69.9 %), 3,600 steps,
    17.4-18.6 min at two threads alone on one 2-core machine (AMD EPYC, AVX512; training seeds
    0, 1 and 2), 33.5 and 38.9 min (two runs, bit-identical weights) on another: a 30-minute
    budget is met on the first and missed on the second (30 epochs would take about 22-26 min
    there). ``kw``: any other :class:`MSDNetConfig` field (it
    overrides the layout).
    """
    return MSDNet(MSDNetConfig(**{**MINI_LAYOUT, "num_classes": num_classes, "shift": shift, **kw}))
