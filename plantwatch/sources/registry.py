"""`PlantRegistry`: the list of power plants an acquisition starts from.

A registry file (GeoJSON, GeoPackage or CSV) has one row per plant::

    plant_id      unique id (e.g. the ENTSO-E production-unit code, JRC's ``eic_p``)
    name          plant name
    country       country name or code
    fuel_type     a plantwatch fuel class or an ENTSO-E production type
                  ("Fossil Brown coal/Lignite" …), stored as the class
    capacity_mw   installed net capacity, MW (> 0)
    unit_codes    the plant's ENTSO-E generation-unit codes (EIC, JRC's ``eic_g``),
                  separated by ";" — the keys of the 16.1.A generation files
    geometry      point in any CRS (reprojected to WGS 84); a CSV gives ``lon``/``lat``
                  in degrees instead

Further columns are kept. Reading validates everything and names the file and the fix:
missing columns, a missing CRS, non-point geometry, duplicate ids, unknown fuels, capacity
≤ 0, and a unit code claimed by two plants.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from plantwatch import physics
from plantwatch.data.errors import DatasetError
from plantwatch.files.ids import checked_id

COLUMNS: tuple[str, ...] = ("plant_id", "name", "country", "fuel_type", "capacity_mw", "unit_codes")
UNIT_SEPARATOR = ";"


class RegistryError(DatasetError):
    """A plant registry that cannot be used as it is."""


class PlantRegistry:
    """A validated table of plants with point geometries in WGS 84 (EPSG:4326).

    Args:
        plants: one row per plant with :data:`COLUMNS` and point geometries.
        source: where the table came from (named in errors).
    """

    def __init__(self, plants: gpd.GeoDataFrame, source: str = "registry") -> None:
        self.source = source
        self.plants = self._validate(plants.copy())

    @classmethod
    def read(cls, path: str | Path) -> PlantRegistry:
        """Read a GeoJSON, GeoPackage or CSV registry (CSV: ``lon``/``lat`` in degrees)."""
        path = Path(path)
        if not path.is_file():
            raise RegistryError(f"{path}: registry file not found")
        try:
            if path.suffix.lower() == ".csv":
                table = pd.read_csv(path, dtype={"plant_id": str, "unit_codes": str})
                absent = [c for c in ("lon", "lat") if c not in table]
                if absent:
                    raise RegistryError(
                        f"{path}: a CSV registry needs 'lon' and 'lat' in degrees; missing {absent}"
                    )
                points = gpd.points_from_xy(table.pop("lon"), table.pop("lat"))
                frame = gpd.GeoDataFrame(table, geometry=points, crs="EPSG:4326")
            else:
                frame = gpd.read_file(path)
        except (OSError, ValueError, pd.errors.ParserError) as error:
            if isinstance(error, RegistryError):
                raise
            raise RegistryError(f"{path}: not a readable registry ({error})") from None
        return cls(frame, str(path))

    def _validate(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        where = self.source
        missing = [c for c in COLUMNS if c not in frame]
        if missing:
            raise RegistryError(
                f"{where}: missing columns {missing}; a registry needs {list(COLUMNS)} and "
                "point geometries"
            )
        if frame.crs is None:
            raise RegistryError(f"{where}: no CRS; set one (e.g. EPSG:4326) in the file")
        ids = [None if pd.isna(v) else v for v in frame["plant_id"]]
        frame["plant_id"] = [checked_id(v, "plant_id", f"{where}, plant {i + 1}")
                             for i, v in enumerate(ids)]  # fmt: skip
        if len(frame) and not (frame.geometry.geom_type == "Point").all():
            raise RegistryError(f"{where}: every plant needs a point geometry (its location)")
        frame = frame.to_crs("EPSG:4326")
        x, y = frame.geometry.x, frame.geometry.y
        placeless = frame.loc[~(x.between(-180, 180) & y.between(-90, 90)), "plant_id"].tolist()
        if placeless:
            raise RegistryError(
                f"{where}: plants {placeless[:5]} have no valid location (lon in [-180, 180], "
                "lat in [-90, 90] degrees); fill in their coordinates"
            )
        duplicated = frame.loc[frame["plant_id"].duplicated(), "plant_id"].tolist()
        if duplicated:
            raise RegistryError(f"{where}: duplicate plant ids {duplicated[:5]}; make ids unique")
        fuels = []
        for plant, fuel in zip(frame["plant_id"], frame["fuel_type"], strict=True):
            try:
                fuels.append(physics.FUEL_NAMES[physics.fuel_index(str(fuel))])
            except ValueError as error:
                raise RegistryError(f"{where}: plant {plant}: {error}") from None
        frame["fuel_type"] = fuels
        capacity = pd.to_numeric(frame["capacity_mw"], errors="coerce")
        bad = frame.loc[~(capacity > 0), "plant_id"].tolist()
        if bad:
            raise RegistryError(f"{where}: capacity_mw must be a number > 0; plants {bad[:5]}")
        frame["capacity_mw"] = capacity.astype(float)
        frame["unit_codes"] = [
            UNIT_SEPARATOR.join(_split_units(codes)) for codes in frame["unit_codes"]
        ]
        units = self._units(frame)
        shared = units.loc[units["unit_code"].duplicated(keep=False)]
        if len(shared):
            first = shared["unit_code"].iat[0]
            owners = shared.loc[shared["unit_code"] == first, "plant_id"].tolist()
            raise RegistryError(
                f"{where}: unit code {first} belongs to plants {owners}; a generation unit "
                "belongs to one plant"
            )
        return frame.reset_index(drop=True)

    @staticmethod
    def _units(frame: pd.DataFrame) -> pd.DataFrame:
        rows = [
            (code, plant)
            for plant, codes in zip(frame["plant_id"], frame["unit_codes"], strict=True)
            for code in _split_units(codes)
        ]
        return pd.DataFrame(rows, columns=["unit_code", "plant_id"])

    def units(self) -> pd.DataFrame:
        """One row per generation unit: ``unit_code``, ``plant_id``."""
        return self._units(self.plants)

    def filter(
        self,
        countries: Sequence[str] | None = None,
        fuels: Sequence[str] | None = None,
        min_capacity_mw: float | None = None,
        max_capacity_mw: float | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> PlantRegistry:
        """The plants that pass every given filter.

        Args:
            countries: country names or codes as the registry writes them (case-insensitive).
            fuels: fuel classes or ENTSO-E production types.
            min_capacity_mw, max_capacity_mw: capacity bounds, MW, inclusive.
            bbox: (west, south, east, north) in degrees.
        """
        keep = pd.Series(True, index=self.plants.index)
        if countries:
            wanted = {c.casefold() for c in countries}
            keep &= self.plants["country"].astype(str).str.casefold().isin(wanted)
        if fuels:
            classes = {physics.FUEL_NAMES[physics.fuel_index(f)] for f in fuels}
            keep &= self.plants["fuel_type"].isin(classes)
        if min_capacity_mw is not None:
            keep &= self.plants["capacity_mw"] >= min_capacity_mw
        if max_capacity_mw is not None:
            keep &= self.plants["capacity_mw"] <= max_capacity_mw
        if bbox is not None:
            west, south, east, north = bbox
            x, y = self.plants.geometry.x, self.plants.geometry.y
            keep &= (x >= west) & (x <= east) & (y >= south) & (y <= north)
        return PlantRegistry(self.plants.loc[keep], self.source)

    def write(self, path: str | Path) -> Path:
        """Write the registry as GeoJSON, GeoPackage (``.gpkg``) or CSV (lon/lat)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            table = pd.DataFrame(self.plants.drop(columns="geometry"))
            table["lon"], table["lat"] = self.plants.geometry.x, self.plants.geometry.y
            table.to_csv(path, index=False)
        else:
            driver = "GPKG" if path.suffix.lower() == ".gpkg" else "GeoJSON"
            self.plants.to_file(path, driver=driver)
        return path

    def __len__(self) -> int:
        return len(self.plants)


def _split_units(codes: object) -> list[str]:
    if not isinstance(codes, str):
        return []
    return [c.strip() for c in codes.split(UNIT_SEPARATOR) if c.strip()]
