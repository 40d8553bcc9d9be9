"""The paper's quoted figures (dynamic_inference.paper): well-formed, self-consistent, equal to
the paper tables the notebook sources still define inline, and read from paper.py by the
chapters that no longer define them."""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import fields
from pathlib import Path

import nbformat
import pytest

from dynamic_inference import paper
from dynamic_inference.paper import (
    COSTS,
    DATASETS,
    FLOPS_CUTS,
    KINETICS_400,
    SOMETHING_SOMETHING,
    UCF_HMDB,
    figures,
)

SRC = Path(__file__).resolve().parents[1] / "notebooks" / "src"
TABLES = {"DATASETS": DATASETS, "FLOPS_CUTS": FLOPS_CUTS, "KINETICS_400": KINETICS_400,
          "UCF_HMDB": UCF_HMDB, "SOMETHING_SOMETHING": SOMETHING_SOMETHING, "COSTS": COSTS}


def literal(source: Path, name: str) -> object:
    """The value of the top-level ``name = <literal>`` assignment of a notebook source."""
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{source.name} has no top-level literal {name!r}")


def points(dataset: str) -> set[tuple[str, str, float | None, float | None]]:
    """(method, backbone, GFLOPs/video, top-1) of every row of the paper's table of a dataset,
    named as chapter 7 names it."""
    if dataset == "Kinetics-400":
        return {(r.method, r.backbone, r.gflops, r.top1) for r in KINETICS_400}
    if dataset == "UCF-101":
        return {(r.method, r.backbone, r.gflops, r.ucf101) for r in UCF_HMDB}
    if dataset == "HMDB-51":
        return {(r.method, r.backbone, r.gflops, r.hmdb51) for r in UCF_HMDB}
    if dataset == "Sth-Sth v1":
        return {(r.method, r.backbone, r.gflops_v1, r.v1_top1) for r in SOMETHING_SOMETHING}
    if dataset == "Sth-Sth v2":
        return {(r.method, r.backbone, r.gflops_v2, r.v2_top1) for r in SOMETHING_SOMETHING}
    raise AssertionError(f"chapter 7 names an unknown dataset {dataset!r}")


# ---------------------------------------------------------------------------------------------
# well-formed


@pytest.mark.parametrize("name", list(TABLES))
def test_every_cell_is_a_positive_number_a_name_or_empty(name: str) -> None:
    table = TABLES[name]
    assert table, name
    for row in table:
        for f in fields(row):
            value = getattr(row, f.name)
            where = f"{name}: {row} field {f.name}"
            if f.type == "str":
                assert isinstance(value, str) and value, where
            else:
                assert value is not None or "None" in f.type, where
                if value is not None:
                    assert isinstance(value, int | float) and not isinstance(value, bool), where
                    assert math.isfinite(value) and value > 0, where


def test_accuracies_and_cuts_are_percentages() -> None:
    accuracies = [r.top1 for r in KINETICS_400]
    accuracies += [a for r in UCF_HMDB for a in (r.ucf101, r.hmdb51) if a is not None]
    accuracies += [getattr(r, f.name) for r in SOMETHING_SOMETHING for f in fields(r)
                   if "top" in f.name and getattr(r, f.name) is not None]
    assert len(accuracies) > 60
    assert all(0 < a < 100 for a in accuracies)
    assert all(0 < c.cut_pct < 100 for c in FLOPS_CUTS)
    for r in SOMETHING_SOMETHING:  # top-5 is never below top-1
        for t1, t5 in ((r.v1_top1, r.v1_top5), (r.v2_top1, r.v2_top5),
                       (r.v2_test_top1, r.v2_test_top5)):
            assert t5 is None or t1 is None or t5 >= t1, r


def test_figures_lists_every_number_once_per_cell() -> None:
    numbers = figures()
    cells = sum(1 for table in TABLES.values() for row in table for f in fields(row)
                if isinstance(getattr(row, f.name), int | float))
    assert len(numbers) == cells + len(paper.DEPTH_AXIS_EXAMPLE)
    for figure in (62.31, 29.12, 48.12, 306_245, 174, 0.5, 53, 29.2, 70.1, 86.6, 5925):
        assert figure in numbers
    assert not any(isinstance(n, bool) for n in numbers)


