# Solutions of chapter 6 (notebooks/src/06_unified_ablation.py): each block replaces the exercise
# cell with the same first line.
# ruff: noqa: F821  (names of the chapter: P, cache, evaluate, r)

# %%
# EXERCISE 6.1
def point_cost(g: int, k: int, n: int, exit_cost: list[float]) -> float:
    # the earlier groups went through the whole network, the current one up to exit k
    return (g - 1) * n * exit_cost[-1] + n * exit_cost[k - 1]


# %%
# EXERCISE 6.2
offline = evaluate(P.checkpoint("offline"), "test", "depth", data=P.data, device=P.device,
                   engine=False, cache=cache).to_report()
offline_cut = offline["reduction_pct"]

# %%
# EXERCISE 6.3
first_group = sum(n for point, n in r["stop_histogram"].items() if point.startswith("g1/"))
