"""`MonitoringResults`: everything a report shows, read from the outputs of
``plantwatch aggregate`` (its ``aggregate_<period>.json`` names the predictions, the dataset
and the truth it used) — no new estimate is made here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from plantwatch.data.format import layout
from plantwatch.errors import UserError
from plantwatch.estimates.aggregate import PERIODS
from plantwatch.estimates.plant_facts import plant_places, read_plant_facts, with_plant_fuel
from plantwatch.estimates.report import (
    AGGREGATE_JSON,
    combined_truth,
    read_daily_truth,
    read_predictions,
)
from plantwatch.files.tables import read_csv


@dataclass
class MonitoringResults:
    """The tables of one monitoring run (see the module docstring).

    Attributes:
        estimates: period (``year``/``month``) → `aggregate`'s estimates (MWh, t).
        truth: period → the truth per plant and period (MWh, t), where one was given.
        predictions: one row per overpass (MW, t/h with intervals, fuel probabilities).
        prediction_folders: the folders of the prediction CSVs (``plume/<obs_id>.tif``).
        plants: per plant ``plant_id``, ``name``, ``lon``, ``lat`` (degrees), ``capacity_mw``,
            ``fuel_type`` (the registry's or dataset's; empty where unknown).
        daily: the daily truth (``plant_id``, ``date``, ``generation_mwh``, ``co2_t``).
        observations: the dataset's observation table (image and mask paths), if any.
        dataset: the dataset folder, if any.
        level: nominal coverage of the intervals (0–1).
        method: `aggregate`'s method (``pooled`` or ``mean``).
    """

    estimates: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    predictions: pd.DataFrame
    prediction_folders: list[Path]
    plants: pd.DataFrame
    daily: pd.DataFrame | None
    observations: pd.DataFrame | None
    dataset: Path | None
    level: float
    method: str

    @classmethod
    def read(cls, folder: str | Path) -> MonitoringResults:
        """Read the outputs of ``plantwatch aggregate`` in ``folder`` (one or both periods).

        Raises:
            UserError: ``folder`` holds no `aggregate` output, or a file it names is gone.
        """
        folder = Path(folder)
        records = {p: folder / AGGREGATE_JSON.format(period=p) for p in PERIODS}
        settings = {p: json.loads(r.read_text()) for p, r in records.items() if r.is_file()}
        if not settings:
            raise UserError(f"{folder}: no aggregate_year.json or aggregate_month.json; point "
                            "at the OUT folder of `plantwatch aggregate`")  # fmt: skip
        first = next(iter(settings.values()))
        named = [*first["predictions"], first.get("dataset"), first.get("truth"),
                 first.get("registry")]  # fmt: skip
        missing = [p for p in named if p and not Path(p).exists()]
        if missing:
            raise UserError(f"{folder}/{AGGREGATE_JSON.format(period='*')} names {missing}, "
                            "which are gone; run the report where `aggregate` ran, or run "
                            "`aggregate` again")  # fmt: skip
        dataset = Path(first["dataset"]) if first.get("dataset") else None
        facts = read_plant_facts(dataset, first.get("registry"))
        predictions = with_plant_fuel(read_predictions(first["predictions"]), facts)
        estimates = {p: read_csv(folder / f"estimates_{p}.csv", "an estimate table",
                                 dtype={"plant_id": str, "period": str})
                     for p in settings}  # fmt: skip
        truth = {}
        for period, setting in settings.items():
            table = combined_truth(period, setting.get("truth"),
                                   setting.get("truth_generation") or (),
                                   setting.get("registry"))  # fmt: skip
            if table is not None:
                truth[period] = table.astype({"plant_id": str, "period": str})
        observations = None
        if dataset is not None and (dataset / layout.OBSERVATIONS_CSV).is_file():
            observations = read_csv(dataset / layout.OBSERVATIONS_CSV, "an observation table",
                                    dtype={"obs_id": str, "plant_id": str},
                                    keep_default_na=False)  # fmt: skip
        return cls(
            estimates=estimates, truth=truth, predictions=predictions,
            prediction_folders=[Path(p).parent for p in first["predictions"]],
            plants=plant_table(predictions, facts, plant_places(dataset, first.get("registry"))),
            daily=read_daily_truth(first.get("truth")), observations=observations,
            dataset=dataset, level=float(first["level"]), method=first["method"],
        )  # fmt: skip


def plant_table(
    predictions: pd.DataFrame,
    facts: pd.DataFrame | None,
    places: pd.DataFrame | None,
) -> pd.DataFrame:
    """One row per predicted plant: ``plant_id``, ``name``, ``lon``, ``lat``, ``capacity_mw``
    and ``fuel_type`` (empty where unknown)."""
    plants = pd.DataFrame({"plant_id": sorted(predictions["plant_id"].astype(str).unique())})
    if places is not None:
        plants = plants.merge(places, on="plant_id", how="left")
    elif {"lon", "lat"} <= set(predictions):
        plants = plants.merge(predictions.groupby("plant_id")[["lon", "lat"]].mean(),
                              on="plant_id", how="left")  # fmt: skip
    if facts is not None:
        plants = plants.merge(facts, on="plant_id", how="left")
    elif "capacity_mw" in predictions:
        plants = plants.merge(predictions.groupby("plant_id")["capacity_mw"].first(),
                              on="plant_id", how="left")  # fmt: skip
    for column, empty in (("name", None), ("lon", float("nan")), ("lat", float("nan")),
                          ("capacity_mw", float("nan")), ("fuel_type", "")):  # fmt: skip
        if column not in plants:
            plants[column] = plants["plant_id"] if column == "name" else empty
    plants["name"] = plants["name"].fillna(plants["plant_id"])
    plants["fuel_type"] = plants["fuel_type"].fillna("")
    return plants
