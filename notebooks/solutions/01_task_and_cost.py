# ruff: noqa: F821  (the blocks use names the chapter defines before its exercises)
"""Solutions of chapter 1's exercises: each block replaces the exercise cell of the same label
(``tools/build_notebooks.py --solutions 01``); the blocks run inside the chapter."""

import torch

from dynamic_inference.cost import exit_costs
from dynamic_inference.schemes import make_scheme

# %%
# EXERCISE 1.1
answer = reports["TSN ResNet-50, 16 frames"]["gflops_per_video"] / 16 * 8


# %%
# EXERCISE 1.2
def cumulative_cost(stage_gflops: torch.Tensor, head_gflops: torch.Tensor) -> torch.Tensor:
    """(K,) cumulative GFLOPs per frame up to and including head k."""
    return torch.cumsum(stage_gflops, 0) + torch.cumsum(head_gflops, 0)


# %%
# EXERCISE 1.3
answer = 100 * exit_costs(table, make_scheme("depth"))[-1] / table.full_gflops_per_frame
