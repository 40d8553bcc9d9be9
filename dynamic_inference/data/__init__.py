"""Data: the datasets of the paper (section 4) and MiniActions, decoded and sampled as the paper's
models see them (section 3: T frames per video, TSN sampling).

:func:`load_dataset` is the one entry point; the readers, the decoding and sampling functions and
the MiniActions generator are here for reuse. Modules: :mod:`~dynamic_inference.data.datasets`
(readers of the real formats, :class:`VideoDataset`, :func:`load_dataset`),
:mod:`~dynamic_inference.data.video` (PyAV decoding, frame sampling, transforms),
:mod:`~dynamic_inference.data.records` (what every reader returns) and the package
:mod:`~dynamic_inference.data.mini` (MiniActions).
"""

from dynamic_inference.data.datasets import (
    DatasetConfig,
    VideoDataset,
    load_dataset,
    read_class_list,
    read_hmdb51,
    read_kinetics400,
    read_sthv1,
    read_sthv2,
    read_ucf101,
)
from dynamic_inference.data.mini import (
    CLASS_NAMES,
    CLASSES,
    MiniConfig,
    ensure_mini,
    make_mini,
    read_mini,
)
from dynamic_inference.data.records import AnnotationSet, VideoRecord
from dynamic_inference.data.video import (
    ClipTransform,
    TransformConfig,
    decode_video,
    read_video,
    sample_indices,
)

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "AnnotationSet",
    "ClipTransform",
    "DatasetConfig",
    "MiniConfig",
    "TransformConfig",
    "VideoDataset",
    "VideoRecord",
    "decode_video",
    "ensure_mini",
    "load_dataset",
    "make_mini",
    "read_class_list",
    "read_hmdb51",
    "read_kinetics400",
    "read_mini",
    "read_sthv1",
    "read_sthv2",
    "read_ucf101",
    "read_video",
    "sample_indices",
]
