"""Ids that become file names, and paths that must stay inside their folder.

Plant, observation, zoo-entry and manifest-file ids come from tables and archives that
may be hostile. `checked_id` admits ``[A-Za-z0-9._-]`` only, never empty, never ``..``
(nor ``.``), where the id enters; `inside` checks every path built from one.
"""

from __future__ import annotations

import re
from pathlib import Path

from plantwatch.errors import UserError

ID_CHARACTERS = re.compile(r"[A-Za-z0-9._-]+")


def checked_id(value: object, what: str, where: str | Path) -> str:
    """``value`` as a string if it is a safe id (letters, digits, ``.``, ``_``, ``-``; not
    empty, no ``..``, not ``.``); else a `UserError` naming ``what`` (e.g. "plant_id") and
    ``where`` (the file or argument it came from)."""
    text = "" if value is None else str(value)
    if ID_CHARACTERS.fullmatch(text) and ".." not in text and text != ".":
        return text
    raise UserError(
        f"{where}: {what} {text!r} is not a safe id (use letters, digits, '.', '_' and '-' "
        "only, no '..', not empty); fix the id there"
    )


def inside(folder: str | Path, relative: str | Path) -> Path:
    """``folder / relative``, refused with a `UserError` when it would resolve (links
    followed) outside ``folder``."""
    base = Path(folder).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise UserError(f"{relative}: resolves to {path}, outside {base}; refused")
    return base / relative
