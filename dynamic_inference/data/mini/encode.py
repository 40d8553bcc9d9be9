"""Writing MiniActions clips as real H.264 files, and the hashes that pin their bytes.

README, "MiniActions": the clips go through the same PyAV decoding path as the paper's datasets
(:mod:`dynamic_inference.data.video`). 64x64 RGB at 25 fps, written by PyAV/libx264 with
``pix_fmt=yuv444p`` (profile High 4:4:4; 4:2:0 chroma halves the colour resolution of a 64x64
frame, which cost 5 points of accuracy in a prototype) at CRF 23, preset ultrafast (CAVLC: decodes
a clip in ~12 ms on the 2-core CPU). The same frames give the same bytes with the same FFmpeg/x264
build (:func:`library_versions`, recorded in the recipe); the source-frame hashes do not depend on
the build.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ENCODER: dict[str, str] = {
    "codec": "libx264",
    "pix_fmt": "yuv444p",
    "preset": "ultrafast",
    # Without these, x264's lookahead made the bytes of a clip depend on what the process had
    # encoded or decoded before (measured with this build); with them they depend on the frames
    # only.
    "x264-params": "sync-lookahead=0:rc-lookahead=0:no-mbtree=1:bframes=0",
}
"""The x264 settings of every clip; its CRF is ``MiniConfig.crf`` (recorded in the recipe)."""


def library_versions() -> dict[str, str]:
    """PyAV and FFmpeg library versions: the encoder build decides the exact H.264 bytes."""
    versions = {"pyav": av.__version__}
    versions.update({k: ".".join(map(str, v)) for k, v in sorted(av.library_versions.items())})
    return versions


def sha256_hex(data: bytes | np.ndarray) -> str:
    """Hex sha256 of bytes, or of an array's C-order bytes (the manifest's frame hashes)."""
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(data).hexdigest()


def _rgb_to_yuv444(image: np.ndarray) -> list[np.ndarray]:
    """BT.601 limited-range Y, U, V planes (each (H, W) uint8) of an RGB uint8 image (H, W, 3):
    the matrix FFmpeg assumes when it decodes an untagged stream back to RGB."""
    rgb = image.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0
    return [np.clip(np.round(p), 0, 255).astype(np.uint8) for p in (y, u, v)]


def encode_clip(frames: np.ndarray, path: Path, *, fps: int = 25, crf: int = 23) -> None:
    """Write uint8 frames ``(F, H, W, 3)`` as H.264 yuv444p (High 4:4:4) mp4 at ``path``.

    Reproducible bytes: the RGB -> YUV conversion is done here in numpy, every frame carries its
    pts, x264 runs on one thread without lookahead, mb-tree or B-frames (with them its output
    varied with the process's history) and the muxer is ``bitexact``; the bytes then depend only on
    the frames and the FFmpeg/x264 build.
    """
    height, width = int(frames.shape[1]), int(frames.shape[2])
    with av.open(str(path), mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(ENCODER["codec"], rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = ENCODER["pix_fmt"]
        stream.options = {"crf": str(crf), "preset": ENCODER["preset"], "threads": "1",
                          "x264-params": ENCODER["x264-params"]}
        for index, image in enumerate(frames):
            frame = av.VideoFrame(width, height, "yuv444p")
            for plane, values in zip(frame.planes, _rgb_to_yuv444(image), strict=True):
                if plane.line_size == width:
                    plane.update(values.tobytes())
                else:  # padded rows
                    padded = np.zeros((height, plane.line_size), dtype=np.uint8)
                    padded[:, :width] = values
                    plane.update(padded.tobytes())
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
