"""The conda environment and the pip constraints must name the same packages and versions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def _environment() -> dict[str, str]:
    """A tiny reader for the subset of YAML environment.yml uses (no PyYAML needed)."""
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.-]+)\s*(==|=)\s*([^\s#]+)\s*$", line)
        if m and m.group(1) != "python":
            pins[m.group(1).lower()] = m.group(3)
    return pins


def test_environment_yml_matches_constraints():
    assert _environment() == _constraints()


def test_environment_yml_uses_conda_forge_and_python_311():
    text = (ROOT / "environment.yml").read_text()
    assert "conda-forge" in text and "python=3.11" in text


def test_pyproject_ranges_admit_the_pins():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_dep = next(d for d in deps if d.startswith("torch>"))
    assert "<=2.14.1" in torch_dep  # never let an unpinned torch in


def test_cli_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "dynamic_inference", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    for cmd in ("demo", "make-mini", "flops", "train", "evaluate", "stream"):
        assert cmd in out
