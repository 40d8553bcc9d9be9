"""Build the chapter notebooks from their sources and save them executed.

Each chapter is written as a plain Python file in ``notebooks/src/NN_name.py``, cells separated by
``# %%`` lines (``# %% [markdown]`` for text cells, whose lines start with ``# ``). This script
turns each into ``notebooks/NN_name.ipynb``, runs it top to bottom in a fresh kernel from the
``notebooks/`` folder, and saves it with its outputs, ready for ``pytest --nbval notebooks/``.

    python tools/build_notebooks.py            # every chapter
    python tools/build_notebooks.py 03 05      # chapters whose name starts with 03 or 05
    python tools/build_notebooks.py --text 07  # only the markdown changed: no re-execution

``--text`` copies the text cells of the sources into the saved notebooks and keeps their outputs;
it refuses a chapter whose code cells differ from the saved ones (then rebuild it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"


def parse(source: str) -> nbformat.NotebookNode:
    """Percent-format Python -> notebook (markdown and code cells)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    kind, lines = None, []

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            md = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                           for line in text.splitlines())
            nb.cells.append(nbformat.v4.new_markdown_cell(md))
        elif kind == "code" and text:
            nb.cells.append(nbformat.v4.new_code_cell(text))

    for line in source.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    return nb


def build(src: Path, timeout: int = 900) -> float:
    nb = parse(src.read_text())
    t0 = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(OUT)}}).execute()
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell["id"] = f"{src.stem[:2]}-{i:02d}"
    nbformat.write(nb, OUT / f"{src.stem}.ipynb")
    return time.time() - t0


def update_text(src: Path) -> None:
    """Replace the markdown cells of the saved notebook by those of ``src``, outputs kept."""
    fresh = parse(src.read_text())
    path = OUT / f"{src.stem}.ipynb"
    saved = nbformat.read(path, as_version=4)
    kinds = [(c.cell_type, c.source if c.cell_type == "code" else None) for c in fresh.cells]
    if kinds != [(c.cell_type, c.source if c.cell_type == "code" else None)
                 for c in saved.cells]:
        raise SystemExit(f"{src.name}: code cells changed since {path.name} was executed; "
                         "rebuild it without --text")
    for new, old in zip(fresh.cells, saved.cells):
        if new.cell_type == "markdown":
            old.source = new.source
    nbformat.write(saved, path)


def main(argv: list[str]) -> None:
    text_only = "--text" in argv
    argv = [a for a in argv if a != "--text"]
    sources = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if argv:
        sources = [s for s in sources if any(s.name.startswith(a) for a in argv)]
    for src in sources:
        if text_only:
            update_text(src)
            print(f"{src.name}: text updated", flush=True)
        else:
            print(f"{src.name}: {build(src):.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
