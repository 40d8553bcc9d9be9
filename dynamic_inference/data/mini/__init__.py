"""MiniActions: a procedurally generated stand-in for the paper's action datasets.

The paper's premise (section 1) is that videos differ in how hard they are to recognise;
MiniActions makes that difference controllable and recorded, at a size a 2-core CPU can train on
(README, "MiniActions"): 16 classes of 64x64 H.264 clips of 32 to 48 frames at 25 fps, longer
than the 8/16-frame model input, so TSN sampling moves objects several pixels between sampled
frames. The clips are read back through the same PyAV path as the paper's datasets
(:mod:`dynamic_inference.data.video`).

One module a job, each read top to bottom:

* :mod:`~dynamic_inference.data.mini.classes`: the 8 scene classes and the 4 time-reversal
  pairs of temporal classes (:data:`CLASSES`; which class is played backwards);
* :mod:`~dynamic_inference.data.mini.spec`: the generation settings (:class:`MiniConfig`) and
  what determines each clip (:class:`ClipSpec`: appearance difficulty, evidence window);
* :mod:`~dynamic_inference.data.mini.render`: the source frames (:func:`render_clip`) and the
  class figures (:func:`class_strip`, :func:`class_strips`);
* :mod:`~dynamic_inference.data.mini.encode`: H.264 files (:func:`encode_clip`) and hashes;
* :mod:`~dynamic_inference.data.mini.annotations`: the CSV rows, written and read
  (:func:`read_mini`);
* :mod:`~dynamic_inference.data.mini.build`: the dataset folder (:func:`make_mini`,
  :func:`ensure_mini`, :func:`verify_mini`, the recipe and manifest) and the ``make-mini``
  command (:func:`~dynamic_inference.data.mini.build.cli_make_mini`).
"""

from dynamic_inference.data.mini.annotations import read_mini
from dynamic_inference.data.mini.build import (
    DATASET_VERSION,
    DEFAULT_ROOT,
    MiniSummary,
    default_root,
    ensure_mini,
    load_recipe,
    make_mini,
    verify_mini,
)
from dynamic_inference.data.mini.classes import (
    CLASS_NAMES,
    CLASSES,
    PLAYED_BACKWARDS,
    MiniClass,
    mini_reverse_labels,
)
from dynamic_inference.data.mini.encode import encode_clip, library_versions
from dynamic_inference.data.mini.render import class_strip, class_strips, render_clip
from dynamic_inference.data.mini.spec import DEFAULT_SEED, SPLITS, ClipSpec, MiniConfig, clip_specs

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "DATASET_VERSION",
    "DEFAULT_ROOT",
    "DEFAULT_SEED",
    "PLAYED_BACKWARDS",
    "SPLITS",
    "ClipSpec",
    "MiniClass",
    "MiniConfig",
    "MiniSummary",
    "class_strip",
    "class_strips",
    "clip_specs",
    "default_root",
    "encode_clip",
    "ensure_mini",
    "library_versions",
    "load_recipe",
    "make_mini",
    "mini_reverse_labels",
    "read_mini",
    "render_clip",
    "verify_mini",
]
