"""dynamic_inference: reference implementation of "Dynamic Inference: A New Approach Toward
Efficient Video Action Recognition" (Wu et al., CVPR Workshops 2020, arXiv 2002.03342).

The public API, one module per concept of the paper (README "Library"):

* backbones with exits: :func:`build_model` (:mod:`~dynamic_inference.backbones`,
  :mod:`~dynamic_inference.exits`), the temporal shift (:mod:`~dynamic_inference.shift`);
* the schemes and their one stop rule: :func:`make_scheme`, :class:`Scheme`, :func:`simulate`,
  :func:`frame_order` (:mod:`~dynamic_inference.schemes`);
* what a scheme pays: :func:`cost_table` (counting, :mod:`~dynamic_inference.flops`) and
  :func:`full_cost`, :func:`exit_costs`, :func:`point_costs` (:mod:`~dynamic_inference.cost`);
* thresholds from validation: :func:`choose_thresholds` (:mod:`~dynamic_inference.calibrate`);
* per-frame logits and the cache a caller holds: :func:`split_logits`, :class:`LogitCache`
  (:mod:`~dynamic_inference.logits`);
* real early exit: :class:`EarlyExitEngine` (:mod:`~dynamic_inference.engine`), and
  :func:`stream_video` for one file (:mod:`~dynamic_inference.stream`); :func:`fold_batchnorm`
  (:mod:`~dynamic_inference.fold`), the inference copy of a model that makes small calls fast;
* evaluation: :class:`Evaluation`, made by ``dynamic_inference.evaluate.evaluate`` (the function
  is not re-exported here: it would hide its module, ``import dynamic_inference.evaluate``);
* checkpoints: :func:`load_checkpoint`, :class:`TrainConfig` (:mod:`~dynamic_inference.checkpoint`);
* the errors every entry point raises for bad input (one line, no traceback on the command line).
"""

from dynamic_inference.backbones import build_model
from dynamic_inference.calibrate import choose_thresholds
from dynamic_inference.checkpoint import TrainConfig, load_checkpoint
from dynamic_inference.cost import exit_costs, full_cost, point_costs
from dynamic_inference.engine import EarlyExitEngine
from dynamic_inference.errors import (
    AnnotationError,
    CheckpointError,
    ConfigError,
    DatasetError,
    DynamicInferenceError,
    VideoDecodeError,
)
from dynamic_inference.evaluate import Evaluation
from dynamic_inference.flops import cost_table
from dynamic_inference.fold import fold_batchnorm
from dynamic_inference.logits import LogitCache, split_logits
from dynamic_inference.schemes import Scheme, frame_order, make_scheme, simulate
from dynamic_inference.stream import stream_video

__version__ = "0.1.0"

__all__ = [
    "AnnotationError",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DynamicInferenceError",
    "EarlyExitEngine",
    "Evaluation",
    "LogitCache",
    "Scheme",
    "TrainConfig",
    "VideoDecodeError",
    "__version__",
    "build_model",
    "choose_thresholds",
    "cost_table",
    "exit_costs",
    "fold_batchnorm",
    "frame_order",
    "full_cost",
    "load_checkpoint",
    "make_scheme",
    "point_costs",
    "simulate",
    "split_logits",
    "stream_video",
]
