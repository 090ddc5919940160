"""Plant-period estimates of a run's test plants, scored against what the plants really
generated and emitted: the pooled estimator, the simple mean, the naive reference and the
true overpass values, per year and per month, and annual RMSE against the number of clear
overpasses a plant-year.

Each estimate is told each plant's capacity and fuel (as a registry would): CO₂ is the
predicted power × the fuel's emission factor. The fleet prior comes from the training
split's labels, the model's errors and the interval scales from the validation plants'
predictions and truth; the test plants are scored only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plantwatch.estimates.aggregate import aggregate_predictions
from plantwatch.estimates.period_intervals import interval_scales, with_intervals
from plantwatch.estimates.plant_facts import (
    fleet_load_factors,
    labelled_observations,
    read_plant_facts,
    true_overpass_values,
    with_plant_fuel,
)
from plantwatch.estimates.pooled import FleetPrior, ObservationErrors, pooled_estimates
from plantwatch.estimates.truth import naive_reference, period_metrics, score

POOLED, MEAN = "plantwatch pooled", "plantwatch simple mean"
NAIVE = "capacity × mean load factor"
TRUE_MEAN = "true overpass values (sampling only)"
# Clear overpasses a plant-year kept for the curve (``all``: every one).
OVERPASS_COUNTS: tuple[int | str, ...] = (2, 4, 8, 16, "all")


@dataclass(frozen=True)
class RunEstimates:
    """What the validation and training data of a run fix before the test plants are seen.

    Attributes:
        plants: ``plant_id``, ``capacity_mw``, ``fuel_type`` of every plant.
        observations: the dataset's labelled overpasses (``load_factor`` added).
        prior: the fleet prior of the training plants.
        errors: the model's errors on the validation plants.
        load_factor: mean load factor by fuel over the training split (the naive reference).
    """

    plants: pd.DataFrame
    observations: pd.DataFrame
    prior: FleetPrior
    errors: ObservationErrors
    load_factor: dict[str, float]

    @classmethod
    def learn(cls, dataset: str | Path, validation: pd.DataFrame) -> RunEstimates:
        """From a canonical dataset and the predictions of its validation split."""
        observations = labelled_observations(dataset)
        train = labelled_observations(dataset, "train")
        return cls(read_plant_facts(dataset), observations, FleetPrior.fit(train),
                   ObservationErrors.fit(validation, observations),
                   fleet_load_factors(train))  # fmt: skip

    def pooled(self, predictions: pd.DataFrame, period: str) -> pd.DataFrame:
        """Pooled estimates of ``predictions`` (without intervals)."""
        return pooled_estimates(predictions, self.plants, self.prior, self.errors, period)

    def calibrated(
        self,
        predictions: pd.DataFrame,
        validation: pd.DataFrame,
        truth: pd.DataFrame | None,
        period: str,
        level: float,
    ) -> pd.DataFrame:
        """Pooled estimates of ``predictions`` with ``level`` intervals calibrated on the
        ``validation`` predictions' plant-periods (`period_intervals.py`; ``truth`` None or
        without them: the normal quantile)."""
        scales = interval_scales(self.pooled(validation, period), truth, level)
        return with_intervals(self.pooled(predictions, period), scales)


def score_run(
    dataset: str | Path,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    truth: dict[str, pd.DataFrame],
    level: float = 0.9,
    seed: int = 0,
) -> tuple[dict[str, dict[str, float]], pd.DataFrame]:
    """Scores of every estimate of the test plants, by estimate name, and the overpass curve.

    Args:
        dataset: the canonical dataset (plants, labels, training split).
        validation: predictions of the validation split (``plantwatch predict``).
        test: predictions of the test split.
        truth: truth per period (``year``, ``month``): ``plant_id``, ``period``,
            ``generation_mwh``, ``co2_t`` (validation and test plants).
        level: nominal coverage of the intervals.
        seed: seed of the bootstrap and of the overpass subsamples.

    Returns:
        (metrics, curve): metrics such as ``power_annual_rmse_twh`` per estimate; curve rows
        ``overpasses`` (the count kept, or ``all``), ``mean_overpasses``, ``estimate``,
        ``power_annual_rmse_twh``, ``co2_annual_rmse_mt``.
    """
    run = RunEstimates.learn(dataset, validation)
    validation, test = (with_plant_fuel(p, run.plants) for p in (validation, test))
    metrics: dict[str, dict[str, float]] = {}
    for period, table in truth.items():
        pooled = run.calibrated(test, validation, table, period, level)
        for name, frame in _estimates(run, test, pooled, period, level, seed).items():
            found = period_metrics(score(frame, table, name), period)
            metrics.setdefault(name, {}).update(found.get(name, {}))
    return metrics, overpass_curve(run, test, truth["year"], level, seed)


def _estimates(
    run: RunEstimates,
    predictions: pd.DataFrame,
    pooled: pd.DataFrame,
    period: str,
    level: float,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """Every estimate of the plant-periods of ``predictions``, beside their ``pooled`` ones
    (which set the plant-periods of the naive reference)."""
    true_values = with_plant_fuel(true_overpass_values(run.observations, predictions), run.plants)
    return {
        POOLED: pooled,
        MEAN: aggregate_predictions(predictions, period, level, seed=seed),
        NAIVE: naive_reference(run.plants, pooled, run.load_factor),
        TRUE_MEAN: aggregate_predictions(true_values, period, level, seed=seed),
    }


def overpass_curve(
    run: RunEstimates, test: pd.DataFrame, truth: pd.DataFrame, level: float, seed: int
) -> pd.DataFrame:
    """Annual RMSE of each estimate when each test plant-year keeps at most k of its clear
    overpasses (a random subset per k, the same for every estimate)."""
    rng = np.random.default_rng(seed)
    test = test.assign(year=pd.to_datetime(test["datetime"], utc=True).dt.year)
    order = rng.permutation(len(test))  # a random rank within each plant-year
    rank = test.iloc[order].groupby(["plant_id", "year"]).cumcount().sort_index()
    rows = []
    for k in OVERPASS_COUNTS:
        keep = test if k == "all" else test[rank.reindex(test.index) < k]
        mean_count = float(keep.groupby(["plant_id", "year"]).size().mean())
        kept = keep.drop(columns="year")
        for name, frame in _estimates(run, kept, run.pooled(kept, "year"), "year", level,
                                      seed).items():  # fmt: skip
            scored = period_metrics(score(frame, truth, name)).get(name, {})
            rows.append({"overpasses": str(k), "mean_overpasses": mean_count, "estimate": name,
                         **{m: scored.get(m, np.nan)
                            for m in ("power_annual_rmse_twh", "co2_annual_rmse_mt")}})  # fmt: skip
    return pd.DataFrame(rows)

