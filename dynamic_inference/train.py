"""Multi-exit training for the depth, input and unified schemes.

The loss follows MSDNet: a cross-entropy at every decision point the scheme can stop at, so every
classifier learns to answer on its own. For the depth axis that is every exit on all T frames;
for the input axis every *group prefix* (the mean of the features of groups 1..g, see
:mod:`dynamic_inference.exits`) at the last exit; for the unified scheme every (group prefix,
exit) pair. The terms are summed and divided by their number, so the learning rate does not depend
on how many decision points there are.

Frames enter the network in the scheme's frame order (``strided`` by default: the first group
already spans the clip), the same order the schemes and the engine use at inference. With the
online (causal) shift the features of group g only depend on groups <= g, which is what makes the
prefix losses match streaming inference.

Runs on CPU or CUDA (AMP), single process or under ``torchrun --nproc_per_node N`` with
DistributedDataParallel (gloo on CPU, nccl on CUDA). Seeded: on CPU the same seed gives the same
weights. Writes a checkpoint (``state_dict`` + config + provenance) and a provenance JSON next to
it (:mod:`dynamic_inference.checkpoint` defines the config and reads checkpoints back).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from dynamic_inference.backbones import build_model
from dynamic_inference.checkpoint import (
    REPO_ROOT,
    TrainConfig,
    provenance_path,
    save_checkpoint,
)
from dynamic_inference.checks import (
    check_device,
    check_output_file,
)
from dynamic_inference.errors import ConfigError, DatasetError
from dynamic_inference.exits import MultiExitNet
from dynamic_inference.schemes import frame_order

DISTILL_TEMPERATURE = 2.0  # softens the last exit's answer that earlier points learn from


def prefix_losses(
    frame_logits: list[Tensor], labels: Tensor, groups: int, loss: str, smoothing: float = 0.0,
    distill: float = 0.0,
) -> tuple[Tensor, list[Tensor]]:
    """The multi-exit, multi-prefix loss.

    ``frame_logits[k]``: ``(N, T, C)`` per-frame logits of exit k, frames in processing order.
    Returns the mean of the cross-entropy terms and, per exit, the full-clip video logits
    ``(N, C)`` (for accuracy bars).

    ``distill > 0`` (beyond the paper; self-distillation as in Phuong & Lampert, ICCV 2019):
    every term other than the last exit on the whole clip also learns the last exit's
    whole-clip answer, ``distill * tau^2 * KL(softmax(teacher / tau) || softmax(video / tau))``
    with ``tau = DISTILL_TEMPERATURE`` and the teacher detached.
    """
    k_all = len(frame_logits)
    t = frame_logits[0].shape[1]
    per_group = t // groups
    tau = DISTILL_TEMPERATURE
    teacher = F.softmax(frame_logits[-1].float().mean(dim=1).detach() / tau, dim=1)  # (N, C)
    # cumulative mean over frames: prefix[:, j] = mean of frames 0..j
    terms = []
    for k, lg in enumerate(frame_logits):
        csum = lg.float().cumsum(dim=1)  # (N, T, C)
        for g in range(1, groups + 1):
            use = (
                (loss == "unified")
                or (loss == "depth" and g == groups)
                or (loss == "input" and k == k_all - 1)
            )
            if use:
                video = csum[:, g * per_group - 1] / (g * per_group)  # (N, C)
                term = F.cross_entropy(video, labels, label_smoothing=smoothing)
                if distill > 0 and not (k == k_all - 1 and g == groups):
                    student = F.log_softmax(video / tau, dim=1)
                    kd = F.kl_div(student, teacher, reduction="batchmean") * tau**2
                    term = term + distill * kd
                terms.append(term)
    full = [lg.float().mean(dim=1) for lg in frame_logits]
    return torch.stack(terms).mean(), full


def time_reversal(
    clips: Tensor, labels: Tensor, reverse: Tensor, p: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Play each clip backwards with probability ``p`` and relabel it ``reverse[label]``.

    ``clips``: ``(N, T, 3, H, W)`` in time order. For classes defined as each other's time
    reversal (MiniActions' pairs, e.g. move_right / move_left) a reversed clip *is* a clip of the
    partner class, and a class that is its own partner (a scene) keeps its label. Every
    appearance then occurs under both labels of a pair, so memorising appearance cannot solve a
    pair: only the direction of time can (this is what makes the temporal shift learn motion).
    """
    flip = torch.rand(clips.shape[0], generator=generator) < p  # (N,)
    if not flip.any():
        return clips, labels
    clips = clips.clone()
    clips[flip] = clips[flip].flip(1)
    labels = torch.where(flip, reverse[labels], labels)
    return clips, labels


