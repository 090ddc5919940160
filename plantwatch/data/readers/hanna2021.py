"""The power-plant dataset of Hanna et al. (2021, 2023) → the canonical format.

Native layout (Zenodo records 5644746 and 5874537; code: HSG-AIML/RemoteSensingCO2Estimation)::

    images/{training/120x120,training/300x300,validation}/{positive,negative}/*.tif
    segmentation_labels/<the same sub-folders>/*.json     Label Studio polygons
    <table>.csv   filename, gen_output, fuel_type, temp, humidity, wind-u, wind-v
                  (maybe an unnamed index column and lat, lon, label, EIC)

What the conversion does and assumes:

- image names are ``<E-PRTR facility id>_<ISO time>.tif``; the facility id is the plant (a
  name without one falls back to its site, images within ``site_distance_m``); observation
  ids replace the colons of the time, ``source`` keeps the original path;
- 300 px images are centre-cropped to 120 px (the plant is at the centre; never resampled,
  so masks stay binary), and ``plume_lost_share`` records the share of plume pixels the crop
  cut off; smaller images are edge-padded with the padding unlabelled;
- fuel: ENTSO-E production types through ``plantwatch.physics`` ("Fossil Coal-derived
  gas" → gas, "Fossil Peat"/"Fossil Oil" → peat_oil); an unknown name is an error;
- generation ``gen_output`` in MW; an empty one keeps the row with ``has_power`` false; CO₂ is
  derived as generation × the fuel's emission factor and marked so in ``dataset.json``;
- weather units are detected by range and converted to the canonical columns: temperature
  in K (median > 150) → °C; humidity as specific humidity (max ≤ 0.05 kg/kg) → relative
  humidity at 1000 hPa (Magnus formula over water), as a fraction (max ≤ 1) → %, else %;
  the detected units are recorded in ``dataset.json``;
- an image without a table row, or whose row has no weather, is skipped and counted (a
  warning names some); no capacity is known.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import Point
from tqdm.auto import tqdm

from plantwatch import physics
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.sites import group_sites
from plantwatch.data.format.writer import DatasetWriter
from plantwatch.data.loading.source import DatasetSource
from plantwatch.data.readers.labelstudio import read_label_folder
from plantwatch.data.readers.native import (
    NativeObservation,
    datetime_from_name,
    find_scenes,
    match_labels,
    scene_centres,
    scene_info,
    write_scene,
)
from plantwatch.files.tables import read_csv

DOIS = ("10.5281/zenodo.5644746", "10.5281/zenodo.5874537")
CITATION = (
    "Hanna, J., Mommert, M., Scheibenreif, L., Borth, D. (2021): Multitask Learning for "
    "Estimating Power Plant Greenhouse Gas Emissions from Satellite Imagery. Tackling Climate "
    "Change with Machine Learning workshop, NeurIPS 2021."
)
TABLE_COLUMNS: tuple[str, ...] = (
    "filename", "gen_output", "fuel_type", "temp", "humidity", "wind-u", "wind-v",
)  # fmt: skip
_FACILITY = re.compile(r"^(\d+)_")


def read_table(path: str | Path) -> pd.DataFrame:
    """The label table, indexed by image file name, with an unnamed index column dropped.

    Raises:
        DatasetError: unreadable, missing columns, or a file name listed twice.
    """
    path = Path(path)
    table = read_csv(path, "the Hanna et al. label table")
    table = table.drop(columns=[c for c in table if str(c).startswith("Unnamed")])
    missing = [c for c in TABLE_COLUMNS if c not in table]
    if missing:
        raise DatasetError(
            f"{path}: missing columns {missing}; the Hanna et al. table has {list(TABLE_COLUMNS)}"
        )
    twice = table.loc[table["filename"].duplicated(), "filename"].tolist()
    if twice:
        raise DatasetError(f"{path}: file names listed twice, e.g. {twice[:3]}; keep one row each")
    return table.set_index("filename")


def find_table(src: Path) -> Path:
    """The single ``*.csv`` of the dataset folder (top level first, then below)."""
    found = sorted(src.glob("*.csv")) or sorted(src.rglob("*.csv"))
    if len(found) != 1:
        raise DatasetError(
            f"{src}: expected one label table (*.csv), found {[str(p) for p in found]}; "
            "pass it with --table"
        )
    return found[0]


def saturation_vapour_pressure_hpa(temperature_c: np.ndarray) -> np.ndarray:
    """Saturation vapour pressure over water, hPa (Magnus formula, Alduchov & Eskridge 1996)."""
    return 6.1094 * np.exp(17.625 * temperature_c / (temperature_c + 243.04))


def canonical_weather(
    table: pd.DataFrame, pressure_hpa: float = 1000.0
) -> tuple[pd.DataFrame, dict]:
    """The weather columns in canonical units (``temperature_c``, ``relative_humidity_pct``,
    ``wind_u_ms``, ``wind_v_ms``) and the units detected in the table."""
    temp = table["temp"].to_numpy(np.float64)
    humidity = table["humidity"].to_numpy(np.float64)
    kelvin = bool(np.nanmedian(temp) > 150.0)
    temperature_c = temp - 273.15 if kelvin else temp
    top = np.nanmax(humidity) if np.isfinite(humidity).any() else np.nan
    if top <= 0.05:
        vapour = humidity * pressure_hpa / (0.622 + 0.378 * humidity)
        rh = 100.0 * vapour / saturation_vapour_pressure_hpa(temperature_c)
        humidity_unit = f"specific humidity kg/kg (→ RH at {pressure_hpa:g} hPa)"
    elif top <= 1.0:
        rh, humidity_unit = 100.0 * humidity, "relative humidity fraction"
    else:
        rh, humidity_unit = humidity, "relative humidity %"
    weather = pd.DataFrame(
        {"temperature_c": temperature_c, "relative_humidity_pct": np.clip(rh, 0.0, 100.0),
         "wind_u_ms": table["wind-u"].to_numpy(np.float64),
         "wind_v_ms": table["wind-v"].to_numpy(np.float64)},
        index=table.index,
    )  # fmt: skip
    units = {"temp": "K" if kelvin else "°C", "humidity": humidity_unit, "wind": "m/s"}
    return weather, units


def plant_ids(observations: list[NativeObservation], centres: np.ndarray,
              site_distance_m: float) -> list[str]:  # fmt: skip
    """Per image: ``prtr<id>`` from the file name's facility id, else ``site<k>`` by location."""
    sites = group_sites(centres[:, 0], centres[:, 1], float(centres[:, 2].max()), site_distance_m)
    ids = []
    for observation, site in zip(observations, sites, strict=True):
        facility = _FACILITY.match(observation.path.name)
        ids.append(f"prtr{facility.group(1)}" if facility else f"site{site:05d}")
    return ids


