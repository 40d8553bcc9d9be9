"""The chapters' exercises: every one is checked, answered in ``notebooks/solutions/``, and the
answer passes its own check.

* ``check`` says ``correct`` only for the right answer (unit tests below);
* every chapter has 2-3 exercises (cells starting ``# EXERCISE N.M``) and a solutions file with
  exactly those labels;
* the saved chapters print ``not answered yet`` once per exercise (a handed-out chapter runs);
* run with its solutions substituted, every chapter prints ``correct`` for each of its exercises:
  ``tests/test_profiles.py`` does that on the toy gpu profile (the chapters' mini-profile runs
  are nbval's, with the exercises unanswered), so the chapters are not executed a third time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dynamic_inference.exercises import check

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))



@pytest.mark.parametrize(
    "got, expected, tol, verdict",
    [
        (None, 3.0, 1e-6, "not answered yet"),
        (3.0, 3.0, 1e-6, "correct"),
        (3.2, 3.0, 0.5, "correct"),
        (3.2, 3.0, 0.1, "not yet (the number differs)"),
        (True, 3.0, 0.1, "not yet (expected a number, got bool)"),
        ([0, 4, 8, 12], [0, 4, 8, 12], 0, "correct"),
        ([0, 4, 8], [0, 4, 8, 12], 0, "not yet (expected 4 items, got 3)"),
        ([0, 4, 8, 13], [0, 4, 8, 12], 0, "not yet (item 3: the number differs)"),
        (torch.tensor([1, 2]), torch.tensor([1, 2]), 0, "correct"),
        (torch.tensor([1, 3]), torch.tensor([1, 2]), 0, "not yet (the values differ)"),
        (torch.zeros(3), torch.zeros(2), 0,
         "not yet (expected a tensor of shape (2,), got one of shape (3,))"),
        (torch.tensor([0.5], dtype=torch.float64),
         torch.tensor([0.5 + 1e-8], dtype=torch.float64), 1e-6, "correct"),
        (torch.tensor([0.5], dtype=torch.float64),
         torch.tensor([0.5 + 1e-4], dtype=torch.float64), 1e-6, "not yet (the values differ)"),
        (torch.tensor([1.9, 2.2]), torch.tensor([1, 2]), 0,
         "not yet (expected an integer tensor, got torch.float32)"),
        (torch.tensor([0.3, 0.0]), torch.tensor([True, False]), 0,
         "not yet (expected a bool tensor, got torch.float32)"),
        (torch.tensor([1, 2]), True, 0, "not yet (expected a bool, got Tensor)"),
        (1, True, 0, "not yet (expected a bool, got int)"),
        (torch.tensor(True), True, 0, "correct"),
        ([1, 2], {"a": 1}, 0, "not yet (could not compare: TypeError)"),
        ("input", "input", 0, "correct"),
        ("depth", "input", 0, "not yet (expected a different str)"),
    ],
)
def test_check_says_correct_only_for_the_right_answer(capsys, got, expected, tol, verdict):
    assert check("9.9", got, expected, tol) is None
    assert capsys.readouterr().out == f"exercise 9.9: {verdict}\n"


def test_with_solutions_replaces_exactly_the_exercise_cells(bn):
    source = ("# %%\nx = 1\n\n# %%\n# EXERCISE 1.1\nanswer = None\n\n# %%\ncheck('1.1', answer, 2)"
              "\n\n# %%\n# EXERCISE 1.2\ndef f():\n    return None\n")
    solutions = "# %%\n# EXERCISE 1.2\ndef f():\n    return 3\n\n# %%\n# EXERCISE 1.1\nanswer = 2\n"
    out = bn.with_solutions(source, solutions)
    assert "answer = 2" in out and "return 3" in out and "None" not in out
    assert "x = 1" in out and "check('1.1', answer, 2)" in out
    with pytest.raises(SystemExit, match="solutions"):
        bn.with_solutions(source, "# %%\n# EXERCISE 1.1\nanswer = 2\n")
    assert bn.exercise_cells("# %% [markdown]\n# EXERCISE 1.1\n# text\n") == {}
    with pytest.raises(SystemExit, match="appears twice"):
        bn.exercise_cells("# %%\n# EXERCISE 1.1\na = 1\n# %%\n# EXERCISE 1.1\nb = 2\n")


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_chapter_has_exercises_and_their_solutions(bn, src):
    asked = bn.exercise_cells(src.read_text())
    chapter = str(int(src.name[:2]))
    assert 2 <= len(asked) <= 3, f"{src.name}: {len(asked)} exercises"
    assert all(label.split(".")[0] == chapter for label in asked), sorted(asked)
    solutions = ROOT / "notebooks" / "solutions" / src.name
    assert solutions.is_file(), f"no {solutions.relative_to(ROOT)}"
    assert set(bn.exercise_cells(solutions.read_text())) == set(asked)
    assert "check(" in src.read_text()


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_saved_chapters_leave_every_exercise_unanswered(bn, src):
    # nbformat.reads joins the saved outputs' lines (the JSON stores a text as a list of lines)
    nb = bn.nbformat.reads((ROOT / "notebooks" / f"{src.stem}.ipynb").read_text(), as_version=4)
    lines = bn.check_lines(nb)
    asked = bn.exercise_cells(src.read_text())
    assert sorted(lines) == sorted(f"exercise {label}: not answered yet" for label in asked)