def spatial_jitter(clips: Tensor, pixels: int, generator: torch.Generator) -> Tensor:
    """Translate every clip by its own random ``(dy, dx)`` in ``[-pixels, pixels]``, the same
    for all its frames, wrapping around the border (``torch.roll``).

    ``clips``: ``(N, T, 3, H, W)``. Where a class is, in the frame, is then no cue; what is
    left is what it looks like and how it moves. On MiniActions this added 8 points of val top-1
    to the tiny net (``benchmarks/recipe_search.py``, one seed).
    """
    if pixels <= 0:
        return clips
    shifts = torch.randint(-pixels, pixels + 1, (clips.shape[0], 2), generator=generator)
    return torch.stack([
        clip.roll((int(dy), int(dx)), dims=(2, 3)) for clip, (dy, dx) in zip(clips, shifts)
    ])


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor at ``step``: linear warm-up over ``warmup`` steps, then a cosine to
    zero at ``total`` (for ``torch.optim.lr_scheduler.LambdaLR``)."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu() -> str:
    """The CPU's model name and the vector instruction set torch's kernels use on it.

    Both enter the weights: a kernel for another instruction set (AVX2, AVX512) sums in another
    order, so the same command at the same thread count gives other float roundings there.
    """
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {torch.backends.cpu.get_cpu_capability()}"


def _distributed() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run as one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world


def load_datasets(cfg: TrainConfig):
    """(train, val) VideoDatasets for ``cfg.dataset`` at ``cfg.data``; their class lists must be
    the same (one label index for both splits). With ``cfg.skip_bad`` missing and undecodable
    clips are dropped and listed in each dataset's ``skipped``."""
    from dynamic_inference.data.datasets import load_dataset

    train = load_dataset(
        cfg.dataset, cfg.data, "train", n_frames=cfg.frames, train=True,
        size=cfg.input_size, limit=cfg.limit, preload=cfg.dataset == "mini",
        skip_bad=cfg.skip_bad,
    )
    val = load_dataset(
        cfg.dataset, cfg.data, "val", n_frames=cfg.frames, train=False,
        size=cfg.input_size, preload=cfg.dataset == "mini", skip_bad=cfg.skip_bad,
    )
    if list(val.classes) != list(train.classes):
        raise DatasetError(f"the train and val splits of {cfg.data or cfg.dataset} have "
                           f"different class lists ({len(train.classes)} and "
                           f"{len(val.classes)} classes); they must share one label index")
    return train, val


def check_train_outputs(out: str | Path) -> None:
    """Refuse, before any work, a checkpoint path (or its provenance path) that cannot be
    written: a folder, a ``.json`` name, a read-only file or folder."""
    check_output_file(out, "--out")
    check_output_file(provenance_path(out), "--out")


@torch.inference_mode()
def per_exit_accuracy(
    model: MultiExitNet, loader: DataLoader, order: Tensor, device: torch.device
) -> list[float]:
    """Top-1 of every exit on all frames (the depth axis), in percent."""
    model.eval()
    correct = torch.zeros(model.num_exits)
    n = 0
    for clips, labels in loader:
        out = model(clips[:, order].to(device))
        for k, lg in enumerate(out.logits):
            correct[k] += (lg.mean(1).argmax(1).cpu() == labels).sum()
        n += len(labels)
    return [round(100.0 * float(c) / max(n, 1), 2) for c in correct]


