"""The JRC Open Power Plants Database (JRC-PPDB-OPEN) → a plant registry and reported
annual emissions.

Kanellopoulos K., De Felice M., Hidalgo Gonzalez I., Bocin A. (2019): JRC Open Power Plants
Database (JRC-PPDB-OPEN), European Commission, Joint Research Centre, doi
10.5281/zenodo.3574566, licence CC-BY-4.0.

Its units table has one row per generation unit: ``eic_g`` (the code of ENTSO-E's
"Actual Generation per Generation Unit" files), ``eic_p`` (the production unit, i.e. the
plant), names, net capacity (MW), ENTSO-E production type and plant coordinates. Units are
grouped into plants by ``eic_p``; the plant's fuel is the production type with the most
capacity, its capacity the sum of its units'. The temporal table gives per unit and year
the generation (MWh) and the CO₂ emitted (kg, reported installation emissions split by
generation).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from plantwatch.files.tables import read_csv
from plantwatch.sources.registry import UNIT_SEPARATOR, PlantRegistry, RegistryError

DOI = "10.5281/zenodo.3574566"
ATTRIBUTION = (
    "JRC Open Power Plants Database (JRC-PPDB-OPEN), Kanellopoulos K., De Felice M., Hidalgo "
    f"Gonzalez I., Bocin A., European Commission, Joint Research Centre (2019), doi {DOI}, "
    "CC-BY-4.0"
)
UNIT_COLUMNS = ("eic_p", "eic_g", "name_p", "capacity_g", "type_g", "lat", "lon", "country")
TEMPORAL_COLUMNS = ("eic_g", "cyear", "Generation", "co2emitted")


def _read(path: str | Path, columns: tuple[str, ...]) -> pd.DataFrame:
    path = Path(path)
    table = read_csv(path, "a JRC-PPDB-OPEN table", dtype={"eic_p": str, "eic_g": str})
    missing = [c for c in columns if c not in table]
    if missing:
        raise RegistryError(f"{path}: missing JRC-PPDB-OPEN columns {missing}")
    return table


def registry_from_jrc(
    units_csv: str | Path, linkages_csv: str | Path | None = None
) -> PlantRegistry:
    """A registry of the plants in a JRC-PPDB-OPEN units table (``JRC_OPEN_UNITS.csv``),
    with the E-PRTR facility id (``eprtr_id``) from the linkages table when given."""
    units = _read(units_csv, UNIT_COLUMNS)
    rows = []
    for plant_id, group in units.groupby("eic_p", sort=True):
        by_type = group.groupby("type_g")["capacity_g"].sum().sort_values(ascending=False)
        rows.append(
            {
                "plant_id": plant_id,
                "name": str(group["name_p"].iat[0]).strip("_ ").strip(),
                "country": group["country"].iat[0],
                "fuel_type": by_type.index[0],
                "capacity_mw": float(group["capacity_g"].sum()),
                "unit_codes": UNIT_SEPARATOR.join(sorted(group["eic_g"])),
                "lon": float(group["lon"].iat[0]),
                "lat": float(group["lat"].iat[0]),
            }
        )
    frame = pd.DataFrame(rows)
    if linkages_csv is not None:
        links = _read(linkages_csv, ("eic_p", "eprtr_facilityID"))
        ids = links.dropna(subset=["eprtr_facilityID"]).groupby("eic_p")["eprtr_facilityID"]
        frame["eprtr_id"] = frame["plant_id"].map(ids.first()).astype("Int64").astype(str)
        frame["eprtr_id"] = frame["eprtr_id"].replace("<NA>", "")
    points = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    plants = gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326")
    plants["source"] = f"JRC-PPDB-OPEN (doi {DOI})"
    return PlantRegistry(plants, str(units_csv))


def annual_emissions_from_jrc(temporal_csv: str | Path) -> pd.DataFrame:
    """Reported annual figures per unit from a JRC-PPDB-OPEN temporal table: ``unit_code``,
    ``year``, ``generation_mwh`` (MWh) and ``co2_t`` (t; NaN where not reported)."""
    table = _read(temporal_csv, TEMPORAL_COLUMNS)
    return pd.DataFrame(
        {
            "unit_code": table["eic_g"],
            "year": table["cyear"].astype(int),
            "generation_mwh": pd.to_numeric(table["Generation"], errors="coerce"),
            "co2_t": pd.to_numeric(table["co2emitted"], errors="coerce") / 1000.0,
        }
    )
