"""Generation labels: ENTSO-E "Actual Generation per Generation Unit" (16.1.A) files → the
plant's generation (MW) and CO₂ (t/h) at an acquisition time, and weather from a CSV.

The transparency platform has published 16.1.A in two column layouts, both tab-separated
with UTC timestamps at 15- or 60-minute resolution:

- SFTP exports: ``DateTime``, ``ResolutionCode``, ``AreaCode``, ``GenerationUnitEIC``,
  ``ActualGenerationOutput``, ``InstalledGenCapacity`` …
- File Library: ``DateTime (UTC)`` or ``DateTime(UTC)``, ``ResolutionCode``, ``AreaCode``,
  ``GenerationUnitCode``, ``ActualGenerationOutput[MW]`` or ``ActualGenerationOutput(MW)``,
  ``GenerationUnitInstalledCapacity(MW)`` …

Column names are matched without spaces, case or unit suffix. A unit is listed under every
area it belongs to (bidding zone, control area, country): rows are deduplicated on unit and
interval. A row covers ``[DateTime, DateTime + resolution)``; an acquisition takes the value
of the interval that contains it, or of the nearest interval within ``tolerance``. A plant's
generation is the sum over its units that appear in the files; if one of them has no value
for the interval, the plant's value is unknown (``has_power`` false), never a partial sum.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from plantwatch import physics
from plantwatch.data.errors import DatasetError
from plantwatch.data.loading.sample import WEATHER_COLUMNS
from plantwatch.files.tables import read_csv

# Normalised column name (lower case, no spaces, no unit suffix) → our name.
COLUMN_NAMES: dict[str, str] = {
    "datetime": "start",
    "resolutioncode": "resolution",
    "areacode": "area",
    "generationuniteic": "unit_code",
    "generationunitcode": "unit_code",
    "actualgenerationoutput": "generation_mw",
}
REQUIRED = ("start", "unit_code", "generation_mw")
_UNIT_SUFFIX = re.compile(r"[\[(][^\])]*[\])]$")


def _normalise(name: str) -> str:
    return _UNIT_SUFFIX.sub("", name.replace(" ", "").strip()).lower()


def _resolution(codes: pd.Series, path: Path) -> pd.Series:
    minutes = codes.astype(str).str.extract(r"^PT(\d+)M$")[0]
    unknown = sorted(set(codes[minutes.isna()].astype(str)))
    if unknown:
        raise DatasetError(f"{path}: unknown ResolutionCode {unknown[:3]}; expected PT15M/PT60M")
    return pd.to_timedelta(minutes.astype(int), unit="min")


def read_generation_file(path: str | Path) -> pd.DataFrame:
    """One 16.1.A file as ``unit_code``, ``start``, ``end`` (UTC), ``generation_mw``, ``area``.

    Raises:
        DatasetError: unreadable, or without the time, unit or generation column.
    """
    path = Path(path)
    raw = read_csv(path, "a tab-separated 16.1.A file", sep="\t", dtype=str)
    frame = raw.rename(columns=lambda c: COLUMN_NAMES.get(_normalise(c), c))
    missing = [c for c in REQUIRED if c not in frame]
    if missing:
        raise DatasetError(
            f"{path}: no {missing} column; expected an ENTSO-E Actual Generation per Generation "
            "Unit (16.1.A) export with DateTime, GenerationUnitEIC or GenerationUnitCode and "
            "ActualGenerationOutput"
        )
    start = pd.to_datetime(frame["start"], utc=True, errors="coerce")
    if start.isna().any():
        raise DatasetError(f"{path}: unreadable DateTime in {int(start.isna().sum())} rows")
    resolution = (
        _resolution(frame["resolution"], path)
        if "resolution" in frame
        else pd.Series(pd.Timedelta(minutes=60), index=frame.index)
    )
    return pd.DataFrame(
        {
            "unit_code": frame["unit_code"].str.strip(),
            "start": start,
            "end": start + resolution,
            "generation_mw": pd.to_numeric(frame["generation_mw"], errors="coerce"),
            "area": frame["area"] if "area" in frame else "",
        }
    )


class GenerationSeries:
    """Per-unit generation from 16.1.A files, deduplicated over areas.

    Args:
        frame: rows of ``unit_code``, ``start``, ``end``, ``generation_mw`` (MW; NaN = missing).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        ordered = frame.sort_values(["unit_code", "start", "generation_mw"], na_position="last")
        ordered = ordered.drop_duplicates(["unit_code", "start"], keep="first")
        self.units: dict[str, pd.DataFrame] = {
            code: group.reset_index(drop=True) for code, group in ordered.groupby("unit_code")
        }

    @classmethod
    def read(cls, paths: Sequence[str | Path]) -> GenerationSeries:
        """Read and merge 16.1.A files of either layout."""
        return cls(pd.concat([read_generation_file(p) for p in paths], ignore_index=True))

    def unit_at(self, unit_code: str, when: pd.Timestamp, tolerance: pd.Timedelta) -> float:
        """Generation of one unit in MW at ``when`` (UTC); NaN when unknown."""
        rows = self.units.get(unit_code)
        if rows is None or rows.empty:
            return float("nan")
        inside = rows.loc[(rows["start"] <= when) & (when < rows["end"]), "generation_mw"]
        if len(inside):
            return float(inside.iat[0])
        gap = np.minimum((rows["start"] - when).abs(), (rows["end"] - when).abs())
        nearest = int(gap.to_numpy().argmin())
        if gap.iat[nearest] <= tolerance:
            return float(rows["generation_mw"].iat[nearest])
        return float("nan")

    def plant_at(
        self, unit_codes: Sequence[str], when: pd.Timestamp, tolerance: pd.Timedelta
    ) -> float:
        """Summed generation (MW) of a plant's reported units at ``when``; NaN if a reported
        unit has no value there or none of the units is in the files."""
        reported = [u for u in unit_codes if u in self.units]
        if not reported:
            return float("nan")
        values = [self.unit_at(u, when, tolerance) for u in reported]
        return float(np.sum(values)) if np.all(np.isfinite(values)) else float("nan")


