# %% [markdown]
# # Chapter 2 — Observation: videos differ in how hard they are
#
# **What the paper says.** "Videos differentiate from each other in terms of their
# distinguishability." Two instances of *Writing* differ in viewpoint, so one needs more
# *network capability* (depth) than the other; *Running* vs *Long jump* look alike at first and
# need *more frames* to tell apart. A fixed network spends the same on every video; a dynamic one
# can stop early on the easy ones.
#
# This chapter tours **MiniActions**, the project's synthetic stand-in for the paper's datasets
# (`dynamic_inference.data.mini`; regenerate with `python -m dynamic_inference make-mini --out
# datasets_mini --seed 0`), and measures the observation with the trained mini model.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from dynamic_inference.calibrate import oracle
from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.cost import exit_costs
from dynamic_inference.data.mini import CLASSES, class_strip
from dynamic_inference.flops import cost_table
from dynamic_inference.logits import split_logits_for
from dynamic_inference.profiles import profile
from dynamic_inference.schemes import make_scheme

torch.set_num_threads(1)
PROFILE = "mini"  # "paper": a real dataset root and GPU checkpoints (see profiles.py)
P = profile(PROFILE)

# %% [markdown]
# ## The classes
#
# 8 **scene** classes, recognisable from one frame (the Kinetics / UCF-101 / HMDB-51 analogue),
# and 8 **temporal** classes in time-reversal pairs (the Something-Something analogue): the
# second class of each pair is a clip of the first played backwards, so no single frame tells
# them apart. 64x64 H.264 clips of 32-48 frames; 80 train, 50 val and 50 test clips per class.

# %%
for c in CLASSES:
    print(f"{c.index:>2} {c.name:<21}{c.group:<9}{c.description}")

# %%
fig, axes = plt.subplots(8, 2, figsize=(11, 9))
for c, ax in zip(CLASSES, axes.T.flatten()):
    ax.imshow(class_strip(c.index, n_frames=6, difficulty=0.1))
    ax.set_title(c.name, fontsize=8, loc="left")
    ax.axis("off")
fig.suptitle("One easy clip per class, 6 frames across the clip (left: scene, right: temporal)")
fig.tight_layout()

# %% [markdown]
# ## Easy and hard instances of one class
#
# Each clip has an *appearance difficulty* in [0, 1] (size, contrast, clutter, noise, occlusion,
# odd scale), the analogue of the paper's irregular viewpoint, and an *evidence window*: half the
# clips show their evidence throughout, the others only during 6-16 of their frames, the
# analogue of videos that need more frames.

# %%
fig, axes = plt.subplots(4, 1, figsize=(8, 5))
for ax, (label, d) in zip(axes, [(0, 0.05), (0, 0.95), (12, 0.05), (12, 0.95)]):
    ax.imshow(class_strip(label, n_frames=8, difficulty=d))
    ax.set_title(f"{CLASSES[label].name}, appearance difficulty {d}", fontsize=8, loc="left")
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# ## The observation, measured
#
# The trained mini model (tiny multi-exit network, online shift; chapter 4 shows its training)
# gives a prediction at 4 exits (depth) after each of 4 groups of 4 frames (input), 16 decision
# points in all. For every test video we find the **cheapest decision point whose prediction is
# correct** (the oracle of the unified scheme). If all videos were alike, they would all need the
# same point.

# %%
ck = P.checkpoint("online")
test = split_logits_for(ck, "test", order="strided", groups=4, data=P.data, device=P.device)
sch = make_scheme("unified", groups=4, order="strided")
points = sch.points(4)
point_logits = sch.point_logits(test.frame_logits)  # (V, 16, C)
correct = point_logits.argmax(-1) == test.labels[:, None]  # (V, 16)
first_correct = torch.where(correct.any(1), correct.float().argmax(1), torch.tensor(-1))
counts = np.bincount(first_correct[first_correct >= 0].numpy(), minlength=len(points))
never = int((first_correct < 0).sum())
print(f"{len(test.labels)} test videos; wrong at every point: {never}")
for p, n in zip(points, counts):
    print(f"{p.name:>6}: {'#' * int(n // 4)} {n}")

# %%
difficulty = torch.tensor([r.difficulty for r in test.records])
full_window = torch.tensor([r.evidence_length >= int(r.extra["n_frames"]) for r in test.records])
scene = torch.tensor([r.group == "scene" for r in test.records])
e1_all_frames = point_logits[:, 12 + 0]  # g4/e1: exit 1 on all 16 frames
e1_correct = e1_all_frames.argmax(-1) == test.labels
g1_last = point_logits[:, 3]  # g1/e4: the full network on the first 4 frames only
g1_correct = g1_last.argmax(-1) == test.labels
easy, hard = difficulty < 1 / 3, difficulty >= 2 / 3


def pct(mask: torch.Tensor, hit: torch.Tensor) -> str:
    return f"{100 * hit[mask].float().mean().item():5.1f}% of {int(mask.sum()):>3}"


print("depth: exit 1 on all 16 frames, scene classes")
print(f"  easy clips (difficulty < 1/3):  {pct(easy & scene, e1_correct)}")
print(f"  hard clips (difficulty >= 2/3): {pct(hard & scene, e1_correct)}")
print("frames: the full network on the first group (4 frames), temporal classes")
print(f"  evidence throughout:            {pct(full_window & ~scene, g1_correct)}")
print(f"  evidence in a short window:     {pct(~full_window & ~scene, g1_correct)}")

# %%
fig, ax = plt.subplots(figsize=(8, 3))
ax.bar(range(len(points)), counts, color="tab:blue")
ax.set_xticks(range(len(points)), [p.name for p in points], rotation=60, fontsize=8)
ax.set_ylabel("test videos")
ax.set_title("Cheapest decision point whose prediction is correct (unified scheme, oracle)")
fig.tight_layout()
model, cfg, _ = load_checkpoint(ck)
exit_cost = exit_costs(cost_table(model, cfg.input_size), sch)  # GFLOPs/frame up to each exit
costs = sch.point_costs(exit_cost, 16)
orc = oracle(point_logits, test.labels, costs)
full_top1 = 100 * (point_logits[:, -1].argmax(-1) == test.labels).float().mean().item()
print(f"point g1/e1 costs {100 * costs[0] / costs[-1]:.1f}% of the last point")
print(f"oracle: top-1 {orc.top1:.1f}% at {100 * orc.mean_cost / costs[-1]:.0f}% of the full cost "
      f"(full inference: {full_top1:.1f}%)")

# %% [markdown]
# ## What was reproduced
#
# **Reproduced**: the observation. Many test videos are already right at the first decision point
# (exit 1 on the first 4 frames, about 5% of the full cost), others need more depth or more
# frames, and a few are never right. Exit 1 is clearly worse on hard-looking scene clips than on
# easy ones (the paper's "varying network capability"), and the first 4 frames are worse on
# temporal clips whose evidence is confined to a short window ("varying number of frames").
# **Differs**: the difficulty of MiniActions is designed, not observed; on real data the same
# histogram is the starting point of the paper's argument. **Why it matters**: the spread of the
# histogram is what the dynamic schemes of chapters 4-6 turn into saved FLOPs.
