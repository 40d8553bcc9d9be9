"""The notebooks' text quotes only numbers their outputs print, or the paper's figures.

A markdown cell of a saved notebook (``notebooks/*.ipynb``) that states a decimal number
(``71.2``, ``0.1242``) or a percentage (``53%``, ``~50 %``) must find it either

* printed by the same notebook: in an output (``stream``, ``text/plain`` and every other
  ``text/*``) or in the source of a code cell, at the written precision: a printed ``64.10`` or
  ``64.137`` counts for a written ``64.1``, a printed ``52.8`` for a written ``53%``; or
* among the paper's figures, :func:`dynamic_inference.paper.figures`, with the same value
  (``64``, ``64.0``, ``62.31``).

Anything else is a stale number: text left behind when a rerun changed the outputs. Integers
without a percent sign (counts, sizes, chapter numbers) are not checked.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Collection, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynamic_inference.paper import figures

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# a decimal number, or an integer followed by a percent sign; not inside a word or a longer
# number ("v1.2", "1.2.3"), but after an "x" / "×" factor sign ("x1.7")
WRITTEN = re.compile(r"(?<![\w.])[x×]?(\d+\.\d+(?!\.?\d)|\d+(?=\s?%))")
PRINTED = re.compile(r"\d+(?:\.\d+)?")


def text_of(source: str | list[str]) -> str:
    """A cell's source or an output's text: nbformat stores either a string or a list of lines."""
    return source if isinstance(source, str) else "".join(source)


def printed_texts(nb: dict) -> Iterator[str]:
    """The code-cell sources and the text outputs of a notebook."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        yield text_of(cell["source"])
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                yield text_of(out["text"])
            for mime, data in out.get("data", {}).items():
                if mime.startswith("text/"):
                    yield text_of(data)


def printed_numbers(nb: dict) -> list[Decimal]:
    """Every number the notebook's code and outputs show, sorted (sign dropped)."""
    return sorted(Decimal(m) for text in printed_texts(nb) for m in PRINTED.findall(text))


def is_printed(written: Decimal, printed: list[Decimal]) -> bool:
    """Whether some printed number rounds to ``written`` at its precision (either way on a
    tie: ``0.125`` counts for ``0.12`` and ``0.13``)."""
    decimals = max(0, -written.as_tuple().exponent)
    half = Decimal(5).scaleb(-decimals - 1)
    i = bisect.bisect_left(printed, written - half)
    return i < len(printed) and printed[i] <= written + half


def stale_numbers(nb: dict, paper: Collection[Decimal]) -> list[tuple[int, str]]:
    """(cell index, number as written) for every number of a markdown cell that the notebook
    does not print and that is not one of the ``paper`` figures."""
    printed = printed_numbers(nb)
    stale = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for written in WRITTEN.findall(text_of(cell["source"])):
            value = Decimal(written)
            if value not in paper and not is_printed(value, printed):
                stale.append((index, written))
    return stale


def paper_figures() -> frozenset[Decimal]:
    """The paper's figures as values: ``Decimal`` compares ``64`` equal to ``64.0``."""
    return frozenset(Decimal(str(x)) for x in figures())


def report(stale: list[tuple[int, str]]) -> str:
    cells: dict[int, list[str]] = {}
    for index, written in stale:
        cells.setdefault(index, []).append(written)
    return "; ".join(f"cell {i}: {', '.join(ns)}" for i, ns in cells.items())


# ---------------------------------------------------------------------------------------------
# the saved notebooks


def test_the_notebooks_are_there() -> None:
    assert len(NOTEBOOKS) == 8, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_text_quotes_only_printed_or_paper_numbers(path: Path) -> None:
    nb = json.loads(path.read_text())
    assert any(c["cell_type"] == "markdown" for c in nb["cells"]), path.name
    stale = stale_numbers(nb, paper_figures())
    assert not stale, (f"{path.name}: numbers in the text that no output or code prints and "
                       f"that are not the paper's: {report(stale)}")


