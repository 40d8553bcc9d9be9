"""Drawing the source frames of a MiniActions clip (before H.264 coding), and the class figures.

README, "MiniActions"; the two kinds of class stand in for the paper's appearance and temporal
datasets (section 4). Images are float32 ``(H, W, 3)`` in [0, 1], clips float32 ``(F, H, W, 3)``
until :func:`render_clip` turns them into uint8.

* **Scene** clips draw their class's layout over a class-independent random *neutral
  background* (gradient + soft blobs) shared by all classes. The appearance difficulty ``d``
  fades the layout into that background (opacity ``1 - 0.7 d``), shrinks it to a sub-window
  (side ``64 (1 - 0.5 d u)``), zooms it by an odd factor (``exp(0.6 d U[-1, 1])``), adds clutter
  shapes (``Binomial(12, d)``), pixel noise (``sigma = 0.005 + 0.045 d``) and, with probability
  ``0.6 d``, an occluding rectangle. The layout pans slowly (< 0.3 px/frame).
* **Temporal** clips show one object (shape and colour random per clip) on a neutral
  background. **No single-frame shortcut by construction**: a clip of the second class of a pair
  is a clip drawn from the *first* class's process and played backwards, and every process has a
  random phase that makes each frame's state uniformly distributed at every time (wrap-around
  translation from a uniform start; size/opacity sawtooth cycles and rotation angle starting at a
  uniform phase). So any single frame, the first included, has the same distribution in both
  classes of a pair (H.264 coding is not time-symmetric, but its artefacts are far below what a
  classifier of single frames can use). Difficulty ``d`` lowers the object's contrast
  (``0.55 - 0.4 d``) and size, adds static clutter, noise and occluders (which the object passes
  behind).

Read top to bottom: drawing primitives, backgrounds and distractors, the scene layouts, the two
kinds of clip, :func:`render_clip`, and the figures (:func:`class_strip`, :func:`class_strips`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from dynamic_inference.data.mini.classes import CLASS_NAMES, CLASSES, PLAYED_BACKWARDS
from dynamic_inference.data.mini.spec import ClipSpec, MiniConfig

Image = np.ndarray
_SHAPES = ("disk", "square", "diamond", "ring")


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (Y, X), each (size, size) float32."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return ys, xs


def _soft(x: np.ndarray) -> np.ndarray:
    """Anti-aliased step: 0 below -0.5, 1 above 0.5."""
    return np.clip(x + 0.5, 0.0, 1.0)


def _shape_mask(
    kind: str, dx: np.ndarray, dy: np.ndarray, radius: float | np.ndarray,
    angle: float | np.ndarray,
) -> Image:
    """Soft mask of a shape of ``radius`` centred at offsets (dx, dy), rotated by ``angle``;
    (H, W), or (F, H, W) when the arguments carry a leading frame axis (broadcasting)."""
    cos, sin = np.cos(angle), np.sin(angle)
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy
    if kind == "disk":
        return _soft(radius - np.hypot(u, v))
    if kind == "square":
        return _soft(0.85 * radius - np.maximum(np.abs(u), np.abs(v)))
    if kind == "diamond":
        return _soft(1.2 * radius - (np.abs(u) + np.abs(v)))
    if kind == "ring":
        d = np.hypot(u, v)
        return _soft(radius - d) * _soft(d - 0.5 * radius)
    raise ValueError(kind)


def _paint(image: Image, mask: Image, colour: np.ndarray, alpha: float = 1.0) -> Image:
    """Alpha-blend ``colour`` (3,) into ``image`` (H, W, 3) where ``mask`` (H, W) is set."""
    m = (mask * alpha)[..., None]
    return image * (1.0 - m) + colour.astype(np.float32) * m


def _neutral_background(rng: np.random.Generator, size: int) -> Image:
    """Class-independent background: a muted colour gradient plus soft blobs (H, W, 3)."""
    ys, xs = _grid(size)
    grey = rng.uniform(0.3, 0.7)
    c0 = np.clip(grey + rng.uniform(-0.12, 0.12, 3), 0, 1)
    c1 = np.clip(c0 + rng.normal(0, 0.1, 3), 0, 1)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = ((xs - size / 2) * math.cos(angle) + (ys - size / 2) * math.sin(angle)) / size + 0.5
    image = c0 + (c1 - c0) * ramp[..., None]
    for _ in range(3):
        cy, cx = rng.uniform(0, size, 2)
        sigma = rng.uniform(8, 16)
        blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))
        image = image + blob[..., None] * rng.normal(0, 0.08, 3)
    return np.clip(image, 0, 1).astype(np.float32)


def _contrasting_colour(rng: np.random.Generator, base: np.ndarray, contrast: float) -> np.ndarray:
    """A colour that differs from ``base`` (3,) by about ``contrast`` in brightness."""
    sign = -1.0 if float(base.mean()) > 0.5 else 1.0
    return np.clip(base + sign * contrast + rng.normal(0, 0.12, 3), 0, 1)


def _clutter(rng: np.random.Generator, size: int, count: int) -> list[tuple[Image, np.ndarray]]:
    """``count`` static distractor shapes as (mask (H, W), colour (3,)) pairs."""
    ys, xs = _grid(size)
    items = []
    for _ in range(count):
        cy, cx = rng.uniform(0, size, 2)
        kind = _SHAPES[int(rng.integers(len(_SHAPES)))]
        mask = _shape_mask(kind, xs - cx, ys - cy, rng.uniform(1.5, 4.5), rng.uniform(0, math.pi))
        items.append((mask, rng.uniform(0, 1, 3)))
    return items


def _occluder(rng: np.random.Generator, size: int) -> tuple[Image, np.ndarray]:
    """A static occluding rectangle (mask, colour)."""
    ys, xs = _grid(size)
    h, w = rng.uniform(12, 30, 2)
    top, left = rng.uniform(-4, size - h + 4), rng.uniform(-4, size - w + 4)
    mask = _soft(np.minimum.reduce([ys - top, top + h - ys, xs - left, left + w - xs]))
    return mask, np.clip(rng.uniform(0.2, 0.8) + rng.uniform(-0.1, 0.1, 3), 0, 1)


def _flatten(layers: Sequence[tuple[Image, np.ndarray]], size: int) -> tuple[Image, Image]:
    """Compose static layers (mask (H, W), colour (3,)), painted in order, into one overlay:
    premultiplied colour (H, W, 3) and coverage (H, W, 1); ``image * (1 - a) + c`` paints all."""
    colour = np.zeros((size, size, 3), dtype=np.float32)
    coverage = np.zeros((size, size, 1), dtype=np.float32)
    for mask, layer_colour in layers:
        m = mask[..., None].astype(np.float32)
        colour = colour * (1 - m) + layer_colour.astype(np.float32) * m
        coverage = coverage * (1 - m) + m
    return colour, coverage


def _shift(canvas: Image, dy: float, dx: float, size: int) -> Image:
    """The (size, size) window of ``canvas`` at sub-pixel offset (dy, dx) >= 0, bilinear."""
    iy, ix = int(math.floor(dy)), int(math.floor(dx))
    fy, fx = dy - iy, dx - ix
    a = canvas[iy : iy + size + 1, ix : ix + size + 1]
    top = a[:-1, :-1] * (1 - fx) + a[:-1, 1:] * fx
    bottom = a[1:, :-1] * (1 - fx) + a[1:, 1:] * fx
    return top * (1 - fy) + bottom * fy


def _jitter(c: np.ndarray, rng: np.random.Generator, amount: float = 0.06) -> np.ndarray:
    return np.clip(np.asarray(c, dtype=np.float32) + rng.uniform(-amount, amount, 3), 0, 1)


LayoutFn = Callable[[np.ndarray, np.ndarray], Image]


def _noise_sigma(difficulty: float) -> float:
    """Per-pixel Gaussian noise of a clip of the given appearance difficulty."""
    return 0.005 + 0.045 * difficulty


def _make_layout(label: int, rng: np.random.Generator) -> LayoutFn:
    """The scene layout of class ``label`` with its random parameters drawn now.

    Returns ``f(u, v) -> (H, W, 3)`` rendering the layout at layout coordinates ``u`` (x) and
    ``v`` (y), both (H, W) in pixels; the layout is defined on the whole plane so it can pan.
    """
    name = CLASS_NAMES[label]
    if name == "beach":
        sky, sea, sand = (_jitter(c, rng) for c in ((0.55, 0.8, 0.95), (0.1, 0.35, 0.7),
                                                    (0.9, 0.8, 0.5)))
        h1, h2 = rng.uniform(18, 26), rng.uniform(36, 44)

        def beach(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            image = _paint(image, _soft(v - h1), sea)
            return _paint(image, _soft(v - h2), sand)

        return beach
    if name == "forest":
        ground, canopy, bark = (_jitter(c, rng) for c in ((0.1, 0.35, 0.12), (0.25, 0.6, 0.2),
                                                          (0.4, 0.24, 0.1)))
        top = rng.uniform(10, 18)
        trunks = [(x, rng.uniform(2.5, 5.5)) for x in np.sort(rng.uniform(-20, 84, 9))]

        def forest(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(ground, u.shape + (3,)).astype(np.float32)
            for x, w in trunks:
                image = _paint(image, _soft(w / 2 - np.abs(u - x)) * _soft(v - top), bark)
            return _paint(image, _soft(top - v), canopy)

        return forest
    if name == "night_sky":
        sky, star, moon = (_jitter(c, rng) for c in ((0.03, 0.05, 0.22), (0.95, 0.95, 0.8),
                                                     (0.95, 0.92, 0.7)))
        stars = rng.uniform(-20, 84, (22, 2))
        moon_xy, moon_r = (rng.uniform(10, 54), rng.uniform(8, 24)), rng.uniform(6, 9)

        def night(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            for sx, sy in stars:
                image = _paint(image, _soft(1.1 - np.hypot(u - sx, v - sy)), star)
            return _paint(image, _soft(moon_r - np.hypot(u - moon_xy[0], v - moon_xy[1])), moon)

        return night
    if name == "city":
        sky, wall, light = (_jitter(c, rng) for c in ((0.95, 0.6, 0.35), (0.38, 0.38, 0.42),
                                                      (0.95, 0.85, 0.3)))
        edges = np.cumsum(rng.uniform(6, 12, 14)) - 24.0
        heights = rng.uniform(16, 42, len(edges))

        def city(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            index = np.clip(np.searchsorted(edges, u), 0, len(edges) - 1)
            building = _soft(v - (64.0 - heights[index]))
            image = _paint(image, building, wall)
            windows = ((np.floor(u / 3) % 2 == 0) & (np.floor(v / 3) % 2 == 0)).astype(np.float32)
            return _paint(image, building * windows * _soft(v - (66.0 - heights[index])), light)

        return city
    if name == "snowfield":
        sky, snow, track = (_jitter(c, rng) for c in ((0.55, 0.6, 0.7), (0.96, 0.97, 0.99),
                                                      (0.7, 0.74, 0.84)))
        horizon, angle, period = rng.uniform(20, 30), rng.uniform(0.5, 1.1), rng.uniform(8, 12)

        def snowfield(u: np.ndarray, v: np.ndarray) -> Image:
            image = np.broadcast_to(sky, u.shape + (3,)).astype(np.float32)
            image = _paint(image, _soft(v - horizon), snow)
            phase = (u * math.cos(angle) + v * math.sin(angle)) % period
            tracks = _soft(1.0 - np.abs(phase - period / 2)) * _soft(v - horizon - 2)
            return _paint(image, tracks, track)

        return snowfield
    if name == "sunset":
        high, low, sun, ground = (_jitter(c, rng) for c in ((0.35, 0.15, 0.45), (0.98, 0.55, 0.2),
                                                            (1.0, 0.88, 0.35), (0.15, 0.08, 0.1)))
        horizon, sun_x, sun_r = rng.uniform(38, 46), rng.uniform(16, 48), rng.uniform(8, 12)

        def sunset(u: np.ndarray, v: np.ndarray) -> Image:
            t = np.clip(v / horizon, 0, 1)[..., None]
            image = (high * (1 - t) + low * t).astype(np.float32)
            image = _paint(image, _soft(sun_r - np.hypot(u - sun_x, v - horizon)), sun)
            return _paint(image, _soft(v - horizon), ground)

        return sunset
    if name == "tiled_room":
        wall, dark, light = (_jitter(c, rng) for c in ((0.85, 0.78, 0.6), (0.45, 0.25, 0.12),
                                                       (0.92, 0.86, 0.75)))
        horizon, tile = rng.uniform(20, 28), rng.uniform(6, 9)

        def tiled_room(u: np.ndarray, v: np.ndarray) -> Image:
            checker = ((np.floor(u / tile) + np.floor(v / tile)) % 2)[..., None]
            floor = light * (1 - checker) + dark * checker
            wall_mask = _soft(horizon - v)[..., None]
            return (floor * (1 - wall_mask) + wall * wall_mask).astype(np.float32)

        return tiled_room
    if name == "waves":
        water, crest = (_jitter(c, rng) for c in ((0.05, 0.5, 0.55), (0.85, 0.95, 0.95)))
        period, amp, wavelength = rng.uniform(8, 12), rng.uniform(1.5, 3.0), rng.uniform(16, 28)

        def waves(u: np.ndarray, v: np.ndarray) -> Image:
            phase = np.sin(2 * math.pi * (v + amp * np.sin(2 * math.pi * u / wavelength)) / period)
            image = np.broadcast_to(water, u.shape + (3,)).astype(np.float32)
            return _paint(image, np.clip((phase - 0.5) * 4, 0, 1), crest)

        return waves
    raise ValueError(f"{name} is not a scene class")


def _evidence_progress(spec: ClipSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: time since the evidence started, clamped to the window (F,) float, and a
    mask (F,) bool of the frames inside the window — in the *rendered* (forward) time."""
    n, length = spec.n_frames, spec.evidence_length
    start = spec.evidence_start
    if CLASS_NAMES[spec.label] in PLAYED_BACKWARDS:  # spec times are of the reversed clip
        start = n - start - length
    t = np.arange(n, dtype=np.float32)
    return np.clip(t - start, 0, length - 1).astype(np.float32), (t >= start) & (
        t < start + length)