# ---------------------------------------------------------------------------------------------
# self-consistent


def test_cost_rows_are_the_comparison_tables_cells() -> None:
    k400 = {(r.method, r.backbone, r.frames): r for r in KINETICS_400}
    sth = {r.method: r for r in SOMETHING_SOMETHING}
    for c in COSTS:
        if c.model.startswith(("TSN", "TSM")):
            method, backbone = c.model.split(" ", 1)
            row = k400[(method, backbone, c.frames)]
            assert (c.gflops, c.params_m) == (row.gflops, row.params_m), c
            assert c.gflops_sth == sth[f"{method} {c.frames}F"].gflops_v1, c
    full, dyn50, dyn101 = (k400[("Proposed", b, 16)]
                           for b in ("MSDNet-38 (Full)", "ResNet-50", "ResNet-101"))
    by_model = {c.model: c for c in COSTS}
    assert (by_model["MSDNet-38 (full inference)"].gflops,
            by_model["MSDNet-38 (full inference)"].params_m) == (full.gflops, full.params_m)
    assert by_model["dynamic ResNet-50"].params_m == dyn50.params_m
    assert by_model["dynamic ResNet-101"].params_m == dyn101.params_m


def test_stated_cuts_follow_from_the_msdnet_rows() -> None:
    """The "~x%" slides against the MSDNet-38 rows and its 52 G full inference: this is also
    what supports the reading of the garbled UCF-101 / HMDB-51 rows."""
    full = next(r.gflops for r in KINETICS_400 if r.backbone == "MSDNet-38 (Full)")
    dynamic = {
        "Kinetics-400": next(r.gflops for r in KINETICS_400
                             if (r.method, r.backbone) == ("Proposed", "MSDNet-38")),
        "UCF-101": next(r.gflops for r in UCF_HMDB
                        if r.backbone == "MSDNet-38" and r.ucf101 is not None),
        "HMDB-51": next(r.gflops for r in UCF_HMDB
                        if r.backbone == "MSDNet-38" and r.hmdb51 is not None),
    }
    with_shift = [c for c in FLOPS_CUTS if "without" not in c.setting]
    assert {c.dataset for c in with_shift} == set(dynamic)
    for c in with_shift:
        assert abs(100 * (1 - dynamic[c.dataset] / full) - c.cut_pct) < 1.0, c


def test_datasets_match_the_tables() -> None:
    assert {d.kind for d in DATASETS} == {"scene", "temporal"}
    assert all(d.videos > 10 * d.classes for d in DATASETS)
    assert [d.classes for d in DATASETS if d.kind == "temporal"] == [174, 174]


# ---------------------------------------------------------------------------------------------
# the notebook sources' paper tables: read from paper.py, or equal to it where still inline


def paper_imports(source: Path) -> set[str]:
    """The names a notebook source imports from ``dynamic_inference.paper``."""
    return {alias.name for node in ast.parse(source.read_text()).body
            if isinstance(node, ast.ImportFrom) and node.module == "dynamic_inference.paper"
            for alias in node.names}


def inline_figures(source: Path) -> set[float]:
    """The paper's non-integer figures that a top-level literal of a notebook source holds."""
    quoted = {float(f) for f in figures() if float(f) != int(f)}
    found: set[float] = set()
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            found |= {float(n) for n in _numbers(value)} & quoted
    return found


def _numbers(value: object) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return _numbers(list(value.keys())) + _numbers(list(value.values()))
    if isinstance(value, list | tuple | set):
        return [n for v in value for n in _numbers(v)]
    return []


def test_chapter1_reads_the_papers_tables_from_paper_py() -> None:
    source = SRC / "01_task_and_cost.py"
    assert {"KINETICS_400", "COSTS"} <= paper_imports(source)
    assert not inline_figures(source), "chapter 1 quotes paper figures inline"
    for name in ("paper_k400", "proposed", "rows"):  # the inline tables it used to define
        with pytest.raises(AssertionError, match="no top-level literal"):
            literal(source, name)


