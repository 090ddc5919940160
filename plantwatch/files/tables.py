"""Reading the tables and records users hand to plantwatch (CSV, JSON), with one
`UserError` that names the file for a missing, empty, truncated or unreadable one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from plantwatch.errors import UserError


def read_csv(path: str | Path, what: str = "a CSV table", **options: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **options)``; ``what`` names the table in errors.

    Raises:
        UserError: no such file, an empty file, or one pandas cannot parse.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; expected {what}")
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty; expected {what} with a header row") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{path}: not readable as {what} ({error})") from None


def read_json(path: str | Path, what: str = "a JSON record") -> Any:
    """The content of a JSON file.

    Raises:
        UserError: no such file, or not valid JSON (e.g. truncated by a killed writer).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; expected {what}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(
            f"{path}: not valid JSON ({error}); the file is damaged or truncated — restore or "
            "regenerate it"
        ) from None
