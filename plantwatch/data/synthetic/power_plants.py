"""Write a synthetic power-plant observation dataset in the canonical format.

Plants get a fuel (balanced over the classes), a capacity (log-uniform in the fuel's range),
a place in Europe, a plant-specific efficiency spread and a daily load-factor series over
two years; each observation is a Sentinel-2 overpass on one of those days. Generation is
capacity × load factor; CO₂ = generation × the fuel's emission factor × the plant's spread
(a less efficient plant burns more fuel per MWh). Everything is drawn from
``numpy.random.default_rng([seed, …])`` streams keyed by plant and observation, so the same
seed gives the same dataset.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from rasterio.transform import Affine
from shapely.geometry import Point
from tqdm.auto import tqdm

import plantwatch
from plantwatch import physics
from plantwatch.bands import product
from plantwatch.data import layout
from plantwatch.data.geotiff import write_geotiff
from plantwatch.data.splits import (
    fraction_split_name,
    nested_label_fractions,
    split_by_plant,
    write_splits,
)
from plantwatch.data.synthetic.conditions import (
    WEATHER_COLUMNS,
    load_factor_series,
    sample_weather,
)
from plantwatch.data.synthetic.landscape import Landscape, make_landscape
from plantwatch.data.synthetic.scene import Acquisition, render_scene

FIRST_DAY = datetime(2021, 1, 1, tzinfo=timezone.utc)
PERIOD_DAYS = 730
EFFICIENCY_SPREAD = 0.06  # plant-specific CO₂/MWh factor lies in [1 - s, 1 + s]
DEFAULT_LABEL_FRACTIONS: tuple[float, ...] = (0.01, 0.1, 0.5)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone containing (lon, lat)."""
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


@dataclass(frozen=True)
class SyntheticPlant:
    """A synthetic plant.

    Attributes:
        plant_id: identifier, ``P0000`` …
        fuel: its fuel class.
        capacity_mw: installed capacity, MW.
        lon: longitude, degrees east.
        lat: latitude, degrees north.
        spread: plant-specific factor on the fuel's CO₂ per MWh (1/relative efficiency).
    """

    plant_id: str
    fuel: physics.Fuel
    capacity_mw: float
    lon: float
    lat: float
    spread: float

    def row(self) -> dict:
        """The plant's feature for ``plants.geojson``."""
        return {
            "plant_id": self.plant_id,
            "name": f"Synthetic {self.fuel.name} plant {self.plant_id}",
            "fuel_type": self.fuel.name,
            "capacity_mw": self.capacity_mw,
            "geometry": Point(self.lon, self.lat),
        }

    def georeference(self, site_center: tuple[float, float]) -> tuple[str, Affine]:
        """UTM CRS and transform placing the site centre pixel on the plant's coordinates."""
        epsg = utm_epsg(self.lon, self.lat)
        transformer = Transformer.from_crs(4326, epsg, always_xy=True)
        easting, northing = transformer.transform(self.lon, self.lat)
        pixel = layout.PIXEL_SIZE_M
        west = easting - (site_center[1] + 0.5) * pixel
        north = northing + (site_center[0] + 0.5) * pixel
        return f"EPSG:{epsg}", Affine.translation(west, north) @ Affine.scale(pixel, -pixel)


def _draw_plant(rng: np.random.Generator, index: int, fuel_name: str) -> SyntheticPlant:
    fuel = physics.FUELS[physics.fuel_index(fuel_name)]
    low, high = np.log(fuel.capacity_range_mw)
    spread = np.clip(
        rng.normal(1.0, EFFICIENCY_SPREAD / 2), 1 - EFFICIENCY_SPREAD, 1 + EFFICIENCY_SPREAD
    )
    return SyntheticPlant(
        plant_id=f"P{index:04d}",
        fuel=fuel,
        capacity_mw=float(round(np.exp(rng.uniform(low, high)))),
        lon=float(rng.uniform(4.0, 24.0)),
        lat=float(rng.uniform(45.0, 56.0)),
        spread=float(spread),
    )


