"""Outputs of `plantwatch predict` for a synthetic dataset without a model: each overpass's
true MW and t/h, scaled by a per-plant error, with ±30 % intervals, fuel probabilities that
favour the true fuel, and the true plume masks as predicted ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from plantwatch import physics


def fake_predictions(dataset: Path, out: Path, seed: int = 0) -> Path:
    """Write ``out/predictions.csv`` and ``out/plume/<obs_id>.tif``; returns the CSV."""
    rng = np.random.default_rng(seed)
    observations = pd.read_csv(dataset / "observations.csv", dtype={"obs_id": str,
                                                                    "plant_id": str},
                               keep_default_na=False)  # fmt: skip
    plants = sorted(observations["plant_id"].unique())
    bias = dict(zip(plants, rng.uniform(0.8, 1.2, len(plants)), strict=True))
    scale = observations["plant_id"].map(bias)
    table = observations[["obs_id", "plant_id", "datetime", "capacity_mw"]].copy()
    for column, source in (("power_mw", "generation_mw"), ("co2_t_per_h", "co2_t_per_h")):
        table[column] = observations[source].astype(float) * scale
        table[f"{column}_low"] = table[column] * 0.7
        table[f"{column}_high"] = table[column] * 1.3
    for name in physics.FUEL_NAMES:
        table[f"fuel_prob_{name}"] = np.where(observations["fuel_type"] == name, 0.7,
                                              0.3 / (len(physics.FUEL_NAMES) - 1))  # fmt: skip
    table["fuel_pred"] = observations["fuel_type"]
    (out / "plume").mkdir(parents=True, exist_ok=True)
    for obs, mask in zip(observations["obs_id"], observations["mask"], strict=True):
        if mask:
            shutil.copy(dataset / mask, out / "plume" / f"{obs}.tif")
    table.to_csv(out / "predictions.csv", index=False)
    return out / "predictions.csv"
