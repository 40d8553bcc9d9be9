"""Compare training recipes of the tiny multi-exit net on MiniActions, fast, on a GPU.

Why: the shipped tiny checkpoints are weak on MiniActions' temporal classes (issue 6), and each
CPU training run of the 2-core machine takes ~15-20 min, so recipes are compared here, several at
once, on a lent GPU, and only the chosen one is trained on the CPU with the project's command.

What differs from ``python -m dynamic_inference train``: the clips are rendered straight from the
generator (:func:`dynamic_inference.data.mini.render_clip`, no H.264 round trip, so no PyAV is
needed) and held in memory; sampling (TSN segments, random offsets in training, centres in
evaluation), normalisation, the frame order, the prefix losses, the optimiser and its schedule,
the time-reversal and jitter augmentations are the library's own. Numbers are therefore close
to, not equal to, those of the CPU command. (The H200 results of 2026-11-27 in
``benchmarks/results/recipe_search_h200.jsonl`` were taken with an earlier harness jitter of one
offset per batch; ``train.spatial_jitter`` draws one per clip.)

Each variant is one process (``--variants a,b,...`` from :data:`VARIANTS`). Per variant it
reports the val top-1 of every exit (all 16 frames), scene / temporal / reversal-pair accuracy at
the last exit, and the unified and depth schemes with thresholds chosen on one half of val (the
cheapest setting within 0.5 pt of full inference) and measured on the other half. The test split
is never used.

    python benchmarks/recipe_search.py --variants base,local --device cuda --json OUT

Timing seen on an H200 machine (16 CPU cores, 2026-11-27): rendering 4,000 clips took 10 s;
12 variants at once took ~190 s each for 1,600 steps of 16 clips, and 6 at once were no faster
per variant (each process is bound by its own CPU work: sampling, normalisation, kernel
launches). A variant with 200 clips per class and 20 epochs needs ~2.5x that. Results are
written to ``--json`` as each variant ends, so a run cut short keeps the finished ones.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

VARIANTS: dict[str, dict[str, Any]] = {
    # model kwargs of TinyConfig, train clips per class, epochs, group-local shift, jitter (px)
    "base": {},
    "local": {"local": True},
    "data200": {"per_class": 200},
    "ep40": {"epochs": 40},
    "jit": {"jitter": 6},
    "s4": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 1),
                     "blocks": (1, 2, 2, 2)}},
    "s4d200": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 1),
                         "blocks": (1, 2, 2, 2)}, "per_class": 200},
    "s4h": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 2),
                      "blocks": (1, 2, 2, 2)}},
    "d200jit": {"per_class": 200, "jitter": 6},
    "s4d200jit": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 1),
                            "blocks": (1, 2, 2, 2)}, "per_class": 200, "jitter": 6},
    "d200local": {"per_class": 200, "local": True},
    "s4hjit": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 2),
                         "blocks": (1, 2, 2, 2)}, "jitter": 6},
    "s4jit": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 1),
                        "blocks": (1, 2, 2, 2)}, "jitter": 6},
    "jitd200e8": {"jitter": 6, "per_class": 200, "epochs": 8},
    "s4hjitd200e8": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 2),
                               "blocks": (1, 2, 2, 2)}, "jitter": 6, "per_class": 200,
                     "epochs": 8},
    "jits1": {"jitter": 6, "seed": 1},
    "s4hjits1": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 2),
                           "blocks": (1, 2, 2, 2)}, "jitter": 6, "seed": 1},
    "s4local": {"model": {"stem": 4, "widths": (16, 32, 64, 128), "strides": (1, 2, 2, 1),
                          "blocks": (1, 2, 2, 2)}, "local": True},
}


@dataclass
class Variant:
    name: str
    model: dict[str, Any] = field(default_factory=dict)
    per_class: int = 80
    epochs: int = 20
    local: bool = False  # shift cache reset at every group boundary
    jitter: int = 0  # random translation (pixels, wrap-around) per training clip
    seed: int = 0


def _render(spec: Any) -> np.ndarray:
    from dynamic_inference.data.mini import render_clip

    return render_clip(spec)


def render_split(split: str, per_class: int, workers: int) -> tuple[list[np.ndarray], list[int]]:
    """Source frames (F, H, W, 3) uint8 and labels of a MiniActions split, rendered in memory."""
    from dynamic_inference.data.mini import DEFAULT_SEED, MiniConfig, clip_specs

    config = MiniConfig.with_per_class(DEFAULT_SEED, per_class if split == "train" else None)
    specs = clip_specs(config, splits=(split,))
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        frames = pool.map(_render, specs, chunksize=8)
    return frames, [s.label for s in specs]


def sample(frames: list[np.ndarray], n: int, train: bool, rng: np.random.Generator) -> torch.Tensor:
    """(V, T, 3, H, W) float32 normalised clips, TSN sampling (as the library's datasets)."""
    from dynamic_inference.data.video import ClipTransform, tsn_indices

    transform = ClipTransform()
    out = []
    for f in frames:
        picks = tsn_indices(f.shape[0], n, train=train, rng=rng)
        out.append(transform(torch.from_numpy(f[picks]), train=False))
    return torch.stack(out)


def run_model(model: Any, clips: torch.Tensor, groups: int, local: bool) -> list[torch.Tensor]:
    """Per-exit per-frame logits (N, T, C); ``local`` runs every group as its own clip."""
    n, t = clips.shape[:2]
    if not local:
        return model(clips).logits
    per = t // groups
    out = model(clips.reshape(n * groups, per, *clips.shape[2:])).logits  # (N*G, T/G, C)
    return [lg.reshape(n, t, -1) for lg in out]


def train_variant(v: Variant, data: dict[str, Any], device: str, seed: int = 0) -> dict[str, Any]:
    from dynamic_inference.backbones import build_model
    from dynamic_inference.data.mini.classes import mini_reverse_labels
    from dynamic_inference.schemes import frame_order
    from dynamic_inference.train import (
        prefix_losses,
        spatial_jitter,
        time_reversal,
        warmup_cosine,
    )

    torch.manual_seed(seed)
    np.random.seed(seed)
    frames, labels = data["train"]
    seen: Counter[int] = Counter()
    keep = []  # the first v.per_class clips of each class
    for i, y in enumerate(labels):
        seen[y] += 1
        if seen[y] <= v.per_class:
            keep.append(i)
    frames = [frames[i] for i in keep]
    labels = torch.tensor(labels)[keep]
    model = build_model("tiny", 16, shift="online", **v.model).to(device)
    t, groups, bs = 16, 4, 16
    order = frame_order("strided", t, groups)
    steps_per_epoch = len(frames) // bs
    total = v.epochs * steps_per_epoch
    warmup = min(steps_per_epoch, max(total // 20, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, warmup, total))
    reverse = torch.tensor(mini_reverse_labels())
    gen = torch.Generator().manual_seed(seed)
    aug = torch.Generator().manual_seed(seed + 1000)
    t0 = time.time()
    for epoch in range(v.epochs):
        rng = np.random.default_rng([seed, epoch])
        clips_all = sample(frames, t, True, rng)  # (V, T, 3, H, W)
        perm = torch.randperm(len(frames), generator=gen)
        model.train()
        for s in range(steps_per_epoch):
            idx = perm[s * bs:(s + 1) * bs]
            clips, y = time_reversal(clips_all[idx], labels[idx], reverse, 0.5, aug)
            clips = spatial_jitter(clips, v.jitter, aug)
            clips, y = clips[:, order].to(device), y.to(device)
            loss, _ = prefix_losses(run_model(model, clips, groups, v.local), y, groups,
                                    "unified", 0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    train_s = time.time() - t0
    return evaluate_variant(v, model, data, device, order, groups, train_s)


@torch.no_grad()
def evaluate_variant(v: Variant, model: Any, data: dict[str, Any], device: str,
                     order: torch.Tensor, groups: int, train_s: float) -> dict[str, Any]:
    from dynamic_inference.calibrate import choose_thresholds
    from dynamic_inference.evaluate import pair_accuracy
    from dynamic_inference.flops import cost_table
    from dynamic_inference.logits import SplitLogits
    from dynamic_inference.schemes import make_scheme, simulate

    model.eval()
    frames, labels = data["val"]
    clips = sample(frames, 16, False, np.random.default_rng(0))
    logits = []
    for i in range(0, len(clips), 64):
        out = run_model(model, clips[i:i + 64, order].to(device), groups, v.local)
        logits.append(torch.stack(out, 1).float().cpu())
    fl = torch.cat(logits)  # (V, K, T, C)
    y = torch.tensor(labels)
    per_exit = [round(100 * float((fl[:, k].mean(1).argmax(1) == y).double().mean()), 2)
                for k in range(fl.shape[1])]
    sl = SplitLogits(fl, y, [], order, [])
    pairs = pair_accuracy(sl)
    table = cost_table(model.cpu(), 64)
    half = torch.arange(len(y)) % 2 == 0  # calibrate on even clips, measure on odd ones
    schemes = {}
    for name in ("depth", "unified"):
        scheme = make_scheme(name, groups=1 if name == "depth" else groups)
        costs = list(table.gflops_per_frame)
        pc = scheme.point_costs(costs, 16)
        cal = SplitLogits(fl[half], y[half], [], order, [])
        thr, _ = choose_thresholds(scheme, cal, pc)
        res = simulate(scheme, fl[~half], y[~half], costs, thr)
        full = float((fl[~half, -1].mean(1).argmax(1) == y[~half]).double().mean()) * 100
        schemes[name] = {"top1": round(res.top1, 2), "full_top1": round(full, 2),
            "reduction_pct": round(100 * (1 - res.mean_cost / (16 * table.full_gflops_per_frame)),
                                   1)}
    return {"variant": v.name, "config": v.__dict__, "val_top1_per_exit": per_exit,
            "scene": pairs["scene"], "temporal": pairs["temporal"], "pairs": pairs["pairs"],
            "schemes": schemes, "train_s": round(train_s, 1),
            "mmacs_per_frame": round(1e3 * table.gflops_per_frame[-1], 2),
            "exit_share_pct": [round(100 * g / table.gflops_per_frame[-1])
                               for g in table.gflops_per_frame]}


def _child(args: tuple[Variant, str, str]) -> dict[str, Any]:
    v, device, path = args
    torch.set_num_threads(1)
    data = torch.load(path, weights_only=False)
    try:
        res = train_variant(v, data, device, v.seed)
    except Exception as exc:  # one failing variant must not lose the others
        res = {"variant": v.name, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(res), flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default="base,local")
    p.add_argument("--device", default="cuda")
    p.add_argument("--workers", type=int, default=8, help="render processes")
    p.add_argument("--epochs", type=int, default=None, help="override (smoke runs)")
    p.add_argument("--limit", type=int, default=None, help="train clips per class (smoke)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    names = a.variants.split(",")
    variants = [Variant(n, **VARIANTS[n]) for n in names]
    for v in variants:
        if a.epochs:
            v.epochs = a.epochs
        if a.limit:
            v.per_class = a.limit
    t0 = time.time()
    most = max(v.per_class for v in variants)
    data = {"train": render_split("train", most, a.workers),
            "val": render_split("val", 50, a.workers)}
    if a.limit:
        data["val"] = (data["val"][0][::10], data["val"][1][::10])
    print(f"rendered in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    path = "/tmp/recipe_search_data.pt"
    torch.save(data, path)
    ctx = multiprocessing.get_context("spawn")
    results = []
    with ctx.Pool(len(variants)) as pool:  # results are written as they come (partial runs)
        for res in pool.imap_unordered(_child, [(v, a.device, path) for v in variants]):
            results.append(res)
            if a.json:
                with open(a.json, "w") as f:
                    json.dump(results, f, indent=1)
    for r in results:
        if "error" in r:
            print(r["variant"], "ERROR", r["error"])
            continue
        print(f"{r['variant']:>10} exits {r['val_top1_per_exit']} scene {r['scene']} "
              f"temporal {r['temporal']} depth {r['schemes']['depth']} unified "
              f"{r['schemes']['unified']} {r['train_s']} s {r['mmacs_per_frame']} MMAC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
