"""Markdown tables of the records, reports and command outputs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], right: int = 0
) -> list[str]:
    """The lines of a Markdown table: its last ``right`` columns right-aligned (numbers)."""
    align = ["---"] * (len(header) - right) + ["---:"] * right
    return [f"| {' | '.join(header)} |", f"|{'|'.join(align)}|",
            *(f"| {' | '.join(row)} |" for row in rows)]  # fmt: skip