def emission_intensity(
    annual: pd.DataFrame, unit_to_plant: Mapping[str, str]
) -> dict[tuple[str, int], float]:
    """Reported CO₂ per MWh (t/MWh) by (plant, year) from an annual table.

    ``annual`` has ``year``, ``co2_t`` (t) and ``generation_mwh`` (MWh) and either ``plant_id``
    or ``unit_code`` (summed per plant through ``unit_to_plant``); rows missing either figure
    are left out, and so are plant-years without generation.
    """
    missing = [c for c in ("year", "co2_t", "generation_mwh") if c not in annual]
    if "plant_id" not in annual and "unit_code" not in annual:
        missing.append("plant_id or unit_code")
    if missing:
        raise DatasetError(f"annual emissions table: missing columns {missing}")
    table = annual.dropna(subset=["co2_t", "generation_mwh"]).copy()
    if "plant_id" not in table:
        table["plant_id"] = table["unit_code"].map(unit_to_plant)
    table = table.dropna(subset=["plant_id"])
    sums = table.groupby(["plant_id", "year"])[["co2_t", "generation_mwh"]].sum()
    sums = sums[sums["generation_mwh"] > 0]
    return {(str(p), int(y)): float(r.co2_t / r.generation_mwh) for (p, y), r in sums.iterrows()}


def read_annual_emissions(path: str | Path) -> pd.DataFrame:
    """Reported annual figures: a CSV with ``year``, ``co2_t`` (t), ``generation_mwh`` (MWh)
    and ``plant_id`` or ``unit_code``, or a JRC-PPDB-OPEN temporal table (recognised by its
    ``eic_g`` and ``cyear`` columns)."""
    path = Path(path)
    header = read_csv(path, "a table of annual emissions", nrows=0).columns
    if {"eic_g", "cyear"} <= set(header):
        from plantwatch.sources.jrc import annual_emissions_from_jrc

        return annual_emissions_from_jrc(path)
    return read_csv(path, "a table of annual emissions", dtype={"plant_id": str, "unit_code": str})


def co2_t_per_h(
    generation_mw: float,
    fuel_type: str,
    plant_id: str,
    when: pd.Timestamp,
    intensity: Mapping[tuple[str, int], float] | None = None,
) -> tuple[float, str]:
    """CO₂ in t/h at generation ``generation_mw`` and how it was derived: the plant-year's
    reported intensity when known (``reported_annual``), else the fuel's emission factor."""
    if intensity and (plant_id, when.year) in intensity:
        return generation_mw * intensity[(plant_id, when.year)], "reported_annual"
    factor = physics.FUELS[physics.fuel_index(fuel_type)].ef_t_per_mwh
    return generation_mw * factor, "emission_factor"


def read_weather(path: str | Path) -> pd.DataFrame:
    """A weather table: ``plant_id``, ``datetime`` (UTC) and the weather columns
    (``temperature_c``, ``relative_humidity_pct``, ``wind_u_ms``, ``wind_v_ms``)."""
    path = Path(path)
    table = read_csv(path, "a weather table", dtype={"plant_id": str})
    missing = [c for c in ("plant_id", "datetime", *WEATHER_COLUMNS) if c not in table]
    if missing:
        raise DatasetError(f"{path}: missing weather columns {missing}")
    table["datetime"] = pd.to_datetime(table["datetime"], utc=True)
    return table.sort_values(["plant_id", "datetime"]).reset_index(drop=True)


def weather_at(
    weather: pd.DataFrame, plant_id: str, when: pd.Timestamp, tolerance: pd.Timedelta
) -> dict[str, float] | None:
    """The weather row of ``plant_id`` nearest to ``when`` within ``tolerance``; None if none."""
    rows = weather[weather["plant_id"] == plant_id]
    if rows.empty:
        return None
    gap = (rows["datetime"] - when).abs()
    nearest = gap.idxmin()
    if gap[nearest] > tolerance:
        return None
    return {c: float(rows.at[nearest, c]) for c in WEATHER_COLUMNS}
