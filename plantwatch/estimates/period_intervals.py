"""Intervals of plant-period estimates, calibrated at the level they are reported.

A model's errors are correlated within a plant, so an interval for a plant-year cannot be
calibrated on single overpasses. Split-conformal calibration on the validation plants'
plant-periods (`conformal.py`) gives the scale q of each estimate's spread ``<column>_sd``:
the score of a plant-period is |truth − estimate| / sd, q their conformal quantile at the
level, and the interval is estimate ± q·sd clipped to the physical range [0, capacity ×
hours (× t CO₂/MWh)]. Without calibration plant-periods the normal quantile stands in for
q (``calibrated`` is then false in the record).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from plantwatch.estimates.aggregate import QUANTITIES
from plantwatch.estimates.conformal import conformal_quantile


def interval_scales(
    estimates: pd.DataFrame, truth: pd.DataFrame | None, level: float
) -> dict[str, float]:
    """q per aggregate column with a spread (``generation_mwh``, ``co2_t``) from calibration
    plant-periods with a truth; without any (``truth`` None or not covering them) the normal
    quantile of the level."""
    merged = pd.DataFrame() if truth is None else estimates.merge(
        truth, on=["plant_id", "period"], suffixes=("", "_true")
    )  # fmt: skip
    scales = {}
    for _, column in QUANTITIES.values():
        if f"{column}_sd" not in estimates:
            continue
        scales[column] = float(norm.ppf(0.5 + level / 2))
        if f"{column}_true" in merged:
            pairs = merged.dropna(subset=[column, f"{column}_true", f"{column}_sd"])
            spread = pairs[f"{column}_sd"].clip(lower=1e-9)
            scores = ((pairs[column] - pairs[f"{column}_true"]).abs() / spread).to_numpy()
            if len(scores):
                scales[column] = conformal_quantile(scores, level)
    return scales


def with_intervals(estimates: pd.DataFrame, scales: dict[str, float]) -> pd.DataFrame:
    """``estimates`` with ``<column>_low``/``_high`` = estimate ∓ q·sd, clipped to [0,
    capacity × hours] for generation and [0, that × t CO₂/MWh] for CO₂."""
    out = estimates.copy()
    top = out["capacity_mw"] * out["hours"]
    for column, q in scales.items():
        ceiling = top if column == "generation_mwh" else top * out["t_co2_per_mwh"]
        half = q * out[f"{column}_sd"]
        out[f"{column}_low"] = (out[column] - half).clip(lower=0.0)
        out[f"{column}_high"] = np.minimum(out[column] + half, ceiling)
    return out
