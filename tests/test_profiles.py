"""The notebook profiles: ``mini``, ``gpu`` (its code path run on CPU at a toy size) and
``paper``; and every chapter running unchanged with ``PROFILE = "gpu"``.

The toy gpu profile renders MiniActions at 32 x 32 with one clip per class and split, trains
each MSDNet-38 checkpoint for one optimiser step on CPU, and runs each chapter on it: it proves
the cells read exits, frames, groups and sizes from the model and config rather than assuming
the mini profile (its figures mean nothing at that size). The same run answers each chapter's
exercises from ``notebooks/solutions/`` and requires every check to say ``correct``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dynamic_inference.checkpoint import load_checkpoint
from dynamic_inference.errors import ConfigError
from dynamic_inference.profiles import VARIANTS, GpuRecipe, profile

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
# 8 frames in 2 groups and MSDNet-38's 5 exits at 32x32: a chapter that assumed the mini
# profile's 16 frames, 4 groups, 4 exits or 64x64 fails here
TOY = {"DI_GPU_SIZE": "32", "DI_GPU_PER_CLASS": "1", "DI_GPU_STEPS": "1", "DI_GPU_FRAMES": "8",
       "DI_GPU_GROUPS": "2", "DI_GPU_DEVICE": "cpu", "DI_GPU_WORKERS": "0"}

def test_recipe_reads_its_settings_from_the_environment(tmp_path):
    r = GpuRecipe.from_env({"DI_GPU_ROOT": str(tmp_path), "DI_GPU_SIZE": "96",
                            "DI_GPU_MODEL": "tsm_resnet50", "DI_GPU_STEPS": "3"})
    assert (r.root, r.size, r.model, r.steps, r.frames) == (tmp_path, 96, "tsm_resnet50", 3, 16)
    assert GpuRecipe.from_env({}) == GpuRecipe()
    with pytest.raises(ConfigError, match="DI_GPU_SIZE must be an integer"):
        GpuRecipe.from_env({"DI_GPU_SIZE": "big"})


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_recipe_command_says_what_train_config_runs(variant):
    r = GpuRecipe(steps=2)
    c, cmd = r.train_config(variant), r.command(variant)
    for flag, value in (("--model", c.model), ("--shift", c.shift), ("--size", c.size),
                        ("--frames", c.frames), ("--jitter", c.jitter), ("--steps", c.steps),
                        ("--epochs", c.epochs), ("--device", c.device)):
        assert f"{flag} {value} " in cmd + " "
    assert cmd.endswith(f"{r.model}_{variant}.pt --steps 2")
    assert c.shift == VARIANTS[variant] and c.input_size == r.size


def test_default_recipe_is_one_the_backbone_takes():
    """The default size must pass the size check training runs first (112 did not)."""
    from dynamic_inference.backbones import build_model
    from dynamic_inference.flops import check_input_size

    r = GpuRecipe()
    check_input_size(build_model(r.model, 16), r.train_config("online").input_size)


def test_recipe_refuses_what_cannot_work():
    for env, match in (({"DI_GPU_MODEL": "resnet9000"}, "DI_GPU_MODEL must be one of"),
                       ({"DI_GPU_SIZE": "16"}, "DI_GPU_SIZE must be an integer >= 32"),
                       ({"DI_GPU_SIZE": "112"}, "DI_GPU_SIZE must be a multiple of 32"),
                       ({"DI_GPU_STEPS": "0"}, "DI_GPU_STEPS must be an integer >= 1")):
        with pytest.raises(ConfigError, match=match):
            GpuRecipe.from_env(env)


def test_profiles_say_what_they_need(monkeypatch):
    assert profile("mini").checkpoint("online").name == "msdnet_mini_online.pt"
    with pytest.raises(ConfigError, match="variant must be one of"):
        profile("mini").checkpoint("bidirectional")
    with pytest.raises(ConfigError, match="PROFILE must be 'mini', 'gpu' or 'paper'"):
        profile("laptop")
    monkeypatch.delenv("DI_PAPER_CHECKPOINTS", raising=False)
    with pytest.raises(ConfigError, match="DI_PAPER_CHECKPOINTS"):
        profile("paper")
    monkeypatch.setenv("DI_GPU_DEVICE", "cuda:99")
    with pytest.raises(ConfigError, match="DI_GPU_DEVICE"):
        profile("gpu")


@pytest.fixture(scope="module")
def toy_gpu(tmp_path_factory):
    """The gpu profile at toy size on CPU, its data and checkpoints made once per module."""
    env = dict(TOY, DI_GPU_ROOT=str(tmp_path_factory.mktemp("gpu_profile")))
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        p = profile("gpu")
        paths = {v: p.checkpoint(v) for v in VARIANTS}
        yield p, paths


def test_toy_gpu_profile_makes_data_and_checkpoints_once(toy_gpu):
    p, paths = toy_gpu
    assert (p.data / "test.csv").is_file() and p.device == "cpu"
    for variant, path in paths.items():
        model, cfg, prov = load_checkpoint(path)
        assert (cfg.model, cfg.shift, cfg.input_size, cfg.frames, cfg.groups) == (
            "msdnet38", VARIANTS[variant], 32, 8, 2)
        assert prov["command"] == p.recipe.command(variant)
        stamp = path.stat().st_mtime_ns
        assert p.checkpoint(variant) == path and path.stat().st_mtime_ns == stamp  # not again


def test_artefacts_of_another_recipe_are_refused_not_reused(toy_gpu):
    p, _ = toy_gpu
    with pytest.raises(ConfigError, match="made with another recipe"):
        replace(p.recipe, size=64).prepare_data()
    with pytest.raises(ConfigError, match="trained by another recipe"):
        replace(p.recipe, epochs=3).prepare_checkpoint("online")


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_chapter_runs_with_the_gpu_profile_and_its_solutions_pass(bn, toy_gpu, src,
                                                                         monkeypatch):
    """Each chapter with ``PROFILE = "gpu"`` and its exercises answered from
    ``notebooks/solutions/``: every cell runs, and every exercise's check says ``correct``. The
    checks compute their expected answers from the chapter's own model and data, so a solution
    that passes on this toy profile is checked by code, not by figures of the mini profile (whose
    saved chapters nbval runs with the exercises unanswered)."""
    p, _ = toy_gpu
    for k, v in dict(TOY, DI_GPU_ROOT=str(p.recipe.root)).items():
        monkeypatch.setenv(k, v)  # the kernel inherits the environment
    solutions = (ROOT / "notebooks" / "solutions" / src.name).read_text()
    source = bn.with_profile(bn.with_solutions(src.read_text(), solutions), "gpu")
    nb = bn.execute(source)  # raises on the first failing cell
    asked = bn.exercise_cells(src.read_text())
    assert sorted(bn.check_lines(nb)) == sorted(f"exercise {label}: correct" for label in asked)


def test_gpu_run_script_writes_its_summary(gpu_script, toy_gpu, tmp_path, monkeypatch):
    """tools/gpu_profile.py (the prepared GPU run), without chapters, on the toy profile."""
    p, _ = toy_gpu
    for k, v in dict(TOY, DI_GPU_ROOT=str(p.recipe.root)).items():
        monkeypatch.setenv(k, v)
    assert gpu_script.main(["--out", str(tmp_path), "--chapters"]) == 0
    summary = json.loads((tmp_path / "gpu_profile.json").read_text())
    assert set(summary["checkpoints"]) == set(VARIANTS)
    exits = len(load_checkpoint(p.checkpoint("online"))[0].heads)
    assert all(len(c["val_top1_per_exit"]) == exits for c in summary["checkpoints"].values())
    assert set(summary["schemes"]) == {"depth", "input", "unified"}
    for fig in summary["schemes"].values():
        assert 0.0 <= fig["reduction_pct"] <= 100.0 and len(fig["top1_loss_ci95"]) == 2
    assert summary["chapters"] == {}


def test_make_mini_size_flag_renders_and_records_the_size(tmp_path, capsys):
    from types import SimpleNamespace

    from dynamic_inference.data.mini import load_recipe
    from dynamic_inference.data.mini.build import cli_make_mini
    from dynamic_inference.data.video import read_video

    out = tmp_path / "m32"
    assert cli_make_mini(SimpleNamespace(out=str(out), seed=3, per_class=1, size=32)) == 0
    config, recipe = load_recipe(out)
    assert config.size == 32 and recipe["command"].endswith("--seed 3 --per-class 1 --size 32")
    first = (out / "test.csv").read_text().splitlines()[1].split(",")[0]
    assert read_video(out / first).frames.shape[1:3] == (32, 32)
    with pytest.raises(ConfigError, match="--size must be an integer >= 32"):
        cli_make_mini(SimpleNamespace(out=str(tmp_path / "x"), seed=3, per_class=1, size=16))
