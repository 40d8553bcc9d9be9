"""Multi-exit training: the loss, determinism, checkpoints and DDP (issue 6)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from dynamic_inference.checkpoint import TrainConfig, load_checkpoint, save_checkpoint
from dynamic_inference.errors import CheckpointError, ConfigError
from dynamic_inference.train import fit, prefix_losses, train


class ColourClips(torch.utils.data.Dataset):
    """Tiny learnable clips: the class is the colour of a square that moves one way."""

    classes = ["red", "green", "blue"]

    def __init__(self, n: int, frames: int = 4, size: int = 64, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n) % 3
        self.clips = 0.1 * torch.randn(n, frames, 3, size, size, generator=g)
        for i, y in enumerate(self.labels.tolist()):
            for t in range(frames):
                self.clips[i, t, y, 16:40, 8 + 6 * t : 32 + 6 * t] += 2.0
        self.records = list(range(n))
        self.checksum = "synthetic"

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.clips[i], int(self.labels[i])


def _cfg(**kw) -> TrainConfig:
    base = dict(model="tiny", frames=4, groups=2, size=64, epochs=1, batch_size=4, steps=3,
)
    base.update(kw)
    return TrainConfig(**base)


def test_prefix_losses_terms():
    torch.manual_seed(0)
    logits = [torch.randn(2, 4, 3, requires_grad=True) for _ in range(3)]
    y = torch.tensor([0, 2])
    for kind, n_terms in (("depth", 3), ("input", 2), ("unified", 6)):
        loss, full = prefix_losses(logits, y, groups=2, loss=kind)
        assert loss.ndim == 0 and len(full) == 3
        # hand-computed: mean of the CE terms of the points the scheme can stop at
        terms = []
        for k in range(3):
            for g in (1, 2):
                if kind == "unified" or (kind == "depth" and g == 2) or (
                    kind == "input" and k == 2
                ):
                    v = logits[k][:, : 2 * g].mean(1)
                    terms.append(torch.nn.functional.cross_entropy(v, y))
        assert len(terms) == n_terms
        torch.testing.assert_close(loss, torch.stack(terms).mean())


def test_prefix_losses_self_distillation():
    """With ``distill`` every point but the last exit on the whole clip also matches the last
    exit's whole-clip answer (softened, detached): hand-computed on 2 exits x 2 groups."""
    from dynamic_inference.train import DISTILL_TEMPERATURE as tau

    torch.manual_seed(1)
    logits = [torch.randn(3, 4, 5, requires_grad=True) for _ in range(2)]
    y = torch.tensor([0, 4, 2])
    plain, _ = prefix_losses(logits, y, groups=2, loss="unified")
    same, _ = prefix_losses(logits, y, groups=2, loss="unified", distill=0.0)
    torch.testing.assert_close(plain, same)
    loss, _ = prefix_losses(logits, y, groups=2, loss="unified", distill=0.5)
    F = torch.nn.functional
    teacher = F.softmax(logits[1].mean(1).detach() / tau, 1)
    terms = []
    for k in range(2):
        for g in (1, 2):
            v = logits[k][:, : 2 * g].mean(1)
            term = F.cross_entropy(v, y)
            if (k, g) != (1, 2):
                kl = (teacher * (teacher.log() - F.log_softmax(v / tau, 1))).sum(1).mean()
                term = term + 0.5 * tau**2 * kl
            terms.append(term)
    torch.testing.assert_close(loss, torch.stack(terms).mean())
    loss.backward()
    assert logits[0].grad is not None and logits[1].grad is not None
    with pytest.raises(ConfigError, match="distill"):
        _cfg(distill=-1.0)


def test_same_seed_same_weights_and_learning():
    torch.set_num_threads(1)
    data = (ColourClips(24), ColourClips(12, seed=1))
    m1, p1 = fit(_cfg(steps=None, epochs=5), *data)
    m2, _ = fit(_cfg(steps=None, epochs=5), *data)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert p1["val_top1_per_exit"][-1] > 50  # chance is 33%
    assert p1["torch_threads"] == 1  # what a bit-for-bit rerun must use again
    # ... on the same kind of CPU: its name and the instruction set torch's kernels use
    assert p1["hardware"].endswith(", " + torch.backends.cpu.get_cpu_capability())


