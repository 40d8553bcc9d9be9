"""The tiny multi-exit ResNet of the mini experiments (64x64 RGB frames, ~16 classes, CPU).

Paper: "Dynamic Inference" (Wu et al. 2020), depth-axis scheme (a) on a ResNet.
It is a stand-in for TSM-ResNet-50 that trains on a 2-core CPU in minutes, built on two
lessons from a prototype:

* **A cheap first exit.** Depth-axis savings are capped by the cost of the first exit: a video
  that stops there still paid for it. As in MSDNet (whose first exit costs ~19 % of the full net),
  exit 1 should cost <= 20 % of the per-frame multiply-adds, head included: stage 1 has one
  block, the later stages two. The current layout is at 20.3 % (head 1's 2x2 conv reads 16x16
  maps); ``head_width=48`` would give 19.8 % but needs retrained checkpoints.
* **Fine enough to see small moving objects, cheap enough for a CPU.** A first version used an
  8x8 stride-8 "patchify" stem (64 -> 8 pixels, no layer above 8x8), chosen because
  high-resolution layers with few channels are memory-bound on a CPU. On MiniActions' temporal
  classes (a 4-8 pixel object that moves, turns, grows or fades) it stayed near chance within
  each time-reversal pair. A recipe search (``benchmarks/recipe_search.py``, on a GPU, one seed
  per variant, val split) found that a 4x4 stride-4 stem (16x16 maps in stage 1) raised val
  top-1 from 56 to 65 % at fewer multiply-adds (8.24 M vs 9.65 M per frame), with the channels
  narrowed to keep exit 1 at 20 %; random spatial jitter in training (``--jitter``) added about
  as much again. A CPU training step costs about the same as before (0.53 vs 0.48 s for 16 clips
  of 16 frames, 1 thread). The price is the old lesson: the 16x16 stage is memory-bound on a
  CPU, so stage 1 (with stem and head) took 34 % of the wall time for its 20 % of the MACs
  (``benchmarks/tiny_stage_times.py``, 2 threads, 8 clips x 16 frames, machine shared with a CI
  run; the 8x8 layout measured 20-26 % for 18 %). The heads pool with a learned 2x2 stride-2
  conv (CPU ``avg_pool2d`` took as long as the conv after it).

Layout for a 64x64 frame (defaults ``stem=4``, ``widths=(16, 32, 64, 128)``,
``blocks=(1, 2, 2, 2)``, ``strides=(1, 2, 2, 2)``); cumulative per-frame cost with the heads:
20.3 %, 48 %, 74 %, 100 % of 8.24 M multiply-adds, 0.76 M parameters (MSDNet-38: 19 %, 44 %, 70 %,
91 %, 100 %):

=======  ======================================  ================
stage    layers                                  output
=======  ======================================  ================
stem     4x4 conv stride 4, BN, ReLU             (NT, 16, 16, 16)
0        1 BasicBlock                            (NT, 16, 16, 16) -> exit "stage1"
1        2 BasicBlocks, the first stride 2       (NT, 32, 8, 8)   -> exit "stage2"
2        2 BasicBlocks, the first stride 2       (NT, 64, 4, 4)   -> exit "stage3"
3        2 BasicBlocks, the first stride 2       (NT, 128, 2, 2)  -> exit "stage4"
=======  ======================================  ================

Every BasicBlock has the temporal shift in its residual branch, before its first conv (as in
TSM-ResNet). Each exit head is a 2x2 stride-2 conv to ``head_width`` (64) channels + BN + ReLU,
global average pooling and a linear classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from dynamic_inference.errors import ConfigError
from dynamic_inference.exits import ExitHead, MultiExitNet
from dynamic_inference.shift import SHIFT_MODES, ShiftCache, ShiftMode, TemporalShift


@dataclass
class TinyConfig:
    """Configuration of :class:`TinyNet`: one stage (and one exit) per entry of ``widths``."""

    num_classes: int = 16
    widths: tuple[int, ...] = field(default=(16, 32, 64, 128))
    blocks: tuple[int, ...] = field(default=(1, 2, 2, 2))
    strides: tuple[int, ...] = field(default=(1, 2, 2, 2))  # of each stage's first block
    head_width: int = 64
    stem: int = 4  # patch side and stride of the "patchify" stem conv (4: 64 -> 16 pixels)
    shift: ShiftMode = "online"
    fold_div: int = 8
    dropout: float = 0.0

    def validate(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        n = len(self.widths)
        if n == 0 or len(self.blocks) != n or len(self.strides) != n:
            raise ConfigError(
                f"widths {self.widths}, blocks {self.blocks} and strides {self.strides} need "
                "one entry per stage"
            )
        if min(self.blocks) < 1 or min(self.widths) < 1 or self.head_width < 1:
            raise ConfigError("widths, blocks and head_width must be >= 1")
        if not set(self.strides) <= {1, 2}:
            raise ConfigError(f"strides must be 1 or 2, got {self.strides}")
        if self.shift not in SHIFT_MODES:
            raise ConfigError(f"shift must be one of {SHIFT_MODES}, got {self.shift!r}")
        if not isinstance(self.fold_div, int) or not 2 <= self.fold_div <= min(self.widths):
            raise ConfigError(
                f"fold_div must be an integer in 2..{min(self.widths)} (the narrowest stage)"
            )
        if self.stem not in (2, 4, 8):
            raise ConfigError(f"stem must be 2, 4 or 8 (patch side = stride), got {self.stem!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")


class ShiftBasicBlock(nn.Module):
    """ResNet BasicBlock (two 3x3 convs) with the temporal shift before its first conv."""

    def __init__(self, c_in: int, c_out: int, stride: int, shift: ShiftMode, fold_div: int) -> None:
        super().__init__()
        self.shift = TemporalShift(shift, fold_div)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor, n_frames: int, cache: ShiftCache | None = None) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self.shift(x, n_frames, cache))))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TinyStage(nn.Module):
    """BasicBlocks; the first one may change the width and halve H, W."""

    def __init__(self, blocks: list[ShiftBasicBlock]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor, n_frames: int, cache: ShiftCache | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, n_frames, cache)
        return x


class TinyNet(MultiExitNet):
    """Small multi-exit ResNet for 64x64 frames; see the module docstring."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.num_classes = config.num_classes
        w0 = config.widths[0]
        p = config.stem
        self.stem_layers = nn.Sequential(  # "patchify": one p x p stride-p conv (default p = 8)
            nn.Conv2d(3, w0, kernel_size=p, stride=p, bias=False),  # (NT, w0, H/p, W/p)
            nn.BatchNorm2d(w0),
            nn.ReLU(inplace=True),
        )
        stages, heads = [], []
        c_in = w0
        for width, n_blocks, stage_stride in zip(config.widths, config.blocks, config.strides):
            blocks = []
            for b in range(n_blocks):
                stride = stage_stride if b == 0 else 1
                blocks.append(ShiftBasicBlock(c_in, width, stride, config.shift, config.fold_div))
                c_in = width
            stages.append(TinyStage(blocks))
            features = nn.Sequential(  # (NT, width, h, w) -> (NT, head_width)
                nn.Conv2d(width, config.head_width, 2, stride=2, bias=False),  # (.., h/2, w/2)
                nn.BatchNorm2d(config.head_width),
                nn.ReLU(inplace=True),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(1),
            )
            heads.append(ExitHead(features, config.head_width, config.num_classes, config.dropout))
        self.stages = nn.ModuleList(stages)
        self.heads = nn.ModuleList(heads)
        self.exit_names = [f"stage{k + 1}" for k in range(len(stages))]


def tiny_net(num_classes: int = 16, shift: ShiftMode = "online", **kw: object) -> TinyNet:
    """The mini experiments' model (``kw``: any other :class:`TinyConfig` field)."""
    return TinyNet(TinyConfig(num_classes=num_classes, shift=shift, **kw))
