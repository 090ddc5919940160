"""What a monitoring study knows of its plants without any image: capacity and fuel from a
registry (JRC-PPDB-OPEN, GEM, WRI) or a dataset's ``plants.geojson``, and the training
plants' labelled overpasses. Known facts replace the model's guesses where they exist:
CO₂ is the predicted power × the known fuel's emission factor, and the predicted fuel,
pooled over the plant's overpasses, is kept as a check (`fuel_check`); where no fuel is
known, the pooled one gives the CO₂."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from plantwatch import physics
from plantwatch.data.format import layout
from plantwatch.data.format.splits import read_split
from plantwatch.estimates.plant_fuel import plant_fuels
from plantwatch.files.tables import read_csv
from plantwatch.sources.registry import PlantRegistry

FACT_COLUMNS = ["plant_id", "capacity_mw", "fuel_type"]


def read_plant_facts(
    dataset: str | Path | None = None, registry: str | Path | None = None
) -> pd.DataFrame | None:
    """``plant_id``, ``capacity_mw`` (MW) and ``fuel_type`` (a plantwatch fuel class) of a
    registry, else of a canonical dataset's ``plants.geojson``; None without either."""
    if registry:
        plants = pd.DataFrame(PlantRegistry.read(registry).plants)
    elif dataset:
        plants = pd.DataFrame(gpd.read_file(Path(dataset) / layout.PLANTS_GEOJSON))
    else:
        return None
    return plants.astype({"plant_id": str})[FACT_COLUMNS].reset_index(drop=True)


def plant_places(
    dataset: str | Path | None = None, registry: str | Path | None = None
) -> pd.DataFrame | None:
    """``plant_id``, ``name`` and the location (``lon``, ``lat``: degrees, WGS 84) of the
    plants of a registry, else of a canonical dataset's ``plants.geojson``."""
    if registry:
        plants = PlantRegistry.read(registry).plants
    elif dataset:
        plants = gpd.read_file(Path(dataset) / layout.PLANTS_GEOJSON).to_crs("EPSG:4326")
    else:
        return None
    names = plants["name"] if "name" in plants else plants["plant_id"]
    return pd.DataFrame({"plant_id": plants["plant_id"].astype(str), "name": names.astype(str),
                         "lon": plants.geometry.x, "lat": plants.geometry.y})  # fmt: skip


def labelled_observations(dataset: str | Path, split: str | None = None) -> pd.DataFrame:
    """The labelled overpasses of a canonical dataset (of one split, or all):
    ``observations.csv`` with ``load_factor`` = generation / capacity (0–1)."""
    root = Path(dataset)
    table = read_csv(root / layout.OBSERVATIONS_CSV, "an observation table",
                     dtype={"obs_id": str, "plant_id": str})  # fmt: skip
    if split is not None:
        table = table[table["obs_id"].isin(set(read_split(root, split)))]
    return table.assign(load_factor=table["generation_mw"] / table["capacity_mw"])


def true_overpass_values(observations: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """The true MW and t/h of the predicted overpasses (labelled ``observations`` of
    `labelled_observations`), as a prediction table: what a perfect per-overpass model
    would have said."""
    table = observations[observations["obs_id"].isin(set(predictions["obs_id"]))]
    return table.rename(columns={"generation_mw": "power_mw"})[
        ["obs_id", "plant_id", "datetime", "capacity_mw", "power_mw", "co2_t_per_h"]
    ].dropna(subset=["power_mw"])


def with_plant_fuel(predictions: pd.DataFrame, plants: pd.DataFrame | None) -> pd.DataFrame:
    """Predictions whose ``co2_t_per_h`` (and its bounds) is the predicted power × the
    emission factor of the plant's fuel: the known one (``plants``: a registry or the
    dataset's plants), else the fuel pooled over the plant's predicted overpasses
    (`plant_fuel.plant_fuels`, where the table has fuel probabilities); the model's own CO₂
    where neither exists."""
    plant_ids = predictions["plant_id"].astype(str)
    pooled = plant_fuels(predictions).set_index("plant_id")["fuel_pooled"]
    fuel = plant_ids.map(pooled)
    if plants is not None:
        known = plant_ids.map(plants.set_index("plant_id")["fuel_type"])
        fuel = known.where(known.notna() & (known != ""), fuel)
    given = fuel.notna() & (fuel != "")
    factor = fuel[given].map(lambda f: physics.FUELS[physics.fuel_index(f)].ef_t_per_mwh)
    out = predictions.copy()
    for end in ("", "_low", "_high"):
        if f"power_mw{end}" in out:
            if f"co2_t_per_h{end}" not in out:
                out[f"co2_t_per_h{end}"] = np.nan
            out.loc[given, f"co2_t_per_h{end}"] = out.loc[given, f"power_mw{end}"] * factor
    return out


def fuel_check(predictions: pd.DataFrame, plants: pd.DataFrame) -> pd.DataFrame:
    """Per plant with a known fuel and fuel predictions: ``fuel_type`` (known),
    ``fuel_predicted`` (pooled over its overpasses, `plant_fuel.plant_fuels`),
    ``fuel_predicted_prob`` (its pooled probability), ``agreement`` (share of its overpasses
    whose own prediction is the known fuel) and ``disagrees`` (the pooled fuel is another)."""
    columns = ["plant_id", "fuel_type", "fuel_predicted", "fuel_predicted_prob", "agreement",
               "disagrees"]  # fmt: skip
    pooled = plant_fuels(predictions)
    if "fuel_pred" not in predictions or pooled.empty:
        return pd.DataFrame(columns=columns)
    frame = predictions.astype({"plant_id": str}).merge(plants, on="plant_id")
    frame = frame.dropna(subset=["fuel_type", "fuel_pred"])
    frame = frame[frame["fuel_type"] != ""]
    agreement = (frame["fuel_pred"] == frame["fuel_type"]).groupby(frame["plant_id"]).mean()
    table = pooled.merge(frame.drop_duplicates("plant_id")[["plant_id", "fuel_type"]],
                         on="plant_id")  # fmt: skip
    return pd.DataFrame({
        "plant_id": table["plant_id"], "fuel_type": table["fuel_type"],
        "fuel_predicted": table["fuel_pooled"], "fuel_predicted_prob": table["fuel_pooled_prob"],
        "agreement": table["plant_id"].map(agreement).to_numpy(np.float64),
        "disagrees": table["fuel_pooled"] != table["fuel_type"],
    }, columns=columns)  # fmt: skip


def fleet_load_factors(observations: pd.DataFrame) -> dict[str, float]:
    """Mean load factor (0–1) of each fuel over labelled overpasses (`labelled_observations`)."""
    return observations.groupby("fuel_type")["load_factor"].mean().to_dict()


def training_load_factors(dataset: str | Path) -> dict[str, float]:
    """Mean load factor (0–1) of each fuel over the training split's labelled overpasses."""
    return fleet_load_factors(labelled_observations(dataset, "train"))
