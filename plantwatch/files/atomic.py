"""Atomic writes: a file (or a folder) is written under a temporary name and renamed into
place, so a killed writer never leaves a truncated file under the real name."""

from __future__ import annotations

import shutil
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``<path>.partial``, then rename it to ``path``."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def replace_folder(new: Path, target: Path) -> None:
    """Put the finished folder ``new`` in the place of ``target`` (removing what was there):
    ``target`` is the old or the new folder at every moment, never a mix."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)
