# ruff: noqa: F821  (the blocks use names the chapter defines before its exercises)
"""Solutions of chapter 2's exercises: each block replaces the exercise cell of the same label
(``tools/build_notebooks.py --solutions 02``); the blocks run inside the chapter."""

import torch

# %%
# EXERCISE 2.1
answer = int((correct[:, 0] & ~correct[:, -1]).sum())


# %%
# EXERCISE 2.2
def logits_at(frame_logits: torch.Tensor, g: int, k: int, groups: int) -> torch.Tensor:
    """(V, C) video logits at decision point g/k."""
    per_group = frame_logits.shape[2] // groups
    return frame_logits[:, k - 1, : g * per_group].mean(dim=1)
