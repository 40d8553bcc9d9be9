"""Run the chapters with ``PROFILE = "gpu"``: make its data and checkpoints, execute every
chapter, and write the figures that matter into one JSON file.

    python tools/gpu_profile.py --out OUT                # on a CUDA machine
    python tools/gpu_profile.py --out OUT --chapters 04 06

What it does, in order, timing each step:

1. renders MiniActions at the profile's size into ``gpu_profile/data`` (skipped when there);
2. trains the three checkpoints (online, offline, no shift) of the profile's backbone into
   ``gpu_profile/checkpoints`` (skipped when there), each with the project's ``train``;
3. per checkpoint: the per-exit val top-1 from its provenance; for the online one, the test
   figures of the depth, input and unified schemes with the default calibration (FLOPs cut and
   top-1 loss with its paired 95% interval, from :func:`dynamic_inference.evaluate.evaluate`);
4. executes each chapter source with ``PROFILE = "gpu"`` into ``OUT/NN_name.ipynb``; a chapter
   that fails is recorded with its error line and the others still run.

``OUT/gpu_profile.json`` holds it all. The ``DI_GPU_*`` variables of
:mod:`dynamic_inference.profiles` change the recipe (``tests/test_profiles.py`` runs this on CPU
at a toy size).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_notebooks as bn  # noqa: E402

from dynamic_inference.checkpoint import load_checkpoint  # noqa: E402
from dynamic_inference.evaluate import evaluate  # noqa: E402
from dynamic_inference.logits import LogitCache  # noqa: E402
from dynamic_inference.profiles import VARIANTS, profile  # noqa: E402


def scheme_figures(ck: Path, data: Path, device: str) -> dict[str, dict]:
    """Test cut and loss of each dynamic scheme at its default operating point (the splits are
    decoded and run through the network once, for all three)."""
    out, cache = {}, LogitCache()
    for scheme in ("depth", "input", "unified"):
        r = evaluate(ck, "test", scheme, data=data, device=device, engine=False,
                     cache=cache).to_report()
        out[scheme] = {k: r[k] for k in ("reduction_pct", "top1", "full_top1", "top1_loss_pt",
                                         "top1_loss_ci95", "threshold_rule")}
    return out


def run(out: Path, chapters: list[str], timeout: int = 500) -> dict:
    """Every step, the summary rewritten after each one (a run stopped by a time limit still
    leaves what it measured); ``timeout``: seconds one chapter cell may take."""
    summary: dict = {"steps_s": {}, "checkpoints": {}, "chapters": {}}
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (out / "gpu_profile.json").write_text(json.dumps(summary, indent=2) + "\n")

    t0 = time.perf_counter()
    p = profile("gpu")  # renders the data if absent
    summary["recipe"] = {k: str(v) for k, v in vars(p.recipe).items()}
    summary["steps_s"]["data"] = round(time.perf_counter() - t0, 1)
    for variant in VARIANTS:
        t0 = time.perf_counter()
        ck = p.checkpoint(variant)  # trains if absent
        _, cfg, prov = load_checkpoint(ck)
        summary["steps_s"][f"train_{variant}"] = round(time.perf_counter() - t0, 1)
        summary["checkpoints"][variant] = {"val_top1_per_exit": prov.get("val_top1_per_exit"),
                                           "train_time_s": prov.get("train_time_s"),
                                           "command": prov.get("command")}
        save()
    t0 = time.perf_counter()
    summary["schemes"] = scheme_figures(p.checkpoint("online"), p.data, p.device)
    summary["steps_s"]["schemes"] = round(time.perf_counter() - t0, 1)
    save()
    for src in sorted(bn.SRC.glob("[0-9][0-9]_*.py")):
        if not any(src.name.startswith(c) for c in chapters):
            continue
        t0 = time.perf_counter()
        try:
            nb = bn.execute(bn.with_profile(src.read_text(), "gpu"), timeout)
            status = "ok"
        except Exception as e:  # a failing chapter is reported, the others still run
            nb, status = None, f"failed: {str(e).strip().splitlines()[-1][:300]}"
        if nb is not None:
            nbformat.write(nb, out / f"{src.stem}.ipynb")
        summary["chapters"][src.stem] = {"status": status,
                                         "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{src.stem}: {status}", flush=True)
        save()
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the executed chapters and JSON")
    ap.add_argument("--chapters", nargs="*", default=None,
                    help="chapter name prefixes (default: all; none given: no chapter)")
    ap.add_argument("--timeout", type=int, default=500, help="seconds one chapter cell may take")
    args = ap.parse_args(argv)
    chapters = [""] if args.chapters is None else args.chapters
    summary = run(Path(args.out), chapters, args.timeout)
    print(json.dumps({k: summary[k] for k in ("steps_s", "schemes")}, indent=1))
    return 0 if all(c["status"] == "ok" for c in summary["chapters"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
