"""Inference-time folding: BatchNorm merged into the convolution before it, weights prepacked.

Not in the paper, which counts FLOPs; this is what turns the engine's skipped FLOPs into time
on a CPU. In eval mode a BatchNorm after a convolution is an
affine map per channel, so it can be folded into the convolution's weight and bias:
``w' = w * gamma / sqrt(var + eps)``, ``b' = beta + (b - mean) * gamma / sqrt(var + eps)``.
That removes one op per convolution, but the larger gain is the second step: on a CPU, PyTorch's
eager ``conv2d`` reorders the weight into oneDNN's blocked layout on *every call*, a fixed cost
that dominates the small calls an early-exit engine issues (one group of a few frames, or the
few videos left at a deep stage). :class:`FoldedConv2d` reorders the weight once and calls
``torch.ops.mkldnn._convolution_pointwise``, the op that ``torch.compile``'s CPU backend emits
for frozen convolutions. Measured here (tiny net, whole network, one call, 1 thread,
``python benchmarks/fold_speed.py``): 1.6x faster on 4 frames, 1.3x on 16, 1.15x on 64, 1.08x
on 256, and no faster on 1 frame (where eager PyTorch takes another convolution path).

Rules (``fold_batchnorm``):

* in an ``nn.Sequential``, a ``Conv2d`` directly followed by a ``BatchNorm2d`` is folded;
* in any other module, children named ``conv<s>`` and ``bn<s>`` (the same suffix ``s``, as in
  torchvision's ResNet blocks) are folded: such a module must apply ``bn<s>`` directly to
  ``conv<s>``'s output, which is true of every backbone here (``tests/test_fold.py`` checks
  each one's outputs against the unfolded model);
* every other ``Conv2d`` keeps its weights and is prepacked too.

The folded model is a copy, for inference only (no gradients through the prepacked weights);
its outputs equal the original's to float rounding (~1e-6 here), so a confidence that sits on
a threshold may fall on the other side: compute the simulation's logits with the same folded
model when comparing it with the engine. Off the CPU, or for other dtypes, the folded weight
runs through plain ``F.conv2d``.
"""

from __future__ import annotations

import copy
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

M = TypeVar("M", bound=nn.Module)


def _can_prepack(weight: Tensor) -> bool:
    return (weight.device.type == "cpu" and weight.dtype == torch.float32
            and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_convolution_pointwise"))


class FoldedConv2d(nn.Module):
    """A ``Conv2d`` (with the ``BatchNorm2d`` after it folded in, if given), for inference."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None) -> None:
        super().__init__()
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("FoldedConv2d supports zero padding given as integers")
        weight, bias = conv.weight.detach(), conv.bias
        if bn is not None:
            weight, bias = fuse_conv_bn_weights(weight, bias, bn.running_mean, bn.running_var,
                                                bn.eps, bn.weight, bn.bias)
        bias = torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device) \
            if bias is None else bias.detach()
        self.register_buffer("weight", weight.detach().clone())  # (C_out, C_in/groups, kh, kw)
        self.register_buffer("bias", bias.clone())  # (C_out,)
        self.stride, self.padding = list(conv.stride), list(conv.padding)
        self.dilation, self.groups = list(conv.dilation), conv.groups
        self.packed: Tensor | None = None  # the weight in oneDNN's layout (CPU float32 only)
        if _can_prepack(self.weight):
            self.packed = torch._C._nn.mkldnn_reorder_conv2d_weight(
                self.weight.to_mkldnn(), self.padding, self.stride, self.dilation, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        if (self.packed is not None and x.device.type == "cpu" and x.dtype == torch.float32
                and not torch.jit.is_tracing()):  # traced (e.g. FLOPs counting): plain conv
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.packed, self.bias, self.padding, self.stride, self.dilation,
                self.groups, "none", [], "")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        c_out, c_in, kh, kw = self.weight.shape
        return (f"{c_in * self.groups}, {c_out}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"prepacked={self.packed is not None}")


def _fold_children(module: nn.Module) -> None:
    names = list(module._modules)
    children = module._modules
    if isinstance(module, nn.Sequential):
        pairs = [(a, b) for a, b in zip(names, names[1:])
                 if isinstance(children[a], nn.Conv2d)
                 and isinstance(children[b], nn.BatchNorm2d)]
    else:
        pairs = [(n, "bn" + n[4:]) for n in names
                 if n.startswith("conv") and isinstance(children[n], nn.Conv2d)
                 and isinstance(children.get("bn" + n[4:]), nn.BatchNorm2d)]
    for conv, bn in pairs:
        children[conv] = FoldedConv2d(children[conv], children[bn])  # type: ignore[arg-type]
        children[bn] = nn.Identity()
    for name, child in children.items():
        if isinstance(child, nn.Conv2d):
            children[name] = FoldedConv2d(child)
        elif child is not None and not isinstance(child, FoldedConv2d):
            _fold_children(child)


def fold_batchnorm(model: M) -> M:
    """An eval-mode copy of ``model`` with every BatchNorm that follows a convolution folded into
    it and every convolution's weight prepacked (see the module docstring for the rules)."""
    folded = copy.deepcopy(model).eval()
    with torch.no_grad():
        _fold_children(folded)
    return folded