def _render_scene(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    """Scene clip (F, H, W, 3) float32: layout faded/shrunk/zoomed by difficulty, slow pan."""
    size, d, n = spec.config.size, spec.appearance_difficulty, spec.n_frames
    ys, xs = _grid(size)
    background = _neutral_background(rng, size)
    layout = _make_layout(spec.label, rng)
    opacity = 1.0 - 0.7 * d
    side = size * (1.0 - 0.5 * d * rng.uniform(0.6, 1.0))
    top, left = rng.uniform(0, size - side, 2)
    window = _soft(np.minimum.reduce([ys - top, top + side - ys, xs - left, left + side - xs]))
    zoom = math.exp(0.6 * d * rng.uniform(-1, 1))
    velocity = rng.uniform(-0.3, 0.3, 2)  # px/frame (y, x)
    layers = _clutter(rng, size, int(rng.binomial(12, d)))
    if rng.random() < 0.6 * d:
        layers.append(_occluder(rng, size))
    over_colour, over_alpha = _flatten(layers, size)
    sigma = _noise_sigma(d)
    _, inside = _evidence_progress(spec)
    # Render the layout once on a canvas large enough for the whole pan, then slide a window.
    pad = int(math.ceil(0.3 * n)) + 2
    cys, cxs = np.mgrid[0 : size + 2 * pad, 0 : size + 2 * pad].astype(np.float32) + 0.5 - pad
    canvas = layout((cxs - size / 2) / zoom + size / 2, (cys - size / 2) / zoom + size / 2)
    visible = (window * opacity)[..., None]  # (H, W, 1)
    frames = np.repeat(background[None], n, axis=0)  # (F, H, W, 3)
    for t in np.flatnonzero(inside):
        scene = _shift(canvas, pad + velocity[0] * t, pad + velocity[1] * t, size)
        frames[t] += (scene - background) * visible
    frames = frames * (1 - over_alpha) + over_colour
    frames += rng.standard_normal(frames.shape, dtype=np.float32) * sigma
    return frames


def _render_temporal(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    """Temporal clip (F, H, W, 3) float32 of the *forward* process of the class's pair."""
    size, d, n = spec.config.size, spec.appearance_difficulty, spec.n_frames
    ys, xs = _grid(size)
    background = _neutral_background(rng, size)
    kind = _SHAPES[int(rng.integers(len(_SHAPES)))]
    radius = (8.0 - 4.0 * d) * rng.uniform(0.85, 1.15)
    colour = _contrasting_colour(rng, background.mean(axis=(0, 1)), 0.55 - 0.4 * d)
    shape_angle = rng.uniform(0, 2 * math.pi)
    clutter_colour, clutter_alpha = _flatten(_clutter(rng, size, int(rng.binomial(10, d))), size)
    occluder = _flatten([_occluder(rng, size)], size) if rng.random() < 0.5 * d else None
    sigma = _noise_sigma(d)
    progress, inside = _evidence_progress(spec)
    jitter = rng.uniform(-1.5, 1.5, (n, 2)).astype(np.float32)
    if spec.outside != "jitter":
        jitter[:] = 0.0
    jitter[inside] = 0.0
    process = CLASS_NAMES[spec.label] if CLASS_NAMES[spec.label] not in PLAYED_BACKWARDS else (
        CLASSES[spec.label].reverse_of)
    # Random phase parameters: the state at every frame is uniformly distributed (module doc).
    phase = rng.random()
    cx, cy = rng.uniform(16, 48, 2)
    lane_y = rng.uniform(radius + 4, size - radius - 4)
    speed = rng.uniform(1.0, 2.0)  # px/frame, move_*
    period = rng.uniform(24, 48)  # frames per size/opacity cycle
    omega = 2 * math.pi / rng.uniform(24, 48)  # rad/frame, rotate_*
    orbit = rng.uniform(10, 16)
    hub = _shape_mask("disk", xs - cx, ys - cy, 2.0, 0.0)

    # Per-frame state, shape (F, 1, 1) so that it broadcasts over (F, H, W).
    tau = progress[:, None, None]
    jx, jy = jitter[:, 0, None, None], jitter[:, 1, None, None]
    alpha = np.ones_like(tau)
    r: float | np.ndarray = radius
    angle: float | np.ndarray = shape_angle
    base = background * (1 - clutter_alpha) + clutter_colour  # (H, W, 3)
    if process == "move_right":
        x = phase * size + speed * tau + jx
        dx = (xs - x + size / 2) % size - size / 2  # wrap-around (torus) distance
        dy = ys - lane_y - jy
    elif process == "approach":
        r = radius * (0.4 + 1.2 * ((phase + tau / period) % 1.0))
        dx, dy = xs - cx - jx, ys - cy - jy
    elif process == "rotate_clockwise":
        theta = 2 * math.pi * phase + omega * tau  # y points down: increasing = clockwise
        dx = xs - (cx + orbit * np.cos(theta)) - jx
        dy = ys - (cy + orbit * np.sin(theta)) - jy
        angle = shape_angle + theta
        base = _paint(base, hub, colour)
    elif process == "appear":
        alpha = (phase + tau / period) % 1.0
        dx, dy = xs - cx - jx, ys - cy - jy
    else:
        raise ValueError(process)
    mask = (_shape_mask(kind, dx, dy, r, angle) * alpha)[..., None]  # (F, H, W, 1)
    frames = (base * (1 - mask) + colour.astype(np.float32) * mask).astype(np.float32)
    if occluder is not None:
        frames = frames * (1 - occluder[1]) + occluder[0]
    frames += rng.standard_normal(frames.shape, dtype=np.float32) * sigma
    return frames


def render_clip(spec: ClipSpec) -> np.ndarray:
    """The source frames of a clip, uint8 ``(F, H, W, 3)`` RGB (before H.264 coding)."""
    rng = spec.rng(stream=1)
    if CLASSES[spec.label].group == "scene":
        frames = _render_scene(spec, rng)
    else:
        frames = _render_temporal(spec, rng)
        if CLASS_NAMES[spec.label] in PLAYED_BACKWARDS:
            frames = frames[::-1]  # the exact time reversal of the partner's process
    return np.ascontiguousarray((np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


# --------------------------------------------------------------------------------------------
# Figures


def class_strip(label: int, *, n_frames: int = 8, difficulty: float = 0.15, seed: int = 0,
                index: int = 0) -> np.ndarray:
    """``n_frames`` evenly spaced source frames of one clip of class ``label`` side by side,
    uint8 ``(H, n_frames * W, 3)``; evidence throughout, the given appearance difficulty."""
    config = MiniConfig(seed=seed)
    n = 40
    spec = ClipSpec("test", label, index, seed, n, difficulty, 0, n, "none", config)
    frames = render_clip(spec)
    picks = np.round(np.linspace(0, n - 1, n_frames)).astype(int)
    return np.concatenate(list(frames[picks]), axis=1)


def class_strips(*, n_frames: int = 8, difficulty: float = 0.15, seed: int = 0) -> np.ndarray:
    """One :func:`class_strip` per class stacked vertically (class order of :data:`CLASSES`),
    uint8 ``(16 * H, n_frames * W, 3)``."""
    return np.concatenate([class_strip(c.index, n_frames=n_frames, difficulty=difficulty,
                                       seed=seed) for c in CLASSES], axis=0)
