# %% [markdown]
# # Chapter 6 — The unified scheme and the ablation
#
# **What the paper says** (Approach (d) and the ablation slide). Depth and input axes combine:
# frames arrive in groups, and within each group the video may stop at any checkpoint. Decision
# points are visited as (group 1: exit 1..K), (group 2: exit 1..K), ...; at (g, k) head k sees the
# features of checkpoint k summed over groups 1..g. Stopping at (g, k) costs
# (g - 1) x frames_per_group x cost_K + frames_per_group x cost_k. The ablation on Kinetics with
# MSDNet-38 compares full inference with the schemes, **without** online temporal shift (FLOPs per
# video cut by about 53%) and **with** it (about 50%), at the same accuracy.
#
# Training: the loss is the mean cross-entropy over *every* decision point, (group prefix, exit),
# so each head works on partial sums (`train.prefix_losses`).
# Command line: `python -m dynamic_inference evaluate --checkpoint checkpoints/msdnet_mini_online.pt
# --scheme unified --split test --json unified.json`.

# %%
import matplotlib.pyplot as plt
import torch

from dynamic_inference import plots
from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.cost import exit_costs, full_cost
from dynamic_inference.evaluate import curves, evaluate
from dynamic_inference.exercises import check
from dynamic_inference.flops import cost_table
from dynamic_inference.logits import LogitCache, split_logits_for
from dynamic_inference.paper import FLOPS_CUTS
from dynamic_inference.profiles import profile
from dynamic_inference.schemes import make_scheme

torch.set_num_threads(1)
PROFILE = "mini"
P = profile(PROFILE)
cache = LogitCache()  # decoded clips and logits, reused by the cells of this chapter

# %% [markdown]
# ## Decision points and their cost
#
# Each point's cost per video with every early head running, against full inference (all frames,
# all stages, the last head only: `cost.full_cost`). The last point costs more than full
# inference because a video that reaches it has paid every early head on every frame; the
# calibration prices each setting by the heads it really runs (a head whose points all have
# threshold one, so that they can never fire, is not run, nor paid).

# %%
ck = P.checkpoint("online")
model, cfg, _ = load_checkpoint(ck, device=P.device)
T, G, K = cfg.frames, cfg.groups, len(model.heads)
table = cost_table(model, cfg.input_size)  # per-frame GFLOPs of stem, stages and heads
full = full_cost(table, T)
sch = make_scheme("unified", groups=G, order="strided", seed=cfg.seed)
costs = sch.point_costs(exit_costs(table, sch), T)  # every head runs
print(f"{T} frames in {G} groups x {K} exits = {len(costs)} decision points; "
      f"full inference {full:.5f} GFLOPs/video")
print("point   GFLOPs/video   share of full inference")
for p, c in zip(sch.points(K), costs.tolist()):
    print(f"{p.name:>6} {c:>13.5f} {100 * c / full:>12.1f}%")

# %% [markdown]
# ## The ablation: schemes x (without / with online temporal shift)
#
# "Without" is the TSN model (no temporal shift), "with" the online-shift model; same training
# recipe, same data. Each row is the default operating point: thresholds chosen on val (the
# cheapest setting whose val loss plus one paired standard error is within 0.5 pt of full
# inference: chapter 4), measured on test.

# %%
rows = []
for variant, label in (("tsn", "w/o online shift"), ("online", "with online shift")):
    for scheme in ("full", "depth", "input", "unified"):
        r = evaluate(P.checkpoint(variant), "test", scheme, groups=G, data=P.data,
                     device=P.device, engine=False, cache=cache).to_report()
        rows.append((label, scheme, r))
print(f"{'':<19}{'scheme':<9}{'top-1':>7}{'loss pt [95%]':>22}{'GFLOPs/video':>14}"
      f"{'reduction':>11}{'oracle':>16}")