def convert_hanna2021(
    src: str | Path,
    out: str | Path,
    table: str | Path | None = None,
    size: int = 120,
    site_distance_m: float = 1000.0,
    all_touched: bool = True,
    split_seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write the dataset unpacked in ``src`` as a canonical dataset into ``out`` (resumable).

    Args:
        table: the label CSV; None: the single ``*.csv`` in ``src``.
        size: image side after centre cropping / padding, px.
        site_distance_m: footprints this close are one site (for names without a facility).
        all_touched: rasterise every pixel a polygon touches.

    Raises:
        DatasetError: bad layout, table, fuel name or image, each named.
    """
    src, out = Path(src), Path(out)
    observations = find_scenes(src, "Hanna et al. (Zenodo 5644746)")
    table_path = Path(table) if table is not None else find_table(src)
    rows = read_table(table_path)
    weather, units = canonical_weather(rows)
    fuels = {}
    for name, fuel in rows["fuel_type"].items():
        try:
            fuels[name] = physics.FUEL_NAMES[physics.fuel_index(str(fuel))]
        except ValueError as error:
            raise DatasetError(f"{table_path}: row {name!r}: {error}") from None
    usable = [o for o in observations
              if o.path.name in rows.index and weather.loc[o.path.name].notna().all()]  # fmt: skip
    skipped = [o.path.name for o in observations if o not in usable]
    if skipped:
        warnings.warn(
            f"{len(skipped)} images without a row or weather in {table_path} are skipped, "
            f"e.g. {skipped[:3]}",
            stacklevel=2,
        )
    if not usable:
        raise DatasetError(f"{table_path}: no row matches an image under {src / 'images'}")
    labels = match_labels(observations, read_label_folder(src / "segmentation_labels"))
    centres = scene_centres(usable, progress)
    plants = plant_ids(usable, centres, site_distance_m)
    info = scene_info(
        {"name": "hanna2021-power-plants", "layout": "hanna2021", "doi": list(DOIS),
         "citation": CITATION, "path": str(src), "table": str(table_path)},
        {"size": size, "large_images": "centre-cropped", "site_distance_m": site_distance_m,
         "all_touched": all_touched, "units_detected": units, "skipped_images": len(skipped),
         "derived": {"co2_t_per_h": "generation_mw × the fuel's emission factor "
                                    "(plantwatch.physics)"}},
    )  # fmt: skip
    with DatasetWriter(out, info) as writer:
        for observation, plant in tqdm(list(zip(usable, plants, strict=True)), desc="convert",
                                       unit="image", disable=not progress):  # fmt: skip
            if writer.has(observation.obs_id):
                continue
            name = observation.path.name
            generation = float(rows.loc[name, "gen_output"])
            fuel = fuels[name]
            co2 = physics.co2_from_fuel(generation, physics.fuel_index(fuel))
            row = {
                "obs_id": observation.obs_id, "plant_id": plant,
                "datetime": datetime_from_name(observation.path.stem), "fuel_type": fuel,
                "capacity_mw": None,
                "generation_mw": generation if np.isfinite(generation) else None,
                "co2_t_per_h": round(float(co2), 3) if np.isfinite(generation) else None,
                **weather.loc[name].round(3).to_dict(), "positive": int(observation.positive),
                "subset": "/".join(observation.path.relative_to(src / "images").parts[:-2]),
                "source": str(observation.path.relative_to(src)),
            }  # fmt: skip
            write_scene(writer, observation, row, labels, size, all_touched)
        return writer.close(_plant_records(usable, plants, centres, fuels, rows),
                            split_seed=split_seed, progress=progress)  # fmt: skip


def _plant_records(observations: list[NativeObservation], plants: list[str], centres: np.ndarray,
                   fuels: dict[str, str], rows: pd.DataFrame) -> list[dict]:  # fmt: skip
    """One record per plant: the most frequent fuel of its images and its location (the
    table's lat/lon where given, else the mean footprint centre)."""
    frame = pd.DataFrame({"plant_id": plants, "name": [o.path.name for o in observations],
                          "lon": centres[:, 0], "lat": centres[:, 1]})  # fmt: skip
    if {"lat", "lon"} <= set(rows.columns):
        known = rows.loc[frame["name"], ["lon", "lat"]].to_numpy(np.float64)
        given = np.isfinite(known).all(axis=1)
        frame.loc[given, ["lon", "lat"]] = known[given]
    frame["fuel_type"] = frame["name"].map(fuels)
    records = []
    for plant, group in frame.groupby("plant_id", sort=True):
        records.append({"plant_id": plant, "name": plant, "capacity_mw": None,
                        "fuel_type": group["fuel_type"].mode().iat[0],
                        "geometry": Point(group["lon"].mean(), group["lat"].mean())})  # fmt: skip
    return records


class Hanna2021(DatasetSource):
    """Converts the unpacked Hanna et al. dataset in ``src`` on first use (``DataModule``'s
    ``source``); the arguments are those of :func:`convert_hanna2021`."""

    def __init__(
        self,
        src: str,
        table: str | None = None,
        size: int = 120,
        site_distance_m: float = 1000.0,
        all_touched: bool = True,
        split_seed: int = 0,
    ) -> None:
        self.src, self.table, self.size = src, table, size
        self.site_distance_m, self.all_touched, self.split_seed = (
            site_distance_m, all_touched, split_seed,
        )  # fmt: skip

    def write(self, root: Path) -> None:
        convert_hanna2021(self.src, root, self.table, self.size, self.site_distance_m,
                          self.all_touched, self.split_seed)  # fmt: skip
