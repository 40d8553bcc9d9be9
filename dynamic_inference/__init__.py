"""dynamic_inference: reference implementation of "Dynamic Inference: A New Approach Toward
Efficient Video Action Recognition" (Wu et al., CVPR Workshops 2020, arXiv 2002.03342)."""

from dynamic_inference.errors import (
    AnnotationError,
    CheckpointError,
    ConfigError,
    DatasetError,
    DynamicInferenceError,
    VideoDecodeError,
)

__version__ = "0.1.0"

__all__ = [
    "AnnotationError",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DynamicInferenceError",
    "VideoDecodeError",
    "__version__",
]