@pytest.mark.parametrize("model", ["tiny", "msdnet_mini"])
def test_channels_last_trains_the_same_model_in_nhwc(model: str):
    """--channels-last changes the layout of the activations, not what is learned: one step moves
    the weights as the NCHW run does, to float rounding, and they come back NCHW-contiguous.
    (Over more steps the rounding grows as in any two CPU runs with other float sums.)"""
    torch.set_num_threads(1)
    data = (ColourClips(12), ColourClips(6, seed=1))
    layouts = []

    def record(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d) and module.training:  # not the val pass
            layouts.append(output.is_contiguous(memory_format=torch.channels_last))

    step = dict(model=model, steps=1, optimizer="sgd")  # AdamW's first step is lr * sign(grad)
    init, _ = fit(_cfg(**step, lr=1e-12), *data)
    nchw, p1 = fit(_cfg(**step), *data)
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        nhwc, p2 = fit(_cfg(**step, channels_last=True), *data)
    finally:
        handle.remove()
    assert p2["config"]["channels_last"] is True and p1["history"] == p2["history"]
    assert layouts and all(layouts)  # every training conv ran on NHWC activations
    moved = 0.0
    for k, a in nchw.state_dict().items():
        b = nhwc.state_dict()[k]
        assert b.is_contiguous(), k
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4)
        if a.is_floating_point():
            moved = max(moved, (a - init.state_dict()[k]).abs().max().item())
    assert moved > 1e-2  # the step changed the weights far more than the tolerance


