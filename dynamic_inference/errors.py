"""Typed errors of the library.

Every error a user can cause (a bad file, a bad flag, a wrong shape, a bad threshold) is raised as
one of these classes, with a message that names the thing and says what to do. The command line
catches them and prints one line on stderr with exit code 2, never a
traceback.
"""

from __future__ import annotations


class DynamicInferenceError(Exception):
    """Base class of the errors this library raises on bad input."""


class ConfigError(DynamicInferenceError, ValueError):
    """A bad argument or configuration value (shape, threshold, model name, flag)."""


class VideoDecodeError(DynamicInferenceError, RuntimeError):
    """A video file that is missing, empty, truncated or not a video."""


class AnnotationError(DynamicInferenceError, ValueError):
    """An annotation file that cannot be parsed, or names an unknown label or a missing file."""


class DatasetError(DynamicInferenceError, ValueError):
    """A dataset that cannot be used as asked (empty folder, unknown split, ...)."""


class CheckpointError(DynamicInferenceError, ValueError):
    """A checkpoint that does not match the model, scheme or config it is loaded into."""


class OutputError(DynamicInferenceError, OSError):
    """An output file or folder that cannot be written (read-only, full disk, not a folder)."""
