"""Argument types of the ``plantwatch`` commands: a number out of range is refused when the
command line is parsed (usage line, exit status 2), before anything runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", int, float)


def positive_int(text: str) -> int:
    """A whole number ≥ 1."""
    return _checked(int, text, lambda v: v >= 1, "a whole number ≥ 1")


def non_negative_int(text: str) -> int:
    """A whole number ≥ 0."""
    return _checked(int, text, lambda v: v >= 0, "a whole number ≥ 0")


def positive_float(text: str) -> float:
    """A number > 0."""
    return _checked(float, text, lambda v: v > 0, "a number > 0")


def non_negative_float(text: str) -> float:
    """A number ≥ 0."""
    return _checked(float, text, lambda v: v >= 0, "a number ≥ 0")


def fraction(text: str) -> float:
    """A share in [0, 1]."""
    return _checked(float, text, lambda v: 0 <= v <= 1, "a share between 0 and 1")


def open_fraction(text: str) -> float:
    """A probability strictly between 0 and 1 (an interval's coverage)."""
    return _checked(float, text, lambda v: 0 < v < 1, "a number strictly between 0 and 1")


def percent(text: str) -> float:
    """A percentage in [0, 100]."""
    return _checked(float, text, lambda v: 0 <= v <= 100, "a percentage between 0 and 100")


def multiple_of_6(text: str) -> int:
    """A positive whole number divisible by 6 (ben-ge patch sides: 60 m pixels fit)."""
    return _checked(int, text, lambda v: v >= 6 and v % 6 == 0, "a multiple of 6, ≥ 6")


def _checked(kind: Callable[[str], T], text: str, valid: Callable[[T], bool], what: str) -> T:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if value != value or not valid(value):  # NaN is no number in range
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value
