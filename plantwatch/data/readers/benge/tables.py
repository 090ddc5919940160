"""The tables of ben-ge (Mommert et al. 2023), found by their columns and read into canonical
units, one row per Sentinel-2 ``patch_id``.

- meta: ``patch_id, patch_id_s1, timestamp_s2, timestamp_s1, season_s2, season_s1, lon, lat``
  (maybe ``climatezone``);
- ERA-5: ``temperature_s2`` (K), ``wind-u_s2``, ``wind-v_s2`` (m/s), ``relhumidity_s2`` (%)
  and the ``_s1`` twins → the canonical weather columns (°C, %, m/s);
- WorldCover class fractions: one column per class, named by its code (``10`` … ``100``) or
  its name (``tree_cover`` …), as fractions (or percent, detected: max > 1);
- climate zones: ``climatezone`` (Beck et al. 2018 codes 1–30; 0 = water, no class), in the
  meta table or its own;
- splits: header-less lists of patch ids named ``<subset>_<split>.csv``.

Assumed where the published description is silent: the tables lie at most two folders below
the root, and the fraction columns are named by code or by class name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plantwatch.bands import WORLDCOVER_CLASSES
from plantwatch.data.errors import DatasetError
from plantwatch.data.loading.sample import WEATHER_COLUMNS

META_COLUMNS: tuple[str, ...] = ("patch_id", "patch_id_s1", "timestamp_s2")
KELVIN_OFFSET = 273.15


def candidate_tables(root: Path) -> list[Path]:
    """The CSV files at most two folders below ``root``, sorted."""
    return sorted({*root.glob("*.csv"), *root.glob("*/*.csv"), *root.glob("*/*/*.csv")})


def _header(path: Path) -> list[str]:
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return []


def find_table(root: Path, columns: set[str], what: str, required: bool = True) -> Path | None:
    """The first CSV below ``root`` whose header holds ``columns``.

    Raises:
        DatasetError: none found and ``required``.
    """
    for path in candidate_tables(root):
        if columns <= set(_header(path)):
            return path
    if required:
        raise DatasetError(
            f"{root}: no {what} table (a CSV with columns {sorted(columns)}); "
            "unpack the ben-ge archive there or name the file"
        )
    return None


def read_indexed(path: Path) -> pd.DataFrame:
    """A table indexed by ``patch_id`` (unnamed index columns dropped).

    Raises:
        DatasetError: no ``patch_id`` column or a patch listed twice.
    """
    frame = pd.read_csv(path)
    frame = frame.drop(columns=[c for c in frame if str(c).startswith("Unnamed")])
    if "patch_id" not in frame:
        raise DatasetError(f"{path}: no 'patch_id' column")
    twice = frame.loc[frame["patch_id"].duplicated(), "patch_id"].tolist()
    if twice:
        raise DatasetError(f"{path}: patches listed twice, e.g. {twice[:3]}")
    return frame.set_index("patch_id")


def weather(era5: pd.DataFrame, timestamp: str) -> pd.DataFrame:
    """Canonical weather columns of the ``s2`` or ``s1`` observation time."""
    names = {"temperature": f"temperature_{timestamp}", "humidity": f"relhumidity_{timestamp}",
             "u": f"wind-u_{timestamp}", "v": f"wind-v_{timestamp}"}  # fmt: skip
    missing = [c for c in names.values() if c not in era5]
    if missing:
        raise DatasetError(f"ERA-5 table: missing columns {missing}")
    values = np.column_stack([
        era5[names["temperature"]].to_numpy(np.float64) - KELVIN_OFFSET,
        era5[names["humidity"]].to_numpy(np.float64),
        era5[names["u"]].to_numpy(np.float64),
        era5[names["v"]].to_numpy(np.float64),
    ])  # fmt: skip
    return pd.DataFrame(values, index=era5.index, columns=list(WEATHER_COLUMNS))


def fraction_columns(header: list[str]) -> list[str] | None:
    """The 11 WorldCover fraction columns of a header in class order, or None."""
    for names in ([str(c) for c in WORLDCOVER_CLASSES], list(WORLDCOVER_CLASSES.values())):
        if set(names) <= set(header):
            return names
    return None


def find_fractions(root: Path) -> Path | None:
    """The WorldCover class-fraction table, if any."""
    for path in candidate_tables(root):
        if fraction_columns(_header(path)) is not None:
            return path
    return None


def read_fractions(path: Path) -> pd.DataFrame:
    """Class fractions (0–1), float64 [N, 11] in ``WORLDCOVER_CLASSES`` order."""
    frame = read_indexed(path)
    columns = fraction_columns(list(frame.columns))
    values = frame[columns].to_numpy(np.float64)
    if np.nanmax(values) > 1.0 + 1e-6:
        values = values / 100.0
    return pd.DataFrame(values, index=frame.index, columns=list(WORLDCOVER_CLASSES.values()))


@dataclass
class SplitFiles:
    """The split files of a subset (``ben-ge-8k_train.csv`` …) by split name."""

    subset: str
    paths: dict[str, Path]

    def ids(self, split: str) -> list[str]:
        """The patch ids of ``split``, in file order."""
        lines = self.paths[split].read_text().splitlines()
        return [line.split(",")[0].strip() for line in lines if line.strip()]


def find_splits(root: Path, subset: str) -> SplitFiles:
    """The ``<subset>_{train,val,test}.csv`` files below ``root`` (any may be missing)."""
    paths = {}
    for split in ("train", "val", "test"):
        found = [p for p in candidate_tables(root) if p.name == f"{subset}_{split}.csv"]
        if found:
            paths[split] = found[0]
    return SplitFiles(subset, paths)
