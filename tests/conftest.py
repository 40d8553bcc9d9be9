"""Fixtures shared by test files."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# `make unit` runs the tests in one pytest-xdist worker per core: each worker keeps to one torch
# thread so that the workers do not compete for the same cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


def _tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` (the tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bn() -> ModuleType:
    """``tools/build_notebooks.py``: parse, substitute and execute chapter sources."""
    return _tool("build_notebooks")


@pytest.fixture(scope="session")
def gpu_script() -> ModuleType:
    """``tools/gpu_profile.py``: the prepared run of the gpu profile."""
    return _tool("gpu_profile")