def _observe(
    plant: SyntheticPlant,
    landscape: Landscape,
    load_factor: float,
    day: int,
    product_name: str,
    rng: np.random.Generator,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """One overpass: (observations.csv row, image DN uint16 [C, H, W], mask uint8 [H, W])."""
    when = FIRST_DAY + timedelta(days=day, hours=10.5 - plant.lon / 15)  # ~10:30 local solar
    day_of_year = when.timetuple().tm_yday
    weather = sample_weather(rng, plant.lat, day_of_year)
    generation = round(plant.capacity_mw * load_factor, 1)
    acquisition = Acquisition(
        day_of_year=day_of_year,
        latitude=plant.lat,
        weather=weather,
        generation_mw=generation,
        efficiency=plant.fuel.efficiency / plant.spread,
        cloud_cover=0.0 if rng.random() < 0.65 else float(rng.uniform(0.05, 0.4)),
        aerosol_optical_depth=float(rng.uniform(0.02, 0.2)),
    )
    scene = render_scene(landscape, acquisition, product_name, rng)
    obs_id = f"{plant.plant_id}_{when:%Y%m%d}"
    row = {
        "obs_id": obs_id,
        "plant_id": plant.plant_id,
        "datetime": f"{when:%Y-%m-%dT%H:%M:%SZ}",
        "image": f"{layout.IMAGES_DIR}/{obs_id}.tif",
        "mask": "",
        "fuel_type": plant.fuel.name,
        "capacity_mw": plant.capacity_mw,
        "generation_mw": generation,
        "co2_t_per_h": round(generation * plant.fuel.ef_t_per_mwh * plant.spread, 1),
        **weather.as_row(),
    }
    dn = np.round(scene.reflectance * layout.REFLECTANCE_SCALE).astype(np.uint16)
    return row, dn, scene.mask


def synthesize_power_plants(
    out: str | Path,
    plants: int = 24,
    per_plant: int = 10,
    size: int = 120,
    product_name: str = "S2L2A",
    mask_fraction: float = 1.0,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    label_fractions: Sequence[float] = DEFAULT_LABEL_FRACTIONS,
    progress: bool = True,
) -> Path:
    """Generate ``plants`` × ``per_plant`` observations under ``out``; returns ``out``.

    Args:
        out: dataset root; must not hold a dataset already.
        plants: number of plants (at least 3 for train/val/test splits).
        per_plant: observations (overpass days) per plant, at most 730.
        size: image height and width in 10 m pixels.
        product_name: ``S2L2A`` (12 bands) or ``S2L1C`` (13 bands, top of atmosphere).
        mask_fraction: share of observations whose plume mask is kept (0–1); real data
            lacks most masks, so the rest are written without one.
        seed: random seed; the same seed gives an identical dataset.
        val_fraction: approximate share of observations (by plant) for validation.
        test_fraction: approximate share of observations (by plant) for testing.
        label_fractions: nested subsets of the training split written as split files.
        progress: show a progress bar.
    """
    target = Path(out)
    if (target / layout.DATASET_JSON).exists():
        raise FileExistsError(
            f"{target / layout.DATASET_JSON} exists; remove {target} or pick another"
        )
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty and holds no dataset; pick an empty folder")
    if product_name not in ("S2L2A", "S2L1C"):
        raise ValueError(f"synthetic product must be S2L2A or S2L1C, got {product_name!r}")
    if not 1 <= per_plant <= PERIOD_DAYS:
        raise ValueError(f"per_plant must be in 1..{PERIOD_DAYS}, got {per_plant}")
    if not 0.0 <= mask_fraction <= 1.0:
        raise ValueError(f"mask_fraction must be in [0, 1], got {mask_fraction}")
    bands = product(product_name).bands
    # Written into a sibling folder and renamed when complete: an interrupted run leaves no
    # half dataset behind at ``out``.
    root = target.with_name(f".{target.name}.partial")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)

    plant_rng = np.random.default_rng([seed, 0])
    fuels = plant_rng.permutation(
        [physics.FUEL_NAMES[i % physics.NUM_FUELS] for i in range(plants)]
    )
    total = plants * per_plant
    masked = np.random.default_rng([seed, 3]).permutation(total)[: round(mask_fraction * total)]
    keep_mask = set(masked.tolist())

    plant_rows, obs_rows = [], []
    band_sums = np.zeros((total, 2, len(bands)))  # per observation: Σ DN and Σ DN² per band
    bar = tqdm(total=total, desc="synthesising scenes", unit="scene", disable=not progress)
    for p, fuel_name in enumerate(fuels):
        plant = _draw_plant(plant_rng, p, fuel_name)
        plant_rows.append(plant.row())
        site_rng = np.random.default_rng([seed, 1, p])
        landscape = make_landscape(site_rng, size, plant.fuel.name, plant.capacity_mw)
        load = load_factor_series(site_rng, plant.fuel.name, PERIOD_DAYS)
        days = np.sort(site_rng.choice(PERIOD_DAYS, per_plant, replace=False))
        crs, transform = plant.georeference(landscape.site_center)
        for o, day in enumerate(days):
            index = p * per_plant + o
            row, dn, mask = _observe(
                plant, landscape, float(load[day]), int(day), product_name,
                np.random.default_rng([seed, 2, p, o]),
            )  # fmt: skip
            band_sums[index] = dn.sum((1, 2)), (dn.astype(np.float64) ** 2).sum((1, 2))
            write_geotiff(root / row["image"], dn, crs, transform)
            if index in keep_mask:
                row["mask"] = f"{layout.MASKS_DIR}/{row['obs_id']}.tif"
                write_geotiff(root / row["mask"], mask, crs, transform)
            obs_rows.append(row)
            bar.update()
    bar.close()

    observations = pd.DataFrame(obs_rows)
    observations.to_csv(root / layout.OBSERVATIONS_CSV, index=False)
    gpd.GeoDataFrame(plant_rows, crs="EPSG:4326").to_file(
        root / layout.PLANTS_GEOJSON, driver="GeoJSON"
    )

    splits = split_by_plant(observations, val_fraction, test_fraction, seed)
    train = observations.set_index("obs_id").loc[splits["train"]]
    for fraction, ids in nested_label_fractions(
        train.index, train["fuel_type"], label_fractions, seed
    ).items():
        splits[fraction_split_name(fraction)] = ids
    write_splits(root, splits)

    is_train = observations["obs_id"].isin(splits["train"]).to_numpy()
    pixels = is_train.sum() * size * size
    mean = band_sums[is_train, 0].sum(0) / pixels
    std = np.sqrt(np.maximum(band_sums[is_train, 1].sum(0) / pixels - mean**2, 0.0))
    description = {
        "format": layout.FORMAT_NAME,
        "format_version": layout.FORMAT_VERSION,
        "source": "synthetic",
        "generator": {
            "name": "plantwatch.data.synthetic.power_plants",
            "version": plantwatch.__version__,
            "seed": seed, "plants": plants, "per_plant": per_plant, "size": size,
            "mask_fraction": mask_fraction, "val_fraction": val_fraction,
            "test_fraction": test_fraction, "label_fractions": list(label_fractions),
        },
        "product": product_name,
        "bands": list(bands),
        "reflectance_scale": layout.REFLECTANCE_SCALE,
        "pixel_size_m": layout.PIXEL_SIZE_M,
        "boa_add_offset_dn": 0,
        "band_stats": {"split": "train", "mean": mean.round(2).tolist(),
                       "std": std.round(2).tolist()},
        "aux_stats": {
            "split": "train",
            "columns": list(WEATHER_COLUMNS),
            "mean": train[list(WEATHER_COLUMNS)].mean().round(4).tolist(),
            "std": train[list(WEATHER_COLUMNS)].std().round(4).tolist(),
        },
    }  # fmt: skip
    (root / layout.DATASET_JSON).write_text(json.dumps(description, indent=2) + "\n")
    if target.exists():
        target.rmdir()
    root.rename(target)
    return target