def test_checkpoint_round_trip_and_mismatch(tmp_path: Path):
    data = (ColourClips(8), ColourClips(6, seed=1))
    out = tmp_path / "m.pt"
    prov = train(_cfg(), out, datasets=data)
    assert (tmp_path / "m.json").is_file() and prov["steps"] == 2
    model, cfg, prov2 = load_checkpoint(out, expect={"shift": "online"})
    assert cfg.frames == 4 and prov2["classes"] == ColourClips.classes
    with pytest.raises(CheckpointError, match="shift='online'"):
        load_checkpoint(out, expect={"shift": "offline"})
    blob = torch.load(out, weights_only=True)
    blob["config"]["model"] = "msdnet38"
    torch.save(blob, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="does not fit|shape"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    # save_checkpoint writes the weights, the config and the provenance beside it
    written = {"classes": prov2["classes"], "note": 1}
    save_checkpoint(model, cfg, written, tmp_path / "again.pt")
    again, cfg2, prov3 = load_checkpoint(tmp_path / "again.pt")
    assert cfg2 == cfg and prov3 == written
    assert json.loads((tmp_path / "again.json").read_text()) == prov3
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


@pytest.mark.parametrize("kw", [dict(frames=6, groups=4), dict(loss="both"), dict(epochs=0)])
def test_bad_config(kw):
    with pytest.raises(ConfigError):
        _cfg(**kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import torch.distributed as dist

    model, _ = fit(_cfg(steps=3), ColourClips(16), ColourClips(6, seed=1))
    torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")
    dist.destroy_process_group()


def test_ddp_two_processes_end_with_identical_weights(tmp_path: Path):
    """2 CPU processes with gloo, DistributedSampler: both ranks hold the same weights."""
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    init, _ = fit(_cfg(steps=1, epochs=1), ColourClips(4), ColourClips(3))
    changed = False
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for k, v in init.state_dict().items():
        changed |= not torch.equal(v, a[k])
    assert changed


def test_time_reversal_augmentation():
    from dynamic_inference.data.mini.classes import mini_reverse_labels
    from dynamic_inference.train import time_reversal

    reverse = torch.tensor(mini_reverse_labels())
    assert reverse[reverse].tolist() == list(range(16))  # an involution
    assert reverse[:8].tolist() == list(range(8))  # scenes keep their label
    clips = torch.arange(3 * 5, dtype=torch.float32).view(3, 5, 1, 1, 1).expand(3, 5, 3, 2, 2)
    labels = torch.tensor([0, 8, 14])
    gen = torch.Generator().manual_seed(0)
    out, new = time_reversal(clips, labels, reverse, 1.0, gen)
    assert new.tolist() == [0, 9, 15]
    assert torch.equal(out[1, :, 0, 0, 0], clips[1, :, 0, 0, 0].flip(0))
    same, kept = time_reversal(clips, labels, reverse, 0.0, gen)
    assert same is clips and kept is labels


def test_spatial_jitter_moves_each_clip_rigidly():
    from dynamic_inference.train import spatial_jitter

    clips = torch.randn(6, 4, 3, 8, 8)
    gen = torch.Generator().manual_seed(0)
    out = spatial_jitter(clips, 3, gen)
    assert out.shape == clips.shape
    moved = 0
    for a, b in zip(clips, out):  # each clip: one (dy, dx) in [-3, 3]^2 for all its frames
        hits = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                if torch.equal(a.roll((dy, dx), dims=(2, 3)), b)]
        assert len(hits) == 1
        moved += hits[0] != (0, 0)
    assert moved > 0
    again = spatial_jitter(clips, 3, torch.Generator().manual_seed(0))
    assert torch.equal(again, out)  # seeded
    assert spatial_jitter(clips, 0, gen) is clips
    with pytest.raises(ConfigError, match="jitter"):
        _cfg(jitter=-2)


def test_reverse_aug_needs_reverse_labels():
    with pytest.raises(ConfigError, match="reverse"):
        fit(_cfg(reverse_aug=0.5), ColourClips(8), ColourClips(4))
    with pytest.raises(ConfigError, match="probability"):
        _cfg(reverse_aug=2.0)


@pytest.mark.parametrize("model", ["tsm_resnet50", "msdnet38"])
def test_paper_scale_recipe_smoke(tmp_path: Path, model: str):
    """The paper-scale command path (real dataset format, 224x224, paper backbone), one step on
    CPU on 2 tiny clips of a UCF-101-layout folder."""
    import numpy as np

    from dynamic_inference.data.datasets import load_dataset
    from dynamic_inference.data.mini import encode_clip

    root = tmp_path / "ucf101"
    (root / "videos" / "ApplyEyeMakeup").mkdir(parents=True)
    (root / "videos" / "Archery").mkdir(parents=True)
    (root / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\n2 Archery\r\n")
    names = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "Archery/v_Archery_g01_c01.avi"]
    rng = np.random.default_rng(0)
    for name in names:
        frames = rng.integers(0, 255, (12, 64, 80, 3), dtype=np.uint8)
        encode_clip(frames, root / "videos" / name)  # an H.264 stream behind an .avi name
    (root / "trainlist01.txt").write_bytes(
        "".join(f"{n} {i + 1}\r\n" for i, n in enumerate(names)).encode())
    (root / "testlist01.txt").write_bytes("".join(f"{n}\r\n" for n in names).encode())
    torch.set_num_threads(1)
    cfg = TrainConfig(model=model, dataset="ucf101", data=str(root), frames=4, groups=2,
                      size=224, epochs=1, batch_size=2, steps=1, optimizer="sgd")
    train_set = load_dataset("ucf101", root, "train", n_frames=4, train=True, size=224)
    clip, label = train_set[1]
    assert clip.shape == (4, 3, 224, 224) and label == 1
    val_set = load_dataset("ucf101", root, "val", n_frames=4, train=False, size=224, limit=1)
    out = tmp_path / f"{model}.pt"
    prov = train(cfg, out, datasets=(train_set, val_set))
    assert prov["steps"] == 1 and out.is_file()
    loaded, cfg2, _ = load_checkpoint(out)
    assert cfg2.model == model and loaded.num_classes == 2


SHIPPED = sorted((Path(__file__).resolve().parents[1] / "checkpoints").glob("*.pt"))


@pytest.mark.skipif(not SHIPPED, reason="no shipped checkpoint")
@pytest.mark.parametrize("checkpoint", SHIPPED, ids=lambda p: p.stem)
def test_shipped_checkpoint_matches_its_provenance(checkpoint: Path):
    """Each shipped checkpoint loads into the current code and scores, on the MiniActions val
    split, exactly the per-exit top-1 its provenance file records (the weights and the model
    definition have not drifted apart). Retraining it with the recorded command is the slow
    check, done by hand (closing notes of issue 6)."""
    import json

    from dynamic_inference.logits import load_split
    from dynamic_inference.schemes import frame_order
    from dynamic_inference.train import per_exit_accuracy

    torch.set_num_threads(1)
    model, cfg, prov = load_checkpoint(checkpoint)
    recorded = json.loads(checkpoint.with_suffix(".json").read_text())
    assert recorded["val_top1_per_exit"] == prov["val_top1_per_exit"]
    assert recorded["command"].startswith("python -m dynamic_inference train ")
    assert f"--out checkpoints/{checkpoint.name}" in recorded["command"]
    # the val clips it was measured on: MiniActions had 50 val clips per class when the shipped
    # checkpoints were trained (provenance without "val_clips"); it grew to 150 per class, and
    # the first 50 of every class are the same clips (a clip is seeded by split, label, index)
    val = load_split(cfg, "val")
    per_class = recorded.get("val_clips", 50 * len(val.classes)) // len(val.classes)
    keep = [i for i, r in enumerate(val.records) if int(r.path.stem.rsplit("_", 1)[1]) < per_class]
    assert len(keep) == per_class * len(val.classes)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(val, keep), batch_size=32)
    order = frame_order(cfg.order, cfg.frames, cfg.groups, seed=cfg.seed)
    got = per_exit_accuracy(model, loader, order, torch.device("cpu"))
    assert got == pytest.approx(prov["val_top1_per_exit"], abs=0.01)
