"""Write a synthetic power-plant observation dataset in the canonical format.

Plants get a fuel (balanced over the classes), a capacity (log-uniform in the fuel's range),
a place in Europe, a plant-specific efficiency spread and a daily load-factor series over
two years; each observation is a Sentinel-2 overpass on one of those days. Generation is
capacity × load factor; CO₂ = generation × the fuel's emission factor × the plant's spread
(a less efficient plant burns more fuel per MWh). The plants' daily generation and CO₂ over
the whole period are written too (``truth_daily.csv``), so estimates aggregated from the
observed days can be scored against what the plants really emitted. The overpass days are
drawn uniformly (``per_plant`` of them) or as Sentinel-2 sees a plant (``sentinel2``: every
``revisit_days`` days, clear with a chance that depends on season and latitude;
``data/synthetic/revisits.py``). Everything is drawn from
``numpy.random.default_rng([seed, …])`` streams keyed by plant and observation, so the same
seed gives the same dataset — also when a killed run is resumed: the dataset is written
through the canonical writer, which skips the observations a killed run finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer
from rasterio.transform import Affine
from shapely.geometry import Point
from tqdm.auto import tqdm

import plantwatch
from plantwatch import physics
from plantwatch.bands import product
from plantwatch.data.format import layout
from plantwatch.data.format.writer import DEFAULT_LABEL_FRACTIONS, DatasetWriter
from plantwatch.data.synthetic.conditions import load_factor_series, sample_weather
from plantwatch.data.synthetic.landscape import Landscape, make_landscape
from plantwatch.data.synthetic.revisits import clear_overpasses
from plantwatch.data.synthetic.scene import Acquisition, render_scene
from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic

FIRST_DAY = datetime(2021, 1, 1, tzinfo=timezone.utc)
PERIOD_DAYS = 730
OVERPASSES = ("uniform", "sentinel2")
EFFICIENCY_SPREAD = 0.06  # plant-specific CO₂/MWh factor lies in [1 - s, 1 + s]


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


def daily_truth(plant: SyntheticPlant, load: np.ndarray) -> pd.DataFrame:
    """What the plant really generated and emitted on every day of the period (it runs at
    its day's load factor all day): ``plant_id``, ``date``, ``generation_mwh`` (MWh),
    ``co2_t`` (t)."""
    generation = plant.capacity_mw * load * 24.0
    return pd.DataFrame(
        {
            "plant_id": plant.plant_id,
            "date": [f"{FIRST_DAY + timedelta(days=d):%Y-%m-%d}" for d in range(len(load))],
            "generation_mwh": np.round(generation, 1),
            "co2_t": np.round(generation * plant.fuel.ef_t_per_mwh * plant.spread, 1),
        }
    )


def observation_time(plant: SyntheticPlant, day: int) -> datetime:
    """UTC time of the overpass on ``day`` (days after ``FIRST_DAY``), ~10:30 local solar."""
    return FIRST_DAY + timedelta(days=day, hours=10.5 - plant.lon / 15)


def _observe(
    plant: SyntheticPlant,
    landscape: Landscape,
    load_factor: float,
    when: datetime,
    product_name: str,
    rng: np.random.Generator,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """One overpass: (observations.csv row, image DN uint16 [C, H, W], mask uint8 [H, W])."""
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
    row = {
        "obs_id": f"{plant.plant_id}_{when:%Y%m%d}",
        "plant_id": plant.plant_id,
        "datetime": f"{when:%Y-%m-%dT%H:%M:%SZ}",
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
    load_spread: float = 0.0,
    overpasses: str = "uniform",
    revisit_days: int = 5,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    label_fractions: Sequence[float] = DEFAULT_LABEL_FRACTIONS,
    progress: bool = True,
) -> Path:
    """Generate ``plants`` × ``per_plant`` observations under ``out``; returns ``out``.

    A killed run leaves a partial folder; the same call resumes it and gives the dataset an
    uninterrupted run would have given.

    Args:
        out: dataset root; must not hold a complete dataset.
        plants: number of plants (at least 3 for train/val/test splits).
        per_plant: observations (overpass days) per plant, at most 730, with ``uniform``
            overpasses; ``sentinel2`` overpasses leave the number to the sky.
        size: image height and width in 10 m pixels.
        product_name: ``S2L2A`` (12 bands) or ``S2L1C`` (13 bands, top of atmosphere).
        mask_fraction: share of observations whose plume mask is kept (0–1); real data
            lacks most masks, so the rest are written without one.
        seed: random seed of scenes and of the default split; the same seed gives an
            identical dataset.
        load_spread: standard deviation of each plant's offset from its fuel's long-run
            load factor (clipped to ±2 std); 0: every plant of a fuel shares it (the
            datasets of earlier versions). Real fleets differ: the 17 JRC-PPDB-OPEN plants'
            annual capacity factors 2015–18 have an interquartile range of 0.46–0.76.
        overpasses: ``uniform`` (``per_plant`` days drawn uniformly, the datasets of earlier
            versions) or ``sentinel2`` (every ``revisit_days`` days, clear by the cloud
            climate: ~20–30 a plant-year in Europe).
        revisit_days: days between overpasses with ``sentinel2``.
        val_fraction: approximate share of observations (by plant) for validation.
        test_fraction: approximate share of observations (by plant) for testing.
        label_fractions: nested subsets of the training split written as split files.
        progress: show a progress bar.
    """
    if product_name not in ("S2L2A", "S2L1C"):
        raise UserError(f"synthetic product must be S2L2A or S2L1C, got {product_name!r}")
    if plants < 3:
        raise UserError(f"plants: {plants}; at least 3 plants are needed for train, validation "
                        "and test splits that share no plant")  # fmt: skip
    if not 1 <= per_plant <= PERIOD_DAYS:
        raise UserError(f"per_plant must be in 1..{PERIOD_DAYS}, got {per_plant}")
    if overpasses not in OVERPASSES:
        raise UserError(f"overpasses must be one of {OVERPASSES}, got {overpasses!r}")
    if revisit_days < 1:
        raise UserError(f"revisit_days must be at least 1, got {revisit_days}")
    if not 0.0 <= mask_fraction <= 1.0:
        raise UserError(f"mask_fraction must be in [0, 1], got {mask_fraction}")
    if size < 16:
        raise UserError(f"size: {size} px; scenes need at least 16 × 16 pixels")
    info = {
        "format": layout.FORMAT_NAME,
        "format_version": layout.FORMAT_VERSION,
        "source": "synthetic",
        "generator": {
            "name": "plantwatch.data.synthetic.power_plants",
            "version": plantwatch.__version__,
            "seed": seed, "plants": plants, "per_plant": per_plant, "size": size,
            "mask_fraction": mask_fraction, "load_spread": load_spread,
            # recorded only when not the default, so earlier datasets stay identical
            **({"overpasses": overpasses, "revisit_days": revisit_days}
               if overpasses != "uniform" else {}),
        },
        "product": product_name,
        "bands": list(product(product_name).bands),
        "reflectance_scale": layout.REFLECTANCE_SCALE,
        "pixel_size_m": layout.PIXEL_SIZE_M,
        "boa_add_offset_dn": 0,
    }  # fmt: skip
    with DatasetWriter(out, info) as writer:

        plant_rng = np.random.default_rng([seed, 0])
        fuels = plant_rng.permutation(
            [physics.FUEL_NAMES[i % physics.NUM_FUELS] for i in range(plants)]
        )
        drawn = [_draw_plant(plant_rng, p, fuel_name) for p, fuel_name in enumerate(fuels)]
        seen = None
        if overpasses == "sentinel2":  # their own streams, drawn before any scene
            seen = [clear_overpasses(np.random.default_rng([seed, 5, p]), plant.lat, PERIOD_DAYS,
                                     revisit_days=revisit_days) for p, plant in enumerate(drawn)]
        total = plants * per_plant if seen is None else sum(map(len, seen))
        masked = np.random.default_rng([seed, 3]).permutation(total)[: round(mask_fraction * total)]
        keep_mask = set(masked.tolist())

        plant_rows, truth, first = [], [], 0
        bar = tqdm(total=total, desc="synthesising scenes", unit="scene", disable=not progress)
        for p, plant in enumerate(drawn):
            plant_rows.append(plant.row())
            site_rng = np.random.default_rng([seed, 1, p])
            landscape = make_landscape(site_rng, size, plant.fuel.name, plant.capacity_mw)
            offset_rng = np.random.default_rng([seed, 4, p])  # its own stream: 0 changes nothing
            offset = float(np.clip(offset_rng.normal(0.0, load_spread), -2 * load_spread,
                                   2 * load_spread)) if load_spread > 0 else 0.0  # fmt: skip
            load = load_factor_series(site_rng, plant.fuel.name, PERIOD_DAYS, base_offset=offset)
            truth.append(daily_truth(plant, load))
            days = (np.sort(site_rng.choice(PERIOD_DAYS, per_plant, replace=False))
                    if seen is None else seen[p])  # fmt: skip
            crs, transform = plant.georeference(landscape.site_center)
            for o, day in enumerate(days):
                when = observation_time(plant, int(day))
                if not writer.has(f"{plant.plant_id}_{when:%Y%m%d}"):
                    row, dn, mask = _observe(
                        plant, landscape, float(load[day]), when, product_name,
                        np.random.default_rng([seed, 2, p, o]),
                    )  # fmt: skip
                    keep = first + o in keep_mask
                    writer.add(row, dn, crs, transform, mask if keep else None)
                bar.update()
            first += len(days)
        bar.close()
        truth_csv = pd.concat(truth).to_csv(index=False)
        write_text_atomic(writer.root / layout.TRUTH_DAILY_CSV, truth_csv)
        return writer.close(plant_rows, seed, val_fraction, test_fraction, label_fractions,
                            progress)  # fmt: skip
