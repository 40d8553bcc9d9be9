"""Multi-exit backbones: TSN/TSM ResNet-50/101, MSDNet-38 and the tiny net of the mini experiments.

Every backbone is a :class:`~dynamic_inference.exits.MultiExitNet` with a temporal shift mode
``"off"`` / ``"offline"`` / ``"online"``; :func:`build_model` builds one by name.
"""

from __future__ import annotations

from dynamic_inference.backbones.msdnet import MSDNet, MSDNetConfig, msdnet38, msdnet_mini
from dynamic_inference.backbones.resnet_tsm import (
    ResNetTSM,
    ResNetTSMConfig,
    tsm_resnet50,
    tsm_resnet101,
    tsn_resnet50,
    tsn_resnet101,
)
from dynamic_inference.backbones.tiny import TinyConfig, TinyNet, tiny_net
from dynamic_inference.errors import ConfigError
from dynamic_inference.exits import MultiExitNet

MODEL_NAMES: tuple[str, ...] = (
    "tsn_resnet50",
    "tsm_resnet50",
    "tsn_resnet101",
    "tsm_resnet101",
    "msdnet38",
    "tiny",
    "msdnet_mini",
)

MINI_MODELS: tuple[str, ...] = ("tiny", "msdnet_mini")  # sized for 64x64 frames, 16 classes


def default_size(name: str) -> int:
    """The input side a model is used at by default: 64 for the mini models (the tiny net and the
    mini MSDNet), 224 (the paper's) else."""
    return 64 if name in MINI_MODELS else 224


def build_model(
    name: str, num_classes: int, shift: str | None = None, **kw: object
) -> MultiExitNet:
    """Build backbone ``name`` (one of :data:`MODEL_NAMES`) with ``num_classes`` outputs.

    ``shift=None`` keeps the model's default: ``"off"`` for ``tsn_*``, ``"online"`` otherwise.
    ``kw`` goes to the factory (e.g. ``exits=False`` for the ResNets, ``dropout=0.5``).
    """
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ConfigError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if name in ("tsn_resnet50", "tsn_resnet101") and shift not in (None, "off"):
        raise ConfigError(f"{name} has no temporal shift (got shift={shift!r}); use tsm_*")
    try:
        if name == "tsn_resnet50":
            return tsn_resnet50(num_classes, **kw)
        if name == "tsn_resnet101":
            return tsn_resnet101(num_classes, **kw)
        if name == "tsm_resnet50":
            return tsm_resnet50(num_classes, shift or "online", **kw)
        if name == "tsm_resnet101":
            return tsm_resnet101(num_classes, shift or "online", **kw)
        if name == "msdnet38":
            return msdnet38(num_classes, shift or "online", **kw)
        if name == "tiny":
            return tiny_net(num_classes, shift or "online", **kw)
        if name == "msdnet_mini":
            return msdnet_mini(num_classes, shift or "online", **kw)
    except TypeError as e:  # an option the model's config does not have
        raise ConfigError(f"bad option for model {name!r}: {e}") from None
    raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")


__all__ = [
    "MINI_MODELS",
    "MODEL_NAMES",
    "MSDNet",
    "MSDNetConfig",
    "ResNetTSM",
    "ResNetTSMConfig",
    "TinyConfig",
    "TinyNet",
    "build_model",
    "default_size",
    "msdnet38",
    "msdnet_mini",
    "tiny_net",
    "tsm_resnet101",
    "tsm_resnet50",
    "tsn_resnet101",
    "tsn_resnet50",
]
