# Solutions of chapter 8 (notebooks/src/08_visualisation.py): each block replaces the exercise cell
# with the same first line.
# ruff: noqa: F821  (names of the chapter: runs, torch)

# %%
# EXERCISE 8.1
first_point = runs["unified"]["sim"].stop_histogram[0]

# %%
# EXERCISE 8.2
depth, unified = runs["depth"], runs["unified"]
at_last_exit = depth["sim"].stop == len(depth["points"]) - 1
in_group_1 = torch.tensor([unified["points"][s].group == 1 for s in unified["sim"].stop.tolist()])
share_first_group = 100 * (at_last_exit & in_group_1).sum().item() / at_last_exit.sum().item()
