"""The documented public API: importable from the package, each name from its one module."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import dynamic_inference

HOME = {  # name -> the module that defines it (one hop from the paper's word to its code)
    "build_model": "backbones", "make_scheme": "schemes", "Scheme": "schemes",
    "simulate": "schemes", "frame_order": "schemes", "cost_table": "flops",
    "full_cost": "cost", "exit_costs": "cost", "point_costs": "cost",
    "choose_thresholds": "calibrate", "split_logits": "logits", "LogitCache": "logits",
    "EarlyExitEngine": "engine", "stream_video": "stream", "Evaluation": "evaluate",
    "load_checkpoint": "checkpoint", "TrainConfig": "checkpoint", "fold_batchnorm": "fold",
}


def test_every_public_name_is_exported_from_its_module() -> None:
    assert set(HOME) <= set(dynamic_inference.__all__)
    for name in dynamic_inference.__all__:
        assert hasattr(dynamic_inference, name), name
    for name, module in HOME.items():
        mod = importlib.import_module(f"dynamic_inference.{module}")
        assert getattr(dynamic_inference, name) is getattr(mod, name), name


def test_no_public_name_hides_a_module() -> None:
    """``import dynamic_inference.evaluate as ev`` must give the module (a re-exported function
    of the same name would be returned instead: regression test)."""
    import dynamic_inference.evaluate as ev

    assert ev.__name__ == "dynamic_inference.evaluate"
    for name in dynamic_inference.__all__:
        assert importlib.util.find_spec(f"dynamic_inference.{name}") is None, name


def test_no_import_circle_and_no_module_level_cache() -> None:
    """Every module imports on its own in a fresh interpreter, and none keeps a dict cache at
    module level (a caller that wants reuse holds a LogitCache)."""
    modules = ["evaluate", "engine", "stream", "demo", "cost", "logits", "checkpoint", "flops",
               "calibrate", "schemes", "train", "fold"]
    code = "; ".join(f"import dynamic_inference.{m}" for m in modules)
    subprocess.run([sys.executable, "-c", code], check=True)
    for m in modules:
        mod = importlib.import_module(f"dynamic_inference.{m}")
        caches = [k for k, v in vars(mod).items() if k.isupper() or k.startswith("_")
                  if isinstance(v, dict) and "CACHE" in k.upper() or k in ("_CLIPS",)]
        assert not caches, (m, caches)
    import dynamic_inference.engine as engine

    assert not hasattr(engine, "cli_stream")  # the engine does not import evaluate or stream
