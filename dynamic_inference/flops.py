"""Per-frame, per-exit and per-video cost tables (the paper's "Average FLOPs/Video" metric).

Paper: "Dynamic Inference" (Wu et al. 2020), "Evaluation Metrics", "Cost":
cost of a video = per-frame cost x number of processed frames. FLOPs are multiply-adds (MACs), as
fvcore counts them and as the TSM and MSDNet papers report them.

How a :class:`CostTable` is counted (:func:`cost_table`): fvcore's ``FlopCountAnalysis`` traces
stem, stages and heads of the model, one after another, on one 3 x size x size frame in eval mode
(the cost is per frame and linear in the number of frames; batch norm is counted in its
inference form). With fvcore's default handlers:

* convolutions and linear layers: multiply-adds;
* batch norm: 2 per element (scale and shift), adaptive average pooling: 1 per input element; this
  is how fvcore gets 4.11 G for torchvision's ResNet-50 at 224;
* not counted (0): the temporal shift (a memory copy, no arithmetic: the point of TSM), max and
  fixed-window average pooling, residual additions, ReLU, concatenation. These are memory-bound
  ops; they cost wall time, not multiply-adds, and are left out as in every paper of this line of
  work. fvcore's "unsupported operator" and tracer warnings are silenced.

**Cumulative cost of exit k** (``CostTable.gflops_per_frame[k]``): stem + stages 0..k + heads
0..k. In the depth-axis scheme a video that stops at exit k has evaluated every earlier head too
(each one decided "not confident yet"), so they are counted. This is also how MSDNet reports its
anytime cost and what reproduces the paper's MSDNet-38 numbers (3.25 G/frame, 52 G for 16
frames). ``CostTable.full_gflops_per_frame`` is the cost of running only the last head (stem +
all stages + last head): full inference without any intermediate decision.
``video_gflops(table, frames, exit, heads="last")`` gives the same choice per exit.

Which of these costs a scheme pays at each decision point (the heads it runs, full inference,
fixed exits) is :mod:`dynamic_inference.cost`'s one rule; this module only counts.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from dynamic_inference.errors import ConfigError
from dynamic_inference.exits import MultiExitNet

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # fvcore.nn warns about torch.jit.script on import
    from fvcore.nn import FlopCountAnalysis


@dataclass(frozen=True)
class CostTable:
    """Per-frame costs of a multi-exit model at one input size (GFLOPs = 1e9 multiply-adds).

    ``gflops_per_frame[k]``: cumulative cost of exit k, stem + stages 0..k + heads 0..k;
    ``stage_gflops[k]``: stage k alone (the stem is included in stage 0);
    ``head_gflops[k]``: head k alone; ``by_operator``: GFLOPs per fvcore operator type.
    """

    model: str
    size: int
    exit_names: tuple[str, ...]
    gflops_per_frame: tuple[float, ...]
    params_m: float
    stage_gflops: tuple[float, ...]
    head_gflops: tuple[float, ...]
    by_operator: dict[str, float] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def num_exits(self) -> int:
        return len(self.exit_names)

    @property
    def full_gflops_per_frame(self) -> float:
        """Stem + every stage + the last head only (full inference, no intermediate heads)."""
        return sum(self.stage_gflops) + self.head_gflops[-1]

    def exit_index(self, exit: int | str) -> int:
        """Index of an exit given by position (negative allowed) or name."""
        if isinstance(exit, str):
            if exit not in self.exit_names:
                raise ConfigError(f"unknown exit {exit!r}; exits are {list(self.exit_names)}")
            return self.exit_names.index(exit)
        if not -self.num_exits <= exit < self.num_exits:
            raise ConfigError(f"exit {exit} out of range for {self.num_exits} exits")
        return exit % self.num_exits


def model_name(model: nn.Module) -> str:
    """A readable name for ``model``: the :func:`~dynamic_inference.backbones.build_model` name
    where it has one, else the class name."""
    cfg = getattr(model, "config", None)
    kind = type(model).__name__
    if kind == "ResNetTSM" and cfg is not None:
        return f"{'tsn' if cfg.shift == 'off' else 'tsm'}_resnet{cfg.depth}"
    if kind == "MSDNet" and cfg is not None:
        from dynamic_inference.backbones.msdnet import MINI_LAYOUT

        if all(getattr(cfg, key) == value for key, value in MINI_LAYOUT.items()):
            return "msdnet_mini"
        n_layers = cfg.base + cfg.step * (cfg.n_blocks - 1)
        return f"msdnet{n_layers + 3}"  # + the first layer and the two classifier convs
    if kind == "TinyNet":
        return "tiny"
    return kind


class _Unrolled(nn.Module):
    """Runs stem, every stage and every head on single frames, with a plain-int frame count
    (tracing ``MultiExitNet.forward`` would turn the frame count into a tensor)."""

    def __init__(self, net: MultiExitNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        state = self.net.stem(x)
        logits = []
        for k in range(self.net.num_exits):
            state = self.net.stage(k, state, 1, None)
            logits.append(self.net.heads[k](state))
        return tuple(logits)


def _check_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 32 or size % 32:
        raise ConfigError(
            f"input size must be a multiple of 32 and >= 32 (5 halvings in the backbones), "
            f"got {size!r}"
        )


def check_input_size(model: MultiExitNet, size: int, what: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``model`` can take ``size`` x ``size`` frames: a
    multiple of 32, and large enough that no layer shrinks a map below its kernel (the tiny
    net's stem and 2x2 heads need 64). Runs the model once on one zero frame to find out."""
    _check_size(size)
    was_training = model.training
    param = next(model.parameters())
    x = torch.zeros(1, 3, size, size, device=param.device, dtype=param.dtype)
    model.eval()
    try:
        with torch.no_grad():
            _Unrolled(model)(x)
    except RuntimeError:
        raise ConfigError(
            f"{what or f'input size {size}'}: model {model_name(model)} cannot take {size}x{size} "
            "frames (a layer shrinks them below its kernel); use a larger multiple of 32"
        ) from None
    finally:
        model.train(was_training)


