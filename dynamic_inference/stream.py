"""Online inference on one video file: decode frame by frame, stop decoding once confident.

The input axis of the paper (Approach (b)/(c)) as a live system would run it: the T input frames
of a video (the TSN segment centres) enter the network a group at a time as soon as they have been
decoded, the online shift carries each layer's past frame across groups, the last exit answers on
the running mean of the groups seen so far, and decoding stops when the top-1 probability reaches
the threshold. The network work is the early-exit engine's own group step
(:meth:`~dynamic_inference.engine.EarlyExitEngine.follow`); this module only reads the file,
picks and transforms the frames, and prints the running top-3.

:func:`load_clip` decodes the same frames of a file at once, with the same sampling and
transform, so a streamed answer can be checked against the whole clip.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.data.video import (
    ClipTransform,
    FrameReader,
    TransformConfig,
    load_frames,
    sample_indices,
)
from dynamic_inference.engine import EarlyExitEngine, shift_mode
from dynamic_inference.errors import ConfigError, VideoDecodeError
from dynamic_inference.schemes import frame_order, make_scheme


def eval_transform(height: int, width: int, size: int) -> ClipTransform:
    """The evaluation transform to ``size`` x ``size``: none for frames already that size, else
    resize the short side and centre-crop."""
    native = height == size and width == size
    return ClipTransform(TransformConfig() if native else TransformConfig(resize=size, size=size))


def input_frames(total: int, frames: int) -> list[int]:
    """Which frames of a ``total``-frame video are the ``frames`` input frames (TSN segment
    centres, sorted)."""
    return sample_indices(total, frames, mode="tsn", train=False,
                          rng=np.random.default_rng(0)).tolist()


def load_clip(path: str | Path, frames: int, size: int) -> Tensor:
    """One video file as an evaluation clip ``(T, 3, size, size)``: decode (PyAV), the input
    frames of :func:`input_frames`, :func:`eval_transform`."""
    video = load_frames(path)  # (F, H, W, 3) uint8
    picks = torch.tensor(input_frames(video.shape[0], frames))
    transform = eval_transform(video.shape[1], video.shape[2], size)
    return transform(video[picks], train=False, rng=np.random.default_rng(0))


def stream_video(
    path: str | Path, checkpoint: str | Path, group: int = 2, threshold: float = 0.9,
    frames: int = 16, order: str | None = None,
) -> dict[str, Any]:
    """Online inference on one video file, decoded frame by frame (input-axis rule, last exit).

    The ``frames`` input frames are the TSN segment centres of the video (its frame count from
    the container, or from one counting pass when the container has none). They enter the
    network ``group`` at a time in ``order`` (default: the checkpoint's training order and
    group count; with ``sequential`` the groups are in time order, as from a live camera). A
    group runs as soon as its frames have been decoded; after each group the running top-3 is
    printed, and decoding stops as soon as the top-1 probability reaches ``threshold`` (the
    schemes' rule: 1.0 never fires). Returns the prediction, its class probabilities, the input
    frames used and how many frames of the file were decoded.
    """
    if not 0.0 <= threshold <= 1.0 or threshold != threshold:
        raise ConfigError(f"--threshold must be in [0, 1], got {threshold}")
    if group < 1 or frames < 1 or frames % group:
        raise ConfigError(f"--group {group} must divide --frames {frames} (both >= 1)")
    model, cfg, prov = load_checkpoint(checkpoint)
    if shift_mode(model) == "offline":
        raise ConfigError("streaming needs an online-shift (or no-shift) checkpoint")
    n_groups = frames // group
    # the permutation of training (its group count), fed `group` frames at a time
    order_groups = cfg.groups if frames % cfg.groups == 0 else n_groups
    perm = frame_order(order or cfg.order, frames, order_groups, cfg.seed).tolist()
    with FrameReader(path) as probe:
        total = probe.frame_count
    if total is None:  # no count in the container: count once (cheap next to the network)
        total = sum(1 for _ in FrameReader(path))
    wanted: dict[int, list[int]] = {}  # frame index in the file -> input positions
    for position, index in enumerate(input_frames(total, frames)):
        wanted.setdefault(index, []).append(position)
    scheme = make_scheme("input", n_groups, "sequential")  # frames come in already in `perm`
    n_points = scheme.num_points(model.num_exits)
    engine = EarlyExitEngine(model, scheme, [threshold] * n_points, [1.0] * model.num_exits,
                             frames)
    reader = FrameReader(path)
    classes = prov["classes"]

    def groups() -> Iterator[Tensor]:
        """The groups of input frames, each as soon as the file has delivered its frames."""
        transform: ClipTransform | None = None
        buffer: dict[int, Tensor] = {}  # input position -> (3, H, W) frame
        seen = 0
        for index, image in enumerate(reader):
            for position in wanted.get(index, []):
                if transform is None:
                    transform = eval_transform(image.shape[0], image.shape[1], cfg.input_size)
                buffer[position] = transform(torch.from_numpy(image[None]), train=False)[0]
            # with a strided order the last frames of the file complete several groups at once
            while seen < frames and all(p in buffer for p in perm[seen:seen + group]):
                yield torch.stack([buffer.pop(p) for p in perm[seen:seen + group]])
                seen += group
            if seen == frames:
                return

    seen, prob, stopped = 0, None, False
    with torch.inference_mode(), reader:
        for step in engine.follow(groups()):
            seen = (step.group + 1) * group
            prob = torch.softmax(step.logits.double(), 0)
            top = prob.topk(min(3, len(classes)))
            tops = ", ".join(f"{classes[i]} {p:.2f}" for p, i in zip(top.values, top.indices))
            print(f"frames {seen:>3}/{frames} (decoded {reader.decoded}): {tops}")
            stopped = step.stopped  # the rule fired, or the last group was reached
    if prob is None:
        raise VideoDecodeError(
            f"{path}: only {reader.decoded} frames decoded"
            + (f" ({reader.error})" if reader.error else "")
            + f", not enough for the first group of {group} input frames"
        )
    answer = classes[int(prob.argmax())]
    if stopped and seen < frames:
        print(f"confident after {seen} of {frames} input frames ({reader.decoded} of {total} "
              f"decoded): {answer}")
    elif seen < frames:
        why = reader.error or f"its container said {total}"
        print(f"the video ended after {reader.decoded} frames ({why}); answer from {seen} of "
              f"{frames} input frames: {answer}")
    else:
        print(f"answered after all {frames} input frames: {answer}")
    return {"prediction": answer, "frames_used": seen, "frames_decoded": reader.decoded,
            "frames_in_video": total, "probs": prob.tolist()}


def cli_stream(args: argparse.Namespace) -> int:
    """``python -m dynamic_inference stream VIDEO --checkpoint C``: online inference."""
    stream_video(args.video, args.checkpoint, args.group, args.threshold, args.frames,
                 args.order)
    return 0
