"""Build the chapter notebooks from their sources and save them executed.

Each chapter is written as a plain Python file in ``notebooks/src/NN_name.py``, cells separated by
``# %%`` lines (``# %% [markdown]`` for text cells, whose lines start with ``# ``). This script
turns each into ``notebooks/NN_name.ipynb``, runs it top to bottom in a fresh kernel from the
``notebooks/`` folder, and saves it with its outputs, ready for ``pytest --nbval notebooks/``.

    python tools/build_notebooks.py            # every chapter
    python tools/build_notebooks.py 03 05      # chapters whose name starts with 03 or 05
    python tools/build_notebooks.py --text 07  # only the markdown changed: no re-execution
    python tools/build_notebooks.py --solutions 04  # run with notebooks/solutions/, save nothing


``--text`` copies the text cells of the sources into the saved notebooks and keeps their outputs;
it refuses a chapter whose code cells differ from the saved ones (then rebuild it).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
SOLUTIONS = ROOT / "notebooks" / "solutions"
EXERCISE = re.compile(r"^# EXERCISE (\d+\.\d+)\b", re.MULTILINE)


def exercise_cells(source: str) -> dict[str, str]:
    """The code cells of a chapter source (or of its solutions file) whose first line is
    ``# EXERCISE N.M``, by label (a markdown cell never counts)."""
    parts = re.split(r"^(# %%.*)$", source, flags=re.MULTILINE)  # text, header, body, ...
    found: dict[str, str] = {}
    for header, body in zip(parts[1::2], parts[2::2]):
        m = EXERCISE.match(body.strip("\n"))
        if m and "[markdown]" not in header:
            if m.group(1) in found:
                raise SystemExit(f"exercise {m.group(1)} appears twice")
            found[m.group(1)] = body.strip("\n")
    return found


def with_solutions(source: str, solutions: str) -> str:
    """``source`` with each exercise cell replaced by its block from ``solutions``."""
    asked, answered = exercise_cells(source), exercise_cells(solutions)
    if set(asked) != set(answered):
        raise SystemExit(f"exercises {sorted(asked)} but solutions {sorted(answered)}")
    for label, cell in asked.items():
        if source.count(cell) != 1:
            raise SystemExit(f"exercise {label}: its cell is not unique in the chapter")
        source = source.replace(cell, answered[label])
    return source


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


def with_profile(source: str, name: str) -> str:
    """``source`` run in profile ``name``: its ``PROFILE = "mini"`` setting replaced."""
    setting = re.compile(r'^PROFILE = "mini"', re.MULTILINE)
    if not setting.search(source):
        raise SystemExit('a chapter sets PROFILE = "mini" in its first cells')
    return setting.sub(f'PROFILE = "{name}"', source)


def execute(source: str, timeout: int = 900) -> nbformat.NotebookNode:
    """Run a chapter source top to bottom in a fresh kernel from ``notebooks/``."""
    nb = parse(source)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(OUT)}}).execute()
    return nb


def build(src: Path, timeout: int = 900) -> float:
    t0 = time.time()
    nb = execute(src.read_text(), timeout)
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


def check_lines(nb: nbformat.NotebookNode) -> list[str]:
    """The ``exercise N.M: ...`` lines an executed notebook printed."""
    return [line for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("name") == "stdout"
            for line in "".join(out["text"]).splitlines()  # a saved notebook: a list of lines
            if line.startswith("exercise ")]


def main(argv: list[str]) -> None:
    text_only, solved = "--text" in argv, "--solutions" in argv
    argv = [a for a in argv if a not in ("--text", "--solutions")]
    sources = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if argv:
        sources = [s for s in sources if any(s.name.startswith(a) for a in argv)]
    for src in sources:
        if solved:
            answers = SOLUTIONS / src.name
            if not answers.is_file():
                print(f"{src.name}: no solutions file", flush=True)
                continue
            nb = execute(with_solutions(src.read_text(), answers.read_text()))
            print("\n".join(f"{src.name}: {line}" for line in check_lines(nb)), flush=True)
        elif text_only:
            update_text(src)
            print(f"{src.name}: text updated", flush=True)
        else:
            print(f"{src.name}: {build(src):.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