def cost_table(model: MultiExitNet, size: int, name: str | None = None) -> CostTable:
    """Count the :class:`CostTable` of ``model`` on one ``size`` x ``size`` frame.

    Counting traces the network once (about a second for the tiny net, more at paper scale);
    a caller that needs the table again keeps it (nothing is cached here)."""
    check_input_size(model, size, f"--size {size}")
    was_training = model.training
    param = next(model.parameters())
    x = torch.zeros(1, 3, size, size, device=param.device, dtype=param.dtype)
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(_Unrolled(model), (x,))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            per_module = analysis.by_module()
            per_op = analysis.by_operator()
    finally:
        model.train(was_training)
    k_exits = model.num_exits
    stages = [per_module[f"net.stages.{k}"] / 1e9 for k in range(k_exits)]
    stages[0] += per_module["net.stem_layers"] / 1e9
    heads = [per_module[f"net.heads.{k}"] / 1e9 for k in range(k_exits)]
    cumulative = [sum(stages[: k + 1]) + sum(heads[: k + 1]) for k in range(k_exits)]
    return CostTable(
        model=name or model_name(model),
        size=size,
        exit_names=tuple(model.exit_names),
        gflops_per_frame=tuple(cumulative),
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        stage_gflops=tuple(stages),
        head_gflops=tuple(heads),
        by_operator={op: n / 1e9 for op, n in per_op.items()},
    )


def video_gflops(
    table: CostTable,
    frames: int,
    exit: int | str = -1,
    heads: Literal["all", "last"] = "all",
) -> float:
    """GFLOPs for ``frames`` frames that stop at ``exit``.

    ``heads="all"``: every head up to ``exit`` was evaluated (depth-axis scheme);
    ``heads="last"``: only head ``exit`` was (a fixed exit without earlier decisions).
    """
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
        raise ConfigError(f"frames must be an integer >= 1, got {frames!r}")
    k = table.exit_index(exit)
    if heads == "all":
        return frames * table.gflops_per_frame[k]
    if heads == "last":
        return frames * (sum(table.stage_gflops[: k + 1]) + table.head_gflops[k])
    raise ConfigError(f"heads must be 'all' or 'last', got {heads!r}")


def flops_report(
    name: str, frames: int, size: int | None = None, classes: int | None = None, **kw: Any
) -> dict[str, Any]:
    """The ``flops`` command's JSON object for model ``name`` (see :func:`cli_flops`)."""
    from dynamic_inference.backbones import MINI_MODELS, MODEL_NAMES, build_model, default_size

    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
        raise ConfigError(f"--frames must be an integer >= 1, got {frames!r}")
    size = default_size(name) if size is None else size
    classes = (16 if name in MINI_MODELS else 400) if classes is None else classes
    _check_size(size)
    table = cost_table(build_model(name, classes, **kw), size, name)
    return {
        "model": name,
        "frames": frames,
        "size": size,
        "params_m": round(table.params_m, 4),
        "gflops_per_video": round(video_gflops(table, frames), 4),
        "exits": [
            {"name": n, "gflops_per_frame": round(g, 5)}
            for n, g in zip(table.exit_names, table.gflops_per_frame)
        ],
    }


def cli_flops(args: Any) -> int:
    """``python -m dynamic_inference flops --model NAME --frames T [--size S] [--classes C]
    [--json]``.

    ``args`` has ``model``, ``frames``, ``size`` (None: 224, or 64 for ``tiny`` and
    ``msdnet_mini``), ``classes`` (None: 400, or 16 for those two) and ``json``; an optional
    ``exits=False`` builds the ResNets with the final exit only (the TSN/TSM baselines). Prints
    the JSON object ``{"model", "frames", "size", "params_m", "gflops_per_video", "exits": [{"name",
    "gflops_per_frame"}]}`` with ``--json``, a table otherwise. ``gflops_per_video`` is
    ``frames`` x the cumulative cost of the last exit (all heads counted). Bad input raises
    :class:`~dynamic_inference.errors.ConfigError`.
    """
    kw: dict[str, Any] = {}
    if getattr(args, "exits", None) is False:
        if not str(args.model).endswith(("resnet50", "resnet101")):
            raise ConfigError("exits=False (final exit only) is available for the ResNets only")
        kw["exits"] = False
    report = flops_report(
        args.model, args.frames, getattr(args, "size", None), getattr(args, "classes", None), **kw
    )
    if getattr(args, "json", False):
        print(json.dumps(report))
        return 0
    print(
        f"{report['model']}: {report['frames']} frames of {report['size']}x{report['size']}, "
        f"{report['params_m']:.2f} M params, {report['gflops_per_video']:.2f} GFLOPs per video "
        "(multiply-adds, up to the last exit)"
    )
    print(f"{'exit':<10} {'GFLOPs/frame':>14} {'GFLOPs/video':>14}   (cumulative, heads included)")
    for e in report["exits"]:
        g = e["gflops_per_frame"]
        print(f"{e['name']:<10} {g:>14.4f} {g * report['frames']:>14.3f}")
    return 0
