"""The 16 MiniActions classes: 8 scene classes and 4 time-reversal pairs of temporal classes.

The paper evaluates on appearance-heavy datasets (Kinetics-400, UCF-101, HMDB-51) and on
Something-Something, whose classes differ in how things move (paper section 4); MiniActions has
one analogue of each (README, "MiniActions"):

* 8 **scene** classes, each with its own spatial layout and palette (beach bands, forest trunks,
  night sky, ...), recognisable from one frame;
* 8 **temporal** classes in 4 time-reversal pairs, ``move_right``/``move_left``,
  ``approach``/``recede``, ``rotate_clockwise``/``rotate_anticlockwise``, ``appear``/``vanish``:
  one object moving on a neutral background, with no single-frame shortcut.

:data:`CLASSES` is the one record of the pairs: each temporal class names its partner
(``reverse_of``). The first class of a pair is rendered forwards; the second is the first's
process played backwards (:data:`PLAYED_BACKWARDS`), and :func:`mini_reverse_labels` maps every
class onto the class of its clips played backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Group = Literal["scene", "temporal"]


@dataclass(frozen=True)
class MiniClass:
    """One MiniActions class: index, name, group, a one-line description, reversal partner."""

    index: int
    name: str
    group: Group
    description: str
    reverse_of: str | None = None


CLASSES: tuple[MiniClass, ...] = (
    MiniClass(0, "beach", "scene", "sky, sea and sand in three horizontal bands"),
    MiniClass(1, "forest", "scene", "dark green wood with a canopy band and brown vertical trunks"),
    MiniClass(2, "night_sky", "scene", "dark blue sky with scattered stars and a pale moon"),
    MiniClass(3, "city", "scene", "grey blocks with lit windows against an orange sky"),
    MiniClass(4, "snowfield", "scene", "white ground with diagonal ski tracks under a grey sky"),
    MiniClass(5, "sunset", "scene", "purple-to-orange sky, a sun on the horizon, dark ground"),
    MiniClass(6, "tiled_room", "scene", "beige wall above a brown and cream checkerboard floor"),
    MiniClass(7, "waves", "scene", "teal water with wavy white crests"),
    MiniClass(8, "move_right", "temporal", "an object slides from left to right (wraps around)",
              "move_left"),
    MiniClass(9, "move_left", "temporal", "an object slides from right to left (wraps around)",
              "move_right"),
    MiniClass(10, "approach", "temporal", "an object grows as if it came closer", "recede"),
    MiniClass(11, "recede", "temporal", "an object shrinks as if it moved away", "approach"),
    MiniClass(12, "rotate_clockwise", "temporal", "an object circles a hub clockwise",
              "rotate_anticlockwise"),
    MiniClass(13, "rotate_anticlockwise", "temporal", "an object circles a hub anticlockwise",
              "rotate_clockwise"),
    MiniClass(14, "appear", "temporal", "an object fades in", "vanish"),
    MiniClass(15, "vanish", "temporal", "an object fades out", "appear"),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)

PLAYED_BACKWARDS: frozenset[str] = frozenset(
    c.name for c in CLASSES
    if c.reverse_of is not None and CLASS_NAMES.index(c.reverse_of) < c.index
)
"""The second class of every reversal pair: its clips are its partner's process played backwards
(``move_left``, ``recede``, ``rotate_anticlockwise``, ``vanish``)."""


def mini_reverse_labels() -> list[int]:
    """For each MiniActions class, the class of its clips played backwards: the partner of a
    reversal pair, or the class itself (scenes pan slowly and are the same class backwards)."""
    index = {c.name: c.index for c in CLASSES}
    return [index[c.reverse_of] if c.reverse_of else c.index for c in CLASSES]