def test_inline_figures_finds_a_quoted_table(tmp_path: Path) -> None:
    source = tmp_path / "nb.py"
    source.write_text("import torch\nrows = [('MSDNet-38', 52.0, 62.31)]\nx = torch.zeros(3)\n")
    assert inline_figures(source) == {62.31}
    assert paper_imports(source) == set()


def chapter7_printed() -> str:
    """The text outputs of the saved chapter 7."""
    nb = json.loads((SRC.parent / "07_experiments.ipynb").read_text())
    return "".join("".join(out.get("text", "")) for cell in nb["cells"]
                   if cell["cell_type"] == "code" for out in cell.get("outputs", []))


def test_chapter7_table_is_imported_from_paper_py() -> None:
    """Chapter 7 defines no paper table of its own: it imports the tables of paper.py."""
    source = SRC / "07_experiments.py"
    with pytest.raises(AssertionError, match="no top-level literal"):
        literal(source, "paper")
    imported = {alias.name for node in ast.walk(ast.parse(source.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module == "dynamic_inference.paper"
                for alias in node.names}
    assert {"KINETICS_400", "UCF_HMDB", "SOMETHING_SOMETHING", "FLOPS_CUTS"} <= imported


def test_chapter7_prints_every_proposed_row() -> None:
    """Every "Proposed" row of the paper's tables (the full MSDNet-38 row is the reference) is a
    line of chapter 7's table, the HMDB-51 MSDNet-38 row (29.2 G, 70.1) and the ResNet-101 rows
    included, and nothing else is."""
    lines = [line for line in chapter7_printed().splitlines()
             if line.startswith(("scene ", "temporal "))]
    expected = [(ds, p[1], p[2], p[3]) for ds in ("Kinetics-400", "UCF-101", "HMDB-51",
                                                  "Sth-Sth v1", "Sth-Sth v2")
                for p in points(ds)
                if p[0] == "Proposed" and "(Full)" not in p[1] and p[3] is not None]
    assert len(expected) == 13 and len(lines) == len(expected), lines
    assert ("HMDB-51", "MSDNet-38", 29.2, 70.1) in expected
    assert sum(bb == "ResNet-101" for _, bb, _, _ in expected) == 3
    for ds, bb, g, a in expected:
        row = re.compile(rf"{re.escape(ds)}\s+{re.escape(bb)}\s+{g:.1f}\s+{a:.2f}\s")
        assert any(row.search(line) for line in lines), f"chapter 7 lacks {ds} {bb} {g} {a}"


# ---------------------------------------------------------------------------------------------
# the closing "paper / ours" tables of chapters 2-4


PAPER_OURS = {"02_observation": {"DEPTH_AXIS_EXAMPLE"},
              "03_temporal_shift": {"COSTS", "FLOPS_CUTS", "KINETICS_400", "SOMETHING_SOMETHING"},
              "04_depth_axis": {"FLOPS_CUTS", "KINETICS_400"}}


@pytest.mark.parametrize("chapter", list(PAPER_OURS))
def test_chapter_closes_with_a_paper_ours_table_read_from_paper_py(chapter: str) -> None:
    source = SRC / f"{chapter}.py"
    assert PAPER_OURS[chapter] <= paper_imports(source)
    assert not inline_figures(source), f"{chapter} quotes paper figures inline"
    headings = [line for line in source.read_text().splitlines() if line.startswith("# ## ")]
    assert headings.index("# ## Paper / ours") == headings.index("# ## Exercises") - 1, chapter


@pytest.mark.parametrize("chapter", list(PAPER_OURS))
def test_saved_paper_ours_table_prints_both_sides(chapter: str) -> None:
    nb = nbformat.read(SRC.parent / f"{chapter}.ipynb", as_version=4)
    start = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "markdown" and "## Paper / ours" in c.source)
    table = nb.cells[start + 1]
    assert table.cell_type == "code", chapter
    printed = "".join(o.get("text", "") for o in table.outputs if o.output_type == "stream")
    header = printed.splitlines()[0].split()
    assert header == ["paper", "ours", "difference"], chapter
    assert any(line.split()[-1].startswith(("+", "-")) for line in printed.splitlines()[1:]), \
        f"{chapter}: no row compares a paper figure with ours"