def train(
    cfg: TrainConfig, out: str | Path, command: str | None = None, datasets: tuple | None = None
) -> dict[str, Any]:
    """Train ``cfg`` and write the checkpoint ``out`` (+ ``out`` with suffix ``.json``).

    ``datasets``: (train, val) to use instead of loading ``cfg.dataset``. Returns the provenance
    dict. Works under torchrun (only rank 0 writes). The outputs, the device and the input size
    are checked before any data is loaded.
    """
    check_train_outputs(out)
    check_device(cfg.device)
    from dynamic_inference.flops import check_input_size

    check_input_size(build_model(cfg.model, 2, shift=cfg.shift, **cfg.model_kwargs),
                     cfg.input_size, f"--size {cfg.input_size}")
    model, provenance = fit(cfg, *(datasets or load_datasets(cfg)), command=command)
    if _distributed()[0] == 0:
        save_checkpoint(model, cfg, provenance, out)
    if dist.is_initialized():
        dist.barrier()
    return provenance


def fit(
    cfg: TrainConfig, train_set: Any, val_set: Any, command: str | None = None
) -> tuple[MultiExitNet, dict[str, Any]]:
    """The training loop; returns the trained model and its provenance (no file written).

    ``train_set`` / ``val_set`` yield ``(clips (T, 3, H, W), label)`` and have ``classes``.
    """
    rank, world = _distributed()
    device = torch.device(check_device(cfg.device))
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    _seed_everything(cfg.seed)
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)

    model = build_model(cfg.model, len(train_set.classes), shift=cfg.shift, **cfg.model_kwargs)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device, memory_format=layout)  # activations follow the conv weights' layout
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    gen = torch.Generator().manual_seed(cfg.seed)
    sampler = DistributedSampler(train_set, world, rank, seed=cfg.seed) if world > 1 else None
    loader = DataLoader(
        train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
        num_workers=cfg.workers, generator=gen, drop_last=len(train_set) > cfg.batch_size,
        pin_memory=device.type == "cuda",
        persistent_workers=cfg.workers > 0,
    )
    val_loader = DataLoader(val_set, batch_size=32, num_workers=cfg.workers)

    if cfg.optimizer == "adamw":
        lr = cfg.lr if cfg.lr is not None else 2e-3
        wd = cfg.weight_decay if cfg.weight_decay is not None else 0.05
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    else:
        lr = cfg.lr if cfg.lr is not None else 0.05
        wd = cfg.weight_decay if cfg.weight_decay is not None else 1e-4
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    total = cfg.epochs * len(loader)
    if cfg.steps is not None:
        total = min(cfg.steps, total)
    warmup = min(len(loader), max(total // 20, 1))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, warmup, total))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    reverse = None
    if cfg.reverse_aug > 0:
        if getattr(train_set, "reverse_labels", None) is None:
            raise ConfigError(
                f"--reverse-aug needs a dataset whose classes have time-reversed partners; "
                f"{cfg.dataset} does not define them"
            )
        reverse = torch.tensor(train_set.reverse_labels)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1000 * rank)

    t0 = time.time()
    step = 0
    history = []
    for epoch in range(cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        if hasattr(train_set, "set_epoch"):  # new random segment offsets every epoch
            train_set.set_epoch(epoch)
        net.train()
        bar = tqdm(
            loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=rank != 0,
            leave=False, dynamic_ncols=True,
        )
        run_loss, run_correct, run_n = 0.0, torch.zeros(model.num_exits), 0
        for clips, labels in bar:
            if reverse is not None:
                clips, labels = time_reversal(clips, labels, reverse, cfg.reverse_aug, aug_gen)
            clips = spatial_jitter(clips, cfg.jitter, aug_gen)
            order = frame_order(cfg.order, cfg.frames, cfg.groups, seed=cfg.seed + step)
            clips, labels = clips[:, order].to(device), labels.to(device)  # (N, T, 3, H, W)
            with torch.autocast(device.type, enabled=use_amp):
                out = net(clips)
                loss, video = prefix_losses(
                    out.logits, labels, cfg.groups, cfg.loss, cfg.label_smoothing, cfg.distill
                )
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            step += 1
            run_loss += loss.item() * len(labels)
            run_n += len(labels)
            for k, v in enumerate(video):
                run_correct[k] += (v.argmax(1) == labels).sum().cpu()
            accs = " ".join(f"{100 * float(c) / run_n:.0f}" for c in run_correct)
            bar.set_postfix_str(f"loss {run_loss / run_n:.3f} acc/exit {accs}")
            if cfg.steps is not None and step >= cfg.steps:
                break
        history.append({"epoch": epoch + 1, "loss": round(run_loss / max(run_n, 1), 4)})
        if rank == 0:
            print(f"epoch {epoch + 1}: loss {run_loss / max(run_n, 1):.3f}", file=sys.stderr)
        if cfg.steps is not None and step >= cfg.steps:
            break
    train_time = time.time() - t0
    model.to(memory_format=torch.contiguous_format)  # the checkpoint holds NCHW weights
    if world > 1:  # DDP keeps parameters in sync; BatchNorm statistics are per rank: take rank 0's
        for buf in model.buffers():
            dist.broadcast(buf, src=0)

    eval_order = frame_order(cfg.order, cfg.frames, cfg.groups, seed=cfg.seed)
    val_acc = per_exit_accuracy(model, val_loader, eval_order, device) if rank == 0 else []
    provenance = {
        "command": command or "python -m dynamic_inference train (API call)",
        "config": asdict(cfg),
        "seed": cfg.seed,
        "git_commit": _git_commit(),
        "dataset_checksum": getattr(train_set, "checksum", None),
        "classes": list(train_set.classes),
        "skipped": skipped_clips(train_set) + skipped_clips(val_set),
        "val_top1_per_exit": val_acc,
        "val_clips": len(val_set),  # the clips val_top1_per_exit is measured on
        "exit_names": list(model.exit_names),
        "train_time_s": round(train_time, 1),
        "steps": step,
        "world_size": world,
        # a CPU kernel may sum in another order with another thread count or instruction set: a
        # rerun meant to give the same weights bit for bit uses the same count on the same kind
        # of CPU (the shipped mini MSDNets: 1 thread; their CPU was not recorded)
        "torch_threads": torch.get_num_threads(),
        "hardware": _cpu() if device.type == "cpu" else torch.cuda.get_device_name(device),
        "history": history,
        "torch": str(torch.__version__),
    }
    return model, provenance


def skipped_clips(dataset: Any) -> list[str]:
    """The clips a dataset dropped (missing or undecodable files), as ``"path: reason"``."""
    return [f"{path}: {reason}" for path, reason in getattr(dataset, "skipped", [])]


def cli_train(args: argparse.Namespace) -> int:
    known = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in known}
    cfg = TrainConfig(**values)
    command = "python -m dynamic_inference train " + " ".join(sys.argv[2:])
    prov = train(cfg, args.out, command=command)
    if _distributed()[0] == 0:
        if prov["skipped"]:
            print(f"skipped {len(prov['skipped'])} clips (listed in "
                  f"{provenance_path(args.out)}): " + "; ".join(prov["skipped"][:3])
                  + (" ..." if len(prov["skipped"]) > 3 else ""))
        print(
            f"wrote {args.out} and {provenance_path(args.out)}: val top-1 per exit "
            f"{prov['val_top1_per_exit']} in {prov['train_time_s']:.0f} s"
        )
    return 0
