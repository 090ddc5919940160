"""Small ENTSO-E 16.1.A files in both published layouts, a JRC-PPDB-OPEN-style units table and
a small plant registry, written by the tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

# Column names of the two layouts (SFTP exports; File Library).
SFTP = {"time": "DateTime", "unit": "GenerationUnitEIC", "mw": "ActualGenerationOutput",
        "area": "AreaCode", "capacity": "InstalledGenCapacity"}  # fmt: skip
FILE_LIBRARY = {"time": "DateTime (UTC)", "unit": "GenerationUnitCode",
                "mw": "ActualGenerationOutput[MW]", "area": "AreaCode",
                "capacity": "GenerationUnitInstalledCapacity(MW)"}  # fmt: skip


def write_generation_file(
    path: Path,
    rows: Sequence[tuple[str, str, float | None, str]],
    layout: dict[str, str],
    resolution: str = "PT60M",
) -> Path:
    """Write a tab-separated 16.1.A file: rows of (unit code, UTC start 'YYYY-mm-dd HH:MM',
    MW or None for an empty cell, area code)."""
    table = pd.DataFrame(
        {
            layout["time"]: [f"{t}:00.000" for _, t, _, _ in rows],
            "ResolutionCode": resolution,
            layout["area"]: [a for *_, a in rows],
            "AreaTypeCode": "BZN",
            layout["unit"]: [u for u, *_ in rows],
            "ProductionTypeName": "Fossil Hard coal",
            layout["mw"]: ["" if mw is None else f"{mw:.2f}" for _, _, mw, _ in rows],
            layout["capacity"]: 800,
        }
    )
    table.to_csv(path, sep="\t", index=False)
    return path


def write_registry(path: Path, plants: Sequence[dict]) -> Path:
    """A GeoJSON registry of ``plants`` (dicts with lon/lat and the registry columns)."""
    frame = pd.DataFrame(plants)
    points = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def two_plants() -> list[dict]:
    """Two plants with two and one generation units."""
    return [
        {"plant_id": "P1", "name": "Alpha", "country": "Germany", "fuel_type": "Fossil Hard coal",
         "capacity_mw": 1600.0, "unit_codes": "U1A;U1B", "lon": 9.95, "lat": 53.49},
        {"plant_id": "P2", "name": "Beta", "country": "Poland", "fuel_type": "lignite",
         "capacity_mw": 900.0, "unit_codes": "U2", "lon": 19.3, "lat": 51.27},
    ]  # fmt: skip


def write_jrc_units(path: Path) -> Path:
    """A JRC_OPEN_UNITS-style table: plant A (two lignite units, one gas unit), plant B."""
    rows = [
        ("PA", "GA1", "Kraftwerk A___", 500.0, "Fossil Brown coal/Lignite", 51.0, 6.6, "Germany"),
        ("PA", "GA2", "Kraftwerk A___", 700.0, "Fossil Brown coal/Lignite", 51.0, 6.6, "Germany"),
        ("PA", "GA3", "Kraftwerk A___", 300.0, "Fossil Gas", 51.0, 6.6, "Germany"),
        ("PB", "GB1", "Elektrownia B", 900.0, "Fossil Hard coal", 50.7, 17.9, "Poland"),
    ]
    columns = ["eic_p", "eic_g", "name_p", "capacity_g", "type_g", "lat", "lon", "country"]
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path
