"""Prepare ``.gpu_site/``: the pure-Python packages the benchmarks need on a bare GPU machine.

A lent GPU machine may have PyTorch but not fvcore (FLOPs tables) or PyAV, and no network. This
copies fvcore and its pure-Python dependencies from the current environment into ``.gpu_site/``
(git-ignored through ``.git/info/exclude``) and adds a stub ``av`` package, enough for
``benchmarks/gpu_paper_scale.py`` and ``benchmarks/recipe_search.py`` (which renders clips in
memory and never decodes video). On the GPU machine:

    PYTHONPATH=$PWD/.gpu_site:$PWD python3 benchmarks/gpu_paper_scale.py --channels-last

    python tools/gpu_site.py            # writes .gpu_site/ (about 1 MB)
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / ".gpu_site"
PACKAGES = ("fvcore", "iopath", "yacs", "termcolor")
AV_STUB = {
    "av/__init__.py": '"""Stub: no video is decoded on the GPU machine (tools/gpu_site.py)."""\n',
    "av/video/__init__.py": "",
    "av/video/reformatter.py": "class VideoReformatter:  # stub\n    pass\n",
}


def main() -> int:
    if SITE.exists():
        shutil.rmtree(SITE)
    SITE.mkdir()
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            print(f"error: {name} is not installed here; run `make install` first", file=sys.stderr)
            return 2
        shutil.copytree(Path(spec.origin).parent, SITE / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in AV_STUB.items():
        path = SITE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    exclude = ROOT / ".git" / "info" / "exclude"
    known = exclude.read_text() if exclude.is_file() else ""
    if exclude.parent.is_dir() and "/.gpu_site/" not in known:
        with exclude.open("a") as f:
            f.write("/.gpu_site/\n")
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    print(f"wrote {SITE} ({size / 1e6:.1f} MB): {', '.join(PACKAGES)} and a stub av")
    return 0


if __name__ == "__main__":
    sys.exit(main())
