"""Answer checks for the chapters' exercises.

Every chapter ends with 2-3 exercises. An exercise is a code cell that starts with the line
``# EXERCISE <chapter>.<n>`` and leaves its answer as ``None`` (a value, or a function that
returns ``None``); the cell after it calls :func:`check`, which prints one line and never raises,
so a handed-out chapter still runs top to bottom before anyone has answered:

    exercise 4.1: not answered yet
    exercise 4.1: correct
    exercise 4.1: not yet (expected a tensor of shape (8,), got one of shape (4,))

The solutions live apart from the chapters, in ``notebooks/solutions/NN_name.py``, as blocks that
replace the exercise cells (``tests/test_solutions.py`` runs every chapter with them and requires
``correct`` for each exercise; the saved chapters print ``not answered yet``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

Answer = Tensor | float | int | bool | str | Sequence | None


def _mismatch(got: Answer, expected: Answer, tol: float) -> str | None:
    """Why ``got`` differs from ``expected`` (None when they agree within ``tol``)."""
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor):
            return f"expected a tensor, got {type(got).__name__}"
        if got.shape != expected.shape:
            return (f"expected a tensor of shape {tuple(expected.shape)}, got one of shape "
                    f"{tuple(got.shape)}")
        got, expected = got.detach().cpu(), expected.detach().cpu()
        if expected.dtype == torch.bool and got.dtype != torch.bool:
            return f"expected a bool tensor, got {got.dtype}"
        if not expected.is_floating_point() and expected.dtype != torch.bool:
            if got.is_floating_point() or got.dtype == torch.bool:
                return f"expected an integer tensor, got {got.dtype}"
        if expected.is_floating_point():
            same = torch.allclose(got.to(expected.dtype), expected, atol=tol, rtol=0.0)
        else:
            same = torch.equal(got.to(expected.dtype), expected)
        return None if same else "the values differ"
    if isinstance(expected, (bool, str)):
        if isinstance(got, Tensor) and got.numel() == 1 and isinstance(expected, bool):
            got = got.item()
        if type(got) is not type(expected):
            return f"expected a {type(expected).__name__}, got {type(got).__name__}"
        return None if got == expected else f"expected a different {type(expected).__name__}"
    if isinstance(expected, (int, float)):
        if isinstance(got, Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"expected a number, got {type(got).__name__}"
        close = math.isclose(got, expected, abs_tol=tol, rel_tol=0.0)
        return None if close else "the number differs"
    if isinstance(expected, Sequence):
        if isinstance(got, Tensor):
            got = got.tolist()
        if not isinstance(got, Sequence) or isinstance(got, str):
            return f"expected a sequence, got {type(got).__name__}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            why = _mismatch(g, e, tol)
            if why is not None:
                return f"item {i}: {why}"
        return None
    raise TypeError(f"check() cannot compare answers of type {type(expected).__name__}")


def check(label: str, got: Answer, expected: Answer, tol: float = 1e-6) -> None:
    """Print whether the answer ``got`` to exercise ``label`` equals ``expected`` (one line; it
    returns nothing, so a notebook cell ending with it shows only that line).

    Numbers agree within the absolute tolerance ``tol`` (give e.g. ``tol=0.5`` for a percentage
    read off a table); integer and boolean tensors, strings and booleans must be equal.
    """
    if got is None:
        print(f"exercise {label}: not answered yet")
        return
    try:
        why = _mismatch(got, expected, tol)
    except Exception as e:  # an answer of an unexpected kind: say so, do not stop the notebook
        why = f"could not compare: {type(e).__name__}"
    print(f"exercise {label}: correct" if why is None else f"exercise {label}: not yet ({why})")
