"""Plant-level answers for plant-level facts: a plant burns one fuel, whatever one image says.

Each overpass gives class probabilities; a plant's are pooled over its overpasses in the
table being read by the mean of their log-probabilities (each image as independent evidence,
the geometric mean of the probabilities renormalised). The pooled fuel is the plant's answer
— reported per plant, and used for CO₂ where no registry gives the fuel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from plantwatch import physics

LOG_FLOOR = 1e-12  # probabilities of 0 (rounded in a CSV) count as this


def pooled_log_probs(plants: Sequence[Any], log_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the plants, sorted [P]; the mean log-probabilities of each plant's rows [P, C]) of
    per-row ``plants`` [N] and ``log_probs`` [N, C]."""
    codes, uniques = pd.factorize(pd.Series(list(plants)), sort=True)
    sums = np.zeros((len(uniques), log_probs.shape[1]))
    np.add.at(sums, codes, log_probs)
    return np.asarray(uniques), sums / np.bincount(codes, minlength=len(uniques))[:, None]


def pooled_fuel_probabilities(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per plant of a prediction table with ``fuel_prob_<fuel>`` columns: ``plant_id``, the
    pooled probability of every fuel (``fuel_prob_<fuel>``, 0–1, summing to 1) and
    ``overpasses``; empty without fuel probabilities."""
    columns = [f"fuel_prob_{name}" for name in physics.FUEL_NAMES]
    if not set(columns) <= set(predictions) or predictions.empty:
        return pd.DataFrame(columns=["plant_id", *columns, "overpasses"])
    probs = predictions[columns].to_numpy(np.float64)
    plants, pooled = pooled_log_probs(predictions["plant_id"].astype(str),
                                      np.log(np.clip(probs, LOG_FLOOR, None)))  # fmt: skip
    normalised = np.exp(pooled - pooled.max(axis=1, keepdims=True))
    normalised /= normalised.sum(axis=1, keepdims=True)
    counts = predictions["plant_id"].astype(str).value_counts()
    table = pd.DataFrame(normalised, columns=columns)
    table.insert(0, "plant_id", plants)
    table["overpasses"] = counts.reindex(plants).to_numpy()
    return table


def plant_fuels(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per plant of a prediction table with ``fuel_prob_<fuel>`` columns: ``plant_id``,
    ``fuel_pooled`` (the fuel of the highest mean log-probability), ``fuel_pooled_prob`` (its
    pooled probability, 0–1) and ``overpasses``; empty without fuel probabilities."""
    pooled = pooled_fuel_probabilities(predictions)
    if pooled.empty:
        return pd.DataFrame(columns=["plant_id", "fuel_pooled", "fuel_pooled_prob", "overpasses"])
    probs = pooled[[f"fuel_prob_{name}" for name in physics.FUEL_NAMES]].to_numpy()
    best = probs.argmax(axis=1)
    return pd.DataFrame({
        "plant_id": pooled["plant_id"],
        "fuel_pooled": [physics.FUEL_NAMES[i] for i in best],
        "fuel_pooled_prob": probs[np.arange(len(best)), best],
        "overpasses": pooled["overpasses"],
    })  # fmt: skip