for label, scheme, r in rows:
    low, high = r["top1_loss_ci95"]
    loss = f"{r['top1_loss_pt']:.2f} [{low:.2f}, {high:.2f}]"
    orc = f"{r['oracle']['top1']:.1f}@{r['oracle']['gflops_per_video']:.4f}"
    print(f"{label:<19}{scheme:<9}{r['top1']:>7.1f}{loss:>22}{r['gflops_per_video']:>14.4f}"
          f"{r['reduction_pct']:>10.1f}%{orc:>16}")

# %% [markdown]
# ## Paper / ours
#
# The paper's ablation gives one cut per row (its dynamic scheme against full inference, MSDNet-38
# on Kinetics-400, `paper.FLOPS_CUTS`); ours is the unified scheme's, the paper's full method.

# %%
ours = {label: r["reduction_pct"] for label, scheme, r in rows if scheme == "unified"}
paper_cut = {("with online shift" if "with online" in c.setting else "w/o online shift"): c
             for c in FLOPS_CUTS if c.dataset == "Kinetics-400"}  # matched by setting
print(f"{'':<19}{'paper cut':>10}{'ours (unified)':>16}")
for label in ours:
    cut = paper_cut[label]
    print(f"{label:<19}{'~' + format(cut.cut_pct, 'g') + '%':>10}{ours[label]:>15.1f}%")
change_paper = paper_cut["with online shift"].cut_pct - paper_cut["w/o online shift"].cut_pct
change_ours = ours["with online shift"] - ours["w/o online shift"]
print(f"adding the online shift changes the cut by {change_paper:+g} pt in the paper, "
      f"{change_ours:+.1f} pt here")

# %% [markdown]
# ## All the schemes of the online model on one plot

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
lines, static = {}, {}
for scheme in ("depth", "input", "unified"):
    s = make_scheme(scheme, groups=G, order="strided", seed=cfg.seed)
    test = split_logits_for(ck, "test", data=P.data, device=P.device, cache=cache)
    val = split_logits_for(ck, "val", data=P.data, device=P.device, cache=cache)
    c = curves(s, test, table, T, val)
    lines[scheme] = ([op.mean_cost for op in c["curve"]], [op.top1 for op in c["curve"]])
    if scheme == "unified":
        orc = (c["oracle"].mean_cost, c["oracle"].top1)
        static = {op.name: (op.mean_cost, op.top1) for op in c["static"]}
plots.accuracy_vs_cost(lines, static, oracle=orc, ax=ax,
                       title=f"{cfg.dataset} test: dynamic schemes vs static settings")
fig.tight_layout()

# %%
ev = evaluate(ck, "test", "unified", groups=G, data=P.data, device=P.device, cache=cache)
r = ev.to_report()
plots.stop_histogram(list(r["stop_histogram"].values()), list(r["stop_histogram"]),
                     title="Unified scheme: where test videos stop")
print(f"unified: top-1 {r['top1']:.1f}% vs full {r['full_top1']:.1f}% (loss "
      f"{r['top1_loss_pt']:.2f} pt, 95% [{r['top1_loss_ci95'][0]:.2f}, "
      f"{r['top1_loss_ci95'][1]:.2f}]), "
      f"{r['reduction_pct']:.1f}% fewer GFLOPs/video; val top-1 {r['val_top1']:.1f}%; "
      f"engine == simulation: {r['engine_matches_simulation']}")

