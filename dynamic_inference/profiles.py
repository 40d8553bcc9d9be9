"""The two settings the notebooks run in: ``mini`` (CPU, shipped data and checkpoints) and
``paper`` (GPU, a real dataset root, paper backbones at 16 x 224).

A notebook sets ``PROFILE = "mini"`` or ``"paper"`` in its first cell and reads everything that
differs from :func:`profile`; the code path after that is the same. The paper profile finds its
checkpoints and data from environment variables, because they are not shipped:

* ``DI_PAPER_CHECKPOINTS``: folder with ``online.pt``, ``offline.pt`` and ``tsn.pt``, trained
  with ``python -m dynamic_inference train --model msdnet38 --dataset kinetics400 --data ROOT
  --size 224 --frames 16 --device cuda --shift {online,offline,off} --out ...``;
* ``DI_DATA``: the dataset root (``--data`` of the training command).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dynamic_inference.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Profile:
    """Where the checkpoints and data of a notebook run come from, and on what device."""

    name: str
    checkpoint_dir: Path
    data: Path | None  # None: the checkpoint's own dataset root (MiniActions: datasets_mini/)
    device: str
    prefix: str  # checkpoint file names are <prefix><variant>.pt

    def checkpoint(self, variant: str = "online") -> Path:
        """The checkpoint of shift ``variant`` (``online``, ``offline`` or ``tsn``)."""
        path = self.checkpoint_dir / f"{self.prefix}{variant}.pt"
        if not path.is_file():
            raise ConfigError(
                f"checkpoint {path.name} not found in {self.checkpoint_dir.name}/: "
                "see README 'Shipped checkpoints' for the command that trains it"
            )
        return path


def profile(name: str = "mini") -> Profile:
    if name == "mini":
        return Profile("mini", REPO_ROOT / "checkpoints", None, "cpu", "tiny_")
    if name == "paper":
        ckpts, data = os.environ.get("DI_PAPER_CHECKPOINTS"), os.environ.get("DI_DATA")
        if not ckpts or not data:
            raise ConfigError(
                "PROFILE = 'paper' needs DI_PAPER_CHECKPOINTS (trained paper-scale checkpoints) "
                "and DI_DATA (the dataset root) in the environment; see dynamic_inference/"
                "profiles.py"
            )
        return Profile("paper", Path(ckpts), Path(data), "cuda", "")
    raise ConfigError(f"PROFILE must be 'mini' or 'paper', got {name!r}")
