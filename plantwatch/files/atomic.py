"""Atomic writes: a file is written under a temporary name and renamed into place, so a
killed writer never leaves a truncated file under the real name."""

from __future__ import annotations

from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``<path>.partial``, then rename it to ``path``."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
