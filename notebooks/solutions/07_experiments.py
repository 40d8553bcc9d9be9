# Solutions of chapter 7 (notebooks/src/07_experiments.py): each block replaces the exercise cell
# with the same first line.
# ruff: noqa: F821  (names of the chapter: SCHEMES, TABLE, FULL_G, model, results, per_group, ...)

# %%
# EXERCISE 7.1
sch = SCHEMES["unified (d)"]
scene = subset(results["unified (d)"]["test"], "scene")
thr = [0.9] * sch.num_points(model.num_exits)  # one threshold per decision point
sim = simulate(sch, scene.frame_logits, scene.labels, exit_costs(TABLE, sch, thr), thr)
cut_at_09 = 100 * (1 - sim.mean_cost / FULL_G)

# %%
# EXERCISE 7.2
own = per_group[("input strided (c)", "temporal")]["cut"]
cut_change = own - results["input strided (c)"]["temporal"]["cut"]
