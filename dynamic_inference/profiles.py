"""The three settings the notebooks run in, chosen by ``PROFILE`` in a chapter's first cell.

* ``"mini"`` (CPU, minutes): the shipped mini MSDNet (``checkpoints/msdnet_mini_*.pt``, the
  paper's ablation backbone at CPU size: multi-scale dense blocks, an exit per block) on the
  shipped MiniActions (``datasets_mini/``, 64 x 64). The tiny ResNet (``checkpoints/tiny_*.pt``,
  the ResNet-50 stand-in) is shipped too: pass its path to ``evaluate`` or the benchmarks.
* ``"gpu"`` (one CUDA GPU, nothing downloaded): the paper's ablation backbone, MSDNet-38 with an
  exit per block (or TSM-ResNet-50, ``DI_GPU_MODEL=tsm_resnet50``), 16 frames, on MiniActions
  rendered by the project's generator at a paper-like 128 x 128. What is absent is made on first
  use and kept in ``gpu_profile/`` (git-ignored): the dataset (``make-mini --size 128``) and the
  three checkpoints (online, offline and no shift), each trained by the project's own training
  (the ``train`` command of :meth:`GpuRecipe.command`, with its progress bar).
* ``"paper"`` (GPU, your data): a real dataset root and checkpoints you trained at paper scale,
  found from two environment variables because they are not shipped:

  - ``DI_PAPER_CHECKPOINTS``: folder with ``online.pt``, ``offline.pt`` and ``tsn.pt``, trained
    with ``python -m dynamic_inference train --model msdnet38 --dataset kinetics400 --data ROOT
    --size 224 --frames 16 --device cuda --shift {online,offline,off} --out ...``;
  - ``DI_DATA``: the dataset root (``--data`` of the training command).

A chapter reads everything that differs from :func:`profile` and from the loaded checkpoint's
config (exits, frames, groups, input size); the cells after that are the same in all three.

The gpu profile's recipe can be changed with ``DI_GPU_*`` variables (see :class:`GpuRecipe`);
the tests use them to run the same code path on CPU at a toy size (``DI_GPU_DEVICE=cpu``,
``DI_GPU_SIZE=32``, ``DI_GPU_PER_CLASS=1``, ``DI_GPU_STEPS=1``). Choices where the issue is open:
MiniActions at 128 (4x the pixels of the mini profile; a paper-like 112 is not a multiple of
32, which every backbone's five halvings need) and the tiny net's training recipe (20 epochs,
AdamW, label smoothing 0.1, time-reversal 0.5), with spatial jitter scaled to the frame side.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from dynamic_inference.checkpoint import TrainConfig
from dynamic_inference.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
VARIANTS: dict[str, str] = {"online": "online", "offline": "offline", "tsn": "off"}
"""Checkpoint variant name -> the ``--shift`` it is trained with."""


@dataclass(frozen=True)
class GpuRecipe:
    """What ``PROFILE = "gpu"`` renders and trains when it is absent (``DI_GPU_<FIELD>``)."""

    root: Path = REPO_ROOT / "gpu_profile"  # holds data/ and checkpoints/
    model: str = "msdnet38"  # the backbone: msdnet38 (the paper's ablation) or tsm_resnet50
    size: int = 128  # frame side of the rendered clips and of the network input (x32)
    frames: int = 16  # frames per clip, as in the paper
    groups: int = 4  # frame groups of the input axis (the prefix losses of training)
    per_class: int | None = None  # train clips per class (None: MiniActions' 80 / 50 / 50)
    seed: int = 0  # data seed (the shipped MiniActions' seed) and training seed
    epochs: int = 20
    batch_size: int = 16
    steps: int | None = None  # stop after this many optimiser steps (smoke runs)
    device: str = "cuda"
    workers: int = 4  # data-loading processes while training

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> GpuRecipe:
        """The defaults, with every ``DI_GPU_<FIELD>`` variable of ``env`` applied."""
        env = dict(os.environ) if env is None else env
        recipe = cls()
        for f in fields(cls):
            raw = env.get(f"DI_GPU_{f.name.upper()}")
            if raw is None:
                continue
            if f.name in ("model", "device"):
                value: object = raw
            elif f.name == "root":
                value = Path(raw)
            else:
                try:
                    value = int(raw)
                except ValueError:
                    raise ConfigError(f"DI_GPU_{f.name.upper()} must be an integer, got "
                                      f"{raw!r}") from None
            recipe = replace(recipe, **{f.name: value})
        recipe.validate()
        return recipe

    def validate(self) -> None:
        """One line (:class:`ConfigError`) for a setting that cannot work, before any work."""
        from dynamic_inference.backbones import MODEL_NAMES
        from dynamic_inference.checks import check_int

        if self.model not in MODEL_NAMES:
            raise ConfigError(f"DI_GPU_MODEL must be one of {', '.join(MODEL_NAMES)}, got "
                              f"{self.model!r}")
        check_int("DI_GPU_SIZE", self.size, 32)
        if self.size % 32:
            raise ConfigError(f"DI_GPU_SIZE must be a multiple of 32 (the backbones halve the "
                              f"frame five times), got {self.size}")
        for name in ("frames", "groups", "epochs", "batch_size"):
            check_int(f"DI_GPU_{name.upper()}", getattr(self, name), 1)
        for name in ("per_class", "steps"):
            if getattr(self, name) is not None:
                check_int(f"DI_GPU_{name.upper()}", getattr(self, name), 1)
        check_int("DI_GPU_WORKERS", self.workers, 0)
        check_int("DI_GPU_SEED", self.seed, 0)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint_path(self, variant: str) -> Path:
        return self.checkpoint_dir / f"{self.model}_{variant}.pt"

    def train_config(self, variant: str) -> TrainConfig:
        """The training run of checkpoint ``variant`` (online, offline or tsn)."""
        return TrainConfig(
            model=self.model, data=str(self.data), shift=VARIANTS[variant], frames=self.frames,
            groups=self.groups, size=self.size, epochs=self.epochs, batch_size=self.batch_size,
            label_smoothing=0.1, reverse_aug=0.5, jitter=max(1, round(6 * self.size / 64)),
            seed=self.seed, device=self.device, workers=self.workers, steps=self.steps,
        )

    def command(self, variant: str) -> str:
        """The ``train`` command line equivalent to :meth:`train_config` (for the provenance)."""
        c = self.train_config(variant)
        steps = "" if c.steps is None else f" --steps {c.steps}"
        return (f"python -m dynamic_inference train --model {c.model} --data {c.data} "
                f"--shift {c.shift} --frames {c.frames} --groups {c.groups} --size {c.size} "
                f"--epochs {c.epochs} "
                f"--batch-size {c.batch_size} --label-smoothing {c.label_smoothing} "
                f"--reverse-aug {c.reverse_aug} --jitter {c.jitter} --seed {c.seed} "
                f"--device {c.device} --workers {c.workers} --out "
                f"{self.checkpoint_path(variant)}" + steps)

    def prepare_data(self) -> Path:
        """Render MiniActions at :attr:`size` into :attr:`data` unless it is there already;
        refuse data made by another recipe (a smoke run's, say) instead of reusing it."""
        from dynamic_inference.data.mini import MiniConfig, load_recipe, make_mini

        config = replace(MiniConfig.with_per_class(self.seed, self.per_class), size=self.size)
        if (self.data / "recipe.json").is_file():
            made, _ = load_recipe(self.data)
            if made != config:
                raise ConfigError(f"{self.data} holds MiniActions made with another recipe "
                                  f"(size {made.size}, seed {made.seed}); delete it or set "
                                  "DI_GPU_ROOT to another folder")
        else:
            print(f"gpu profile: rendering MiniActions at {self.size}x{self.size} into "
                  f"{self.data.name}/ (once)", flush=True)
            make_mini(self.data, config=config)
        return self.data

    def prepare_checkpoint(self, variant: str) -> Path:
        """Train checkpoint ``variant`` unless it is there already; its path."""
        from dynamic_inference.train import train

        path = self.checkpoint_path(variant)
        if path.is_file():
            from dynamic_inference.checkpoint import provenance_path

            made = json.loads(provenance_path(path).read_text()).get("command")
            if made != self.command(variant):
                raise ConfigError(f"{path.name} was trained by another recipe ({made}); delete "
                                  "it or set DI_GPU_ROOT to another folder")
        else:
            self.prepare_data()
            print(f"gpu profile: training {path.name} (once)", flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            train(self.train_config(variant), path, command=self.command(variant))
        return path


@dataclass(frozen=True)
class Profile:
    """Where the checkpoints and data of a notebook run come from, and on what device."""

    name: str
    checkpoint_dir: Path
    data: Path | None  # None: the checkpoint's own dataset root (MiniActions: datasets_mini/)
    device: str
    prefix: str  # checkpoint file names are <prefix><variant>.pt
    recipe: GpuRecipe | None = None  # the gpu profile: how to make what is absent

    def checkpoint(self, variant: str = "online") -> Path:
        """The checkpoint of shift ``variant`` (``online``, ``offline`` or ``tsn``); the gpu
        profile trains it first if it is absent."""
        if variant not in VARIANTS:
            raise ConfigError(f"checkpoint variant must be one of {', '.join(VARIANTS)}, got "
                              f"{variant!r}")
        if self.recipe is not None:
            return self.recipe.prepare_checkpoint(variant)
        path = self.checkpoint_dir / f"{self.prefix}{variant}.pt"
        if not path.is_file():
            raise ConfigError(
                f"checkpoint {path.name} not found in {self.checkpoint_dir.name}/: "
                "see README 'Shipped checkpoints' for the command that trains it"
            )
        return path


def profile(name: str = "mini") -> Profile:
    """The profile ``name`` (``mini``, ``gpu`` or ``paper``); see the module docstring."""
    if name == "mini":
        return Profile("mini", REPO_ROOT / "checkpoints", None, "cpu", "msdnet_mini_")
    if name == "gpu":
        from dynamic_inference.checks import check_device

        recipe = GpuRecipe.from_env()
        check_device(recipe.device, "PROFILE = 'gpu' (DI_GPU_DEVICE)")
        return Profile("gpu", recipe.checkpoint_dir, recipe.prepare_data(), recipe.device,
                       f"{recipe.model}_", recipe)
    if name == "paper":
        ckpts, data = os.environ.get("DI_PAPER_CHECKPOINTS"), os.environ.get("DI_DATA")
        if not ckpts or not data:
            raise ConfigError(
                "PROFILE = 'paper' needs DI_PAPER_CHECKPOINTS (trained paper-scale checkpoints) "
                "and DI_DATA (the dataset root) in the environment; see dynamic_inference/"
                "profiles.py"
            )
        return Profile("paper", Path(ckpts), Path(data), "cuda", "")
    raise ConfigError(f"PROFILE must be 'mini', 'gpu' or 'paper', got {name!r}")
