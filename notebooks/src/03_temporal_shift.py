# %% [markdown]
# # Chapter 3 — Temporal shift: offline, online, streaming
#
# **What the paper says.** The backbones are 2D CNNs made temporal by the *temporal shift module*
# of TSM (Lin et al., ICCV 2019): a fold of the channels moves one step along time inside the
# residual branch of every block, so each frame's convolution also sees its neighbours, at zero
# multiply-adds. The paper uses the **online** (causal) variant: only the past is shifted into the
# present. That is what makes the input-axis scheme cheap: when a new group of frames arrives,
# the features of the frames already processed do not change, so they are kept, not recomputed.
# The slides' ablation reports the savings *with* and *without* online shift on Kinetics
# (~50% and ~53% fewer FLOPs); the TSM paper shows that a model without temporal modelling (TSN)
# fails on Something-Something, whose classes differ only by the direction of time.
#
# Library: `dynamic_inference.shift` (`temporal_shift`, `TemporalShift`, `ShiftCache`).

# %%
import matplotlib.pyplot as plt
import torch

from dynamic_inference import plots
from dynamic_inference.backbones import build_model
from dynamic_inference.shift import ShiftCache, temporal_shift

torch.manual_seed(0)
torch.set_num_threads(1)
PROFILE = "mini"  # "paper": the same cells with the paper backbones (see chapter 6)

# %% [markdown]
# ## Where each value comes from
#
# A video enters a 2D network as a batch of frames `(N*T, C, H, W)`. Each picture below is the
# output of the shift for 6 frames and 8 channels (fold = C / 4 here to make it visible; the
# networks use C / 8): every cell shows the frame its value is copied from, "-" is zero padding.

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3))
plots.shift_diagram("offline", ax=axes[0])
plots.shift_diagram("online", ax=axes[1])
fig.tight_layout()

# %% [markdown]
# Offline (bidirectional): channels 0-1 come from the *next* frame, 2-3 from the *previous* one.
# Online (causal): only channels 0-1 move, and only from the past; the output at frame t uses
# frames <= t.
#
# ## Causality, demonstrated on a real network
#
# Change the last 8 of 16 frames of a clip and look at the per-frame logits of the tiny network.

# %%
clip = torch.randn(1, 16, 3, 64, 64)
changed = clip.clone()
changed[:, 8:] = torch.randn_like(changed[:, 8:])
for mode in ("online", "offline", "off"):
    net = build_model("tiny", 16, shift=mode).eval()
    with torch.no_grad():
        a, b = net(clip).logits[-1][0], net(changed).logits[-1][0]  # (T, classes)
    moved = (a - b).abs().amax(dim=1) > 1e-6
    print(f"{mode:>8} shift: frames whose logits changed: {moved.nonzero().flatten().tolist()}")

# %% [markdown]
# With the online shift, frames 0-7 are untouched by the future; with the offline shift the
# change leaks backwards into earlier frames (one frame per shifted block it crosses); without a
# shift (TSN) every frame is on its own.
#
# ## Streaming == offline causal
#
# The online network can be fed one frame, or one group of frames, at a time. A `ShiftCache`
# carries the shifted channels of the last processed frame of each layer. The result equals
# running the whole clip at once:

# %%
net = build_model("tiny", 16, shift="online").eval()
with torch.no_grad():
    whole = net(clip).logits[-1]  # (1, 16, classes)
    for group in (1, 3, 4):
        cache, parts = ShiftCache(), []
        for start in range(0, 16, group):
            parts.append(net(clip[:, start : start + group], cache=cache).logits[-1])
        diff = (torch.cat(parts, dim=1) - whole).abs().max().item()
        print(f"groups of {group} frame(s): max |streaming - offline| <= 1e-5: {diff <= 1e-5}")

# %% [markdown]
# (Groups of 3 do not divide 16: the last group has one frame; the cache does not care.)
#
# ## The shift costs no multiply-adds
#
# The FLOPs counter sees the same cost with and without the shift; what the shift does cost is
# memory traffic (one copy of the tensor per block), measured in `benchmarks/online_shift.py`.

# %%
from dynamic_inference.flops import cost_table  # noqa: E402

for mode in ("off", "online", "offline"):
    t = cost_table(build_model("tiny", 16, shift=mode), 64)
    print(f"{mode:>8}: {1000 * t.full_gflops_per_frame:.3f} MFLOPs per frame")
x = torch.randn(2 * 4, 16, 3, 3)
y = temporal_shift(x, 4, 8, "offline")
print("the shift only moves values:", bool(torch.isin(y[y != 0], x).all()))

# %% [markdown]
# ## TSN vs TSM on scene and on time-reversal classes
#
# Three tiny networks were trained with the same recipe on MiniActions (chapter 2), differing
# only in the shift: none (TSN), offline, online. Full inference (last exit, 16 frames) on the
# test split, per class group, and the accuracy *within each reversal pair* (2-way: which of the
# two classes of the pair; chance is 50%).

# %%
from dynamic_inference.evaluate import pair_accuracy  # noqa: E402
from dynamic_inference.logits import split_logits_for  # noqa: E402
from dynamic_inference.profiles import profile  # noqa: E402

P = profile(PROFILE)
rows = {}
for label, variant in (("TSN (no shift)", "tsn"), ("TSM offline", "offline"),
                       ("TSM online", "online")):
    test = split_logits_for(P.checkpoint(variant), "test", data=P.data, device=P.device)
    rows[label] = pair_accuracy(test)
print(f"{'top-1 (%)':<52}" + "".join(f"{label:>16}" for label in rows))
print(f"{'scene classes (16-way)':<52}" + "".join(f"{r['scene']:>16.1f}" for r in rows.values()))
print(f"{'temporal classes (16-way)':<52}"
      + "".join(f"{r['temporal']:>16.1f}" for r in rows.values()))
for pair in next(iter(rows.values()))["pairs"]:
    print(f"{'pair ' + pair + ' (2-way)':<52}"
          + "".join(f"{r['pairs'][pair]:>16.1f}" for r in rows.values()))

# %% [markdown]
# ## What was reproduced
#
# **Reproduced**: the online shift is causal and streams exactly (max difference ~1e-8 here, below
# the 1e-5 contract); it adds no FLOPs. Temporal modelling matters for the temporal classes:
# both TSM models are about twice as accurate as TSN on them (16-way top-1 above), and TSN stays
# at chance (50%) on every reversal pair, the Something-Something lesson of the TSM paper. The
# shift also helps on the scene classes (87% -> 95%): their layouts pan slowly, and clutter and
# noise change from frame to frame while the layout does not.
#
# **Differs**: the TSM models separate the reversal pairs only partly (58-72% for the online
# model, 52-80% for the offline one), far from what a larger model learns on real data. Both
# reversal directions are trained with every appearance (time-reversal augmentation), so this is
# a limit of the tiny network's motion features, not a shortcut. A first version of the tiny
# network (8x8 patchify stem, 8x8 maps in stage 1, no spatial jitter) was at chance on three of
# the four pairs; the 4x4 stem and jitter of the current one (`benchmarks/recipe_search.py`)
# raised the temporal classes to the 49% printed above (the first version's lower figure is in
# `recipe_search`'s records, not re-measured here). The with/without online shift *ablation of the
# savings* is in chapter 6.
