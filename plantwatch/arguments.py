"""The argument parser of the ``plantwatch`` commands and its argument types: a number out of
range is refused when the command line is parsed (usage line, exit status 2), before anything
runs; every option's help shows its default, every command's help ends with examples."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", int, float)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default (where it has one that says something) and the
    examples of the epilog as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


class CommandParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` with `HelpFormatter`; the parsers of subcommands are of
    this class too."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def examples(*commands: str) -> str:
    """A help epilog: ``examples:`` and one indented command a line."""
    return "examples:\n" + "\n".join(f"  {command}" for command in commands)


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
