"""plots.frame_groups draws the groups of a frame order: the grid's cells are the order."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dynamic_inference import plots  # noqa: E402
from dynamic_inference.errors import ConfigError  # noqa: E402
from dynamic_inference.schemes import ORDERS, frame_order  # noqa: E402


@pytest.mark.parametrize("name", ORDERS)
@pytest.mark.parametrize("frames, groups", [(16, 4), (8, 2), (12, 3), (6, 1)])
def test_frame_groups_grid_is_the_order(name: str, frames: int, groups: int) -> None:
    order = frame_order(name, frames, groups, seed=3)
    ax = plots.frame_groups(order, groups, title=name)
    grid = ax.images[0].get_array()
    assert grid.shape == (groups, frames)
    per_group = frames // groups
    for j in range(groups):
        row = grid[j]
        held = sorted(t for t in range(frames) if not row.mask[t])
        assert held == sorted(order[j * per_group : (j + 1) * per_group].tolist())
        assert all(row[t] == j + 1 for t in held)
    # each frame is in exactly one group, and its cell is labelled with its position
    assert (~grid.mask).sum(axis=0).tolist() == [1] * frames
    labels = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
              for t in ax.texts}
    for pos, frame in enumerate(order.tolist()):
        assert labels[(pos // per_group, frame)] == str(pos + 1)
    plt.close(ax.figure)


def test_frame_groups_strided_first_group_spans_the_clip() -> None:
    ax = plots.frame_groups(frame_order("strided", 16, 4), 4)
    first = ax.images[0].get_array()[0]
    assert [t for t in range(16) if not first.mask[t]] == [0, 4, 8, 12]
    plt.close(ax.figure)


@pytest.mark.parametrize("order, groups", [([0, 1, 2], 2), ([0, 0, 1, 2], 2), ([0, 1], 0),
                                           ([], 1), ([0, 2], 1)])
def test_frame_groups_refuses_what_is_not_a_grouped_permutation(order, groups) -> None:
    with pytest.raises(ConfigError):
        plots.frame_groups(torch.tensor(order, dtype=torch.long), groups)