# %% [markdown]
# ## What was reproduced
#
# **Reproduced**: the dynamic schemes cut FLOPs per video with and without the online shift
# (without, the TSN model: 82.7% unified, 69.4% input, 63.7% depth; with the shift: 79.1%, 69.4%
# and 45.2%). In both rows the unified scheme saves the most and the input axis more than the
# depth axis; the slides quote one cut per row, so only the unified scheme's is compared with the
# paper. The ablation is the paper's in direction and close in size: the online shift takes away
# part of the saving (~53% without, ~50% with: -3 pt in the paper; 82.7% -> 79.1%, -3.5 pt here,
# the paper / ours table above). The online shift raises top-1 at every operating point by far
# more than any scheme loses (full inference 52.6% -> 81.4%, unified 51.7% -> 82.2%).
#
# **Not reproduced**: (1) the *sizes of the cuts*. Both are larger than the paper's (82.7% vs
# ~53%, 79.1% vs ~50%), on a task built so that many clips are easy (4 below). The oracle shows
# that the shift model's cheap points do not get fewer clips right: its oracle is both more
# accurate and cheaper (91.3% at 0.0189 GFLOPs/video with the shift, 70.4% at 0.0414 without).
# What differs is the target: the rule holds each model within 0.5 pt of *its own* full
# inference, and the shift model's full inference is far better, mostly on the temporal clips
# (chapter 3), which need more frames and deeper exits before they are answered right (chapter
# 7: the unified scheme cuts temporal clips much less than scene clips). The TSN model gets about
# one temporal clip in five right even with every frame (chapter 3), so stopping early loses it
# little against its own full inference, and its thresholds can stop more clips. This is a
# likely reason, not measured in this chapter; the slides do not say why the paper's cut
# shrinks. (2) The paper loses no accuracy in either row. With the shift every scheme stays
# within half a point of full inference on test (depth 0.21 pt; input and unified even above it,
# -0.96 and -0.83 pt, the input axis' interval just excluding zero). Without it the losses are
# larger: depth 1.42 pt and unified 0.96 pt on test (both intervals include zero, [-0.17, 2.92]
# and [-0.25, 2.25]), although every setting passed the rule on val: the rule bounds the val
# loss plus one standard error and the test clips are other clips (that the weaker model's
# confidence ranks clips less reliably from split to split is a likely reading, not measured).
#
# **Differs, and why**: (3) the unified scheme cuts more than the input axis alone (79.1% vs
# 69.4% with the shift, 82.7% vs 69.4% without) and is a little less accurate than it in both
# rows (82.2% vs 82.4% with the shift, 51.7% vs 52.1% without, differences of a few clips): it
# starts from the input axis' thresholds, so on val it never costs more, and the early exits then
# stop the clips that are confident enough. (4) The sizes of the savings depend on the data:
# MiniActions was built so that many clips are easy, and the first decision point (exit 1 on the
# first group of frames) costs only 4.4% of full inference.
# **Why the online shift matters**: only a causal model can take frames group by group without
# recomputing earlier groups; the offline-shift model can use the depth axis only (the engine
# refuses it for the input and unified schemes).
#
# ## Exercises
#
# **6.1** Write the cost of a decision point of the unified scheme: stopping after group g
# (1-based) at exit k (1-based), with n frames per group and `exit_cost[k - 1]` the per-frame
# cost up to exit k. Check it against the table at the top of the chapter.

# %%
# EXERCISE 6.1
def point_cost(g: int, k: int, n: int, exit_cost: list[float]) -> float:
    return None  # your code


# %%
every_head = exit_costs(table, sch)
mine = [point_cost(p.group, p.exit, T // G, every_head) for p in sch.points(K)]
check("6.1", None if None in mine else torch.tensor(mine, dtype=torch.float64), costs,
          tol=1e-9)

# %% [markdown]
# **6.2** The offline-shift model (`P.checkpoint("offline")`) can only run the depth axis. What
# FLOPs cut (in %) does its depth axis give on test, at the thresholds `evaluate` chooses on val?
# How does it compare with the online model's depth axis above?

# %%
# EXERCISE 6.2
offline_cut = None  # your number, in %

# %%
expected = evaluate(P.checkpoint("offline"), "test", "depth", data=P.data, device=P.device,
                    engine=False, cache=cache).reduction_pct
check("6.2", offline_cut, expected, tol=0.1)

# %% [markdown]
# **6.3** How many test clips does the unified scheme of the online model (the histogram above)
# answer within the first group of frames, at any exit?

# %%
# EXERCISE 6.3
first_group = None  # your number of clips

# %%
check("6.3", first_group, int(sum(ev.sim.stop_histogram[:K])), tol=0)
