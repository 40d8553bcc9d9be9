"""TSN / TSM ResNet-50 and ResNet-101 with exit heads (the paper's ResNet backbones).

Paper: "Dynamic Inference" (Wu et al. 2020), section "Instantiation: MSDNet-38 & ResNet-50" and
the comparison table (ResNet-50: 29.12 M params; ResNet-101: 48.12 M). Temporal shift: TSM (Lin
et al. ICCV 2019), residual shift: the shift sits in the residual branch of every Bottleneck,
before its first conv (``conv1``), so the identity path keeps the unshifted frame. TSN (Wang et
al. 2016) is the same network with the shift off.

The network is torchvision's ResNet (``weights=None``, so parameter names and shapes are those of
torchvision's ``layerN.i.convJ``), cut into three stages with a checkpoint after each:

* stage 0 = ``layer1`` + ``layer2`` -> exit ``"layer2"``, 512 channels at 1/8 of the input;
* stage 1 = ``layer3``              -> exit ``"layer3"``, 1024 channels at 1/16;
* stage 2 = ``layer4``              -> exit ``"layer4"``, 2048 channels at 1/32 (the original
  ``avgpool`` + ``fc`` of ResNet).

There is no checkpoint after ``layer1``: its features are too shallow to classify actions, and a
fourth head would only add cost (the slides show three checkpoints).

**Intermediate exit heads.** Each one turns the checkpoint into what the final head sees, a
2048-channel map at 1/32 of the input: average pooling down to 1/32 (4x4 after ``layer2``, 2x2
after ``layer3``), a 1x1 conv to 2048 channels, BN, ReLU, global average pooling, and a linear
classifier. At 400 classes the two heads have 1.05 M + 0.82 M and 2.10 M + 0.82 M parameters; the
whole ResNet-50 has 29.12 M, which is the paper's count to 0.01 % (the paper does not describe its
heads; a 1x1 projection to 2048 channels is the head that reproduces 29.12 M, and our pooling in
front of it only makes it cheap: 0.05 and 0.10 GFLOPs at 224). With ``exits=False`` only the
final head exists: 24.33 M parameters and torchvision's 4.11 GFLOPs per 224x224 frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn
from torchvision.models import resnet as tv_resnet

from dynamic_inference.errors import ConfigError
from dynamic_inference.exits import ExitHead, MultiExitNet
from dynamic_inference.shift import SHIFT_MODES, ShiftCache, ShiftMode, TemporalShift

_DEPTHS: dict[int, list[int]] = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}


@dataclass
class ResNetTSMConfig:
    """Configuration of :class:`ResNetTSM`.

    ``shift``: ``"off"`` (TSN), ``"offline"`` or ``"online"`` (TSM); ``exits``: add the two
    intermediate exit heads (``False``: only the final ``fc``); ``dropout``: before each
    classifier (TSM uses 0.5 when training on Kinetics).
    """

    depth: int = 50
    num_classes: int = 400
    shift: ShiftMode = "online"
    fold_div: int = 8
    exits: bool = True
    dropout: float = 0.0

    def validate(self) -> None:
        if self.depth not in _DEPTHS:
            raise ConfigError(f"ResNet depth must be one of {sorted(_DEPTHS)}, got {self.depth}")
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if self.shift not in SHIFT_MODES:
            raise ConfigError(f"shift must be one of {SHIFT_MODES}, got {self.shift!r}")
        if not isinstance(self.fold_div, int) or self.fold_div < 2:
            raise ConfigError(f"fold_div must be an integer >= 2, got {self.fold_div!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")


class ShiftBottleneck(nn.Module):
    """torchvision's Bottleneck with a temporal shift in front of ``conv1`` (residual shift).

    Takes over the layers of a torchvision ``Bottleneck`` (same parameter names), so
    ``forward(x, n_frames, cache)`` can pass the frame count and the streaming cache.
    """

    def __init__(self, block: tv_resnet.Bottleneck, shift: ShiftMode, fold_div: int) -> None:
        super().__init__()
        self.shift = TemporalShift(shift, fold_div)
        self.conv1, self.bn1 = block.conv1, block.bn1
        self.conv2, self.bn2 = block.conv2, block.bn2
        self.conv3, self.bn3 = block.conv3, block.bn3
        self.relu = block.relu
        self.downsample = block.downsample

    def forward(self, x: Tensor, n_frames: int, cache: ShiftCache | None = None) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self.shift(x, n_frames, cache))))  # 1x1, C -> width
        out = self.relu(self.bn2(self.conv2(out)))  # 3x3 (stride 1 or 2)
        out = self.bn3(self.conv3(out))  # 1x1, width -> 4 * width
        return self.relu(out + identity)


class ShiftStage(nn.Module):
    """A sequence of blocks that all take ``(x, n_frames, cache)``: one stage of the network."""

    def __init__(self, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor, n_frames: int, cache: ShiftCache | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, n_frames, cache)
        return x


def _projection_head(
    in_channels: int, pool: int, num_classes: int, dropout: float, out_channels: int = 2048
) -> ExitHead:
    """Intermediate exit: avg-pool by ``pool``, 1x1 conv to 2048, BN, ReLU, GAP, linear."""
    features = nn.Sequential(
        nn.AvgPool2d(pool, ceil_mode=True),  # (NT, C, H, W) -> (NT, C, H/pool, W/pool)
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),  # (NT, 2048)
    )
    return ExitHead(features, out_channels, num_classes, dropout)


class ResNetTSM(MultiExitNet):
    """ResNet-50/101 with residual temporal shift and exits after layer2, layer3, layer4.

    Input clips ``(N, T, 3, H, W)`` with H, W divisible by 32; see the module docstring.
    """

    def __init__(self, config: ResNetTSMConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.num_classes = config.num_classes
        tv = tv_resnet.ResNet(tv_resnet.Bottleneck, _DEPTHS[config.depth])  # random init
        self.stem_layers = nn.Sequential(tv.conv1, tv.bn1, tv.relu, tv.maxpool)  # -> (NT,64,H/4)

        def blocks(layer: nn.Sequential) -> list[ShiftBottleneck]:
            return [ShiftBottleneck(b, config.shift, config.fold_div) for b in layer]

        self.stages = nn.ModuleList(
            [
                ShiftStage(blocks(tv.layer1) + blocks(tv.layer2)),  # -> (NT, 512, H/8, W/8)
                ShiftStage(blocks(tv.layer3)),  # -> (NT, 1024, H/16, W/16)
                ShiftStage(blocks(tv.layer4)),  # -> (NT, 2048, H/32, W/32)
            ]
        )
        final = ExitHead(
            nn.Sequential(tv.avgpool, nn.Flatten(1)), 2048, config.num_classes, config.dropout
        )
        if config.exits:
            self.heads = nn.ModuleList(
                [
                    _projection_head(512, 4, config.num_classes, config.dropout),
                    _projection_head(1024, 2, config.num_classes, config.dropout),
                    final,
                ]
            )
            self.exit_names = ["layer2", "layer3", "layer4"]
        else:
            # A single exit after the whole network: the stages still run one after another.
            self.stages = nn.ModuleList([ShiftStage(list(self.stages))])
            self.heads = nn.ModuleList([final])
            self.exit_names = ["layer4"]


def _resnet(depth: int, num_classes: int, shift: ShiftMode, **kw: object) -> ResNetTSM:
    return ResNetTSM(ResNetTSMConfig(depth=depth, num_classes=num_classes, shift=shift, **kw))


def tsm_resnet50(
    num_classes: int = 400, shift: ShiftMode = "online", exits: bool = True, **kw: object
) -> ResNetTSM:
    """TSM ResNet-50 (shift ``"online"`` by default; ``"offline"`` is TSM's bidirectional one)."""
    return _resnet(50, num_classes, shift, exits=exits, **kw)


def tsm_resnet101(
    num_classes: int = 400, shift: ShiftMode = "online", exits: bool = True, **kw: object
) -> ResNetTSM:
    """TSM ResNet-101 (shift ``"online"`` by default)."""
    return _resnet(101, num_classes, shift, exits=exits, **kw)


def tsn_resnet50(num_classes: int = 400, exits: bool = True, **kw: object) -> ResNetTSM:
    """TSN ResNet-50: the same network without temporal shift."""
    return _resnet(50, num_classes, "off", exits=exits, **kw)


def tsn_resnet101(num_classes: int = 400, exits: bool = True, **kw: object) -> ResNetTSM:
    """TSN ResNet-101: the same network without temporal shift."""
    return _resnet(101, num_classes, "off", exits=exits, **kw)
