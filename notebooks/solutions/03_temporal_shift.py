# ruff: noqa: F821  (the blocks use names the chapter defines before its exercises)
"""Solutions of chapter 3's exercises: each block replaces the exercise cell of the same label
(``tools/build_notebooks.py --solutions 03``); the blocks run inside the chapter."""

import torch


# %%
# EXERCISE 3.1
def online_shift(x: torch.Tensor, fold: int) -> torch.Tensor:
    """(T, C) -> (T, C): the online (causal) temporal shift of one fold of channels."""
    out = x.clone()
    out[1:, :fold] = x[:-1, :fold]  # frame t gets the shifted fold of frame t - 1
    out[0, :fold] = 0  # nothing was processed before the first frame
    return out


# %%
# EXERCISE 3.2
answer = int(order[per_group - 1])  # the last frame of group 1 in processing order

# %%
# EXERCISE 3.3
last_changed = clip.clone()
last_changed[:, -1] = torch.randn_like(last_changed[:, -1])
with torch.no_grad():
    delta = nets["offline"](clip).logits[-1][0] - nets["offline"](last_changed).logits[-1][0]
answer = (delta != 0).any(dim=1).nonzero().flatten().tolist()