# ---------------------------------------------------------------------------------------------
# the checker itself, on notebooks built here


def notebook(markdown: str, printed: str = "", code: str = "") -> dict:
    """A two-cell notebook: one markdown cell, one code cell with one stream output."""
    outputs = [{"output_type": "stream", "name": "stdout", "text": [printed]}] if printed else []
    return {"cells": [{"cell_type": "markdown", "source": [markdown]},
                      {"cell_type": "code", "source": code, "outputs": outputs}]}


def test_a_stale_number_is_flagged_with_its_cell() -> None:
    nb = notebook("top-1 71.3% at 0.0812 GFLOPs, a 37 % cut", printed="71.2 0.0812 36.4\n")
    assert stale_numbers(nb, paper_figures()) == [(0, "71.3"), (0, "37")]
    assert report(stale_numbers(nb, paper_figures())) == "cell 0: 71.3, 37"


def test_a_printed_number_passes_at_the_written_precision() -> None:
    nb = notebook("64.1 G, a 53% cut, 0.12 and 0.13, x1.7 faster, 7.0",
                  printed="64.10 52.8 0.125 1.71 7\n")
    assert stale_numbers(nb, frozenset()) == []
    # more precision in the text than in the output is not printed
    assert stale_numbers(notebook("12.34", printed="12.3"), frozenset()) == [(0, "12.34")]
    assert stale_numbers(notebook("x1.7 faster"), frozenset()) == [(0, "1.7")]


def test_text_outputs_and_code_count_but_other_markdown_does_not() -> None:
    html = {"cells": [{"cell_type": "markdown", "source": "0.93 and 4.5%"},
                      {"cell_type": "code", "source": "", "outputs": [
                          {"output_type": "execute_result",
                           "data": {"text/html": "<td>0.93</td>", "image/png": "4.5"}}]},
                      {"cell_type": "markdown", "source": "4.5%"}]}
    assert stale_numbers(html, frozenset()) == [(0, "4.5"), (2, "4.5")]
    assert stale_numbers(notebook("threshold 0.85", code="thr = 0.85"), frozenset()) == []


def test_paper_figures_pass_by_value() -> None:
    nb = notebook("the paper's 62.31 M, 71.20% and 72.5 at 64.0 G, cut ~53%")
    assert stale_numbers(nb, paper_figures()) == []
    assert stale_numbers(nb, frozenset()) == [(0, n) for n in ("62.31", "71.20", "72.5", "64.0",
                                                               "53")]
    # a figure near the paper's is not the paper's
    assert stale_numbers(notebook("62.3 M"), paper_figures()) == [(0, "62.3")]


def test_integers_words_and_longer_numbers_are_not_read_as_figures() -> None:
    nb = notebook("16 frames of 64x64, exit 1e-5, v1.2 and 1.2.3 and ResNet-50")
    assert stale_numbers(nb, frozenset()) == []


@given(st.decimals(min_value=0, max_value=1000, places=3), st.integers(0, 2))
def test_rounding_what_is_printed_always_passes(printed: Decimal, decimals: int) -> None:
    written = printed.quantize(Decimal(1).scaleb(-decimals))
    text = f"{written}%" if decimals == 0 else f"{written}"
    assert stale_numbers(notebook(text, printed=f"{printed}"), frozenset()) == []


@given(st.decimals(min_value=0, max_value=1000, places=3), st.integers(1, 3),
       st.sampled_from([-1, 1]))
def test_a_number_off_by_more_than_one_unit_is_stale(printed: Decimal, decimals: int,
                                                     sign: int) -> None:
    unit = Decimal(1).scaleb(-decimals)
    written = printed.quantize(unit) + sign * 2 * unit
    if written < 0:
        written = printed.quantize(unit) + 2 * unit
    assert stale_numbers(notebook(f"{written}", printed=f"{printed}"), frozenset()) == [
        (0, f"{written}")]
