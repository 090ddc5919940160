"""Per-plant monthly and annual generation (MWh) and CO₂ (t) from per-observation estimates.

An observation is one clear-sky daytime overpass with a predicted power P (MW) and CO₂ rate
E (t/h), each with a per-observation interval. A plant-period's energy is estimated as the
mean over its n observations times the period's hours: G = mean(P) · h (MWh), C = mean(E) ·
h (t). Its interval combines two uncertainties by a bootstrap (``n_boot`` draws): the
observations are resampled with replacement (sampling: only a few days of the period are
seen), and each resampled observation's value is drawn from its own predictive distribution
(a normal whose central ``level`` interval is the per-observation interval); the mean of a
draw is clipped at 0.

With fewer than ``min_observations`` observations the bootstrap cannot see the spread of
the unseen days, and an unbounded per-observation interval (a validation split too small
to calibrate the level) has no spread to draw from: the interval is then the physical range
[0, capacity · h] where the capacity is known (``few_observations`` is true).

Biases this cannot remove: overpasses are daytime only (night-time load is lower for
load-following plants), clear-sky only (cloudy, often winter, days are under-sampled) and
seasonal gaps leave parts of a year unseen.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

from plantwatch.physics import emission_factors

PERIODS = ("month", "year")
# Estimated quantity → (per-observation column, aggregate column): MW → MWh, t/h → t.
QUANTITIES: dict[str, tuple[str, str]] = {
    "generation": ("power_mw", "generation_mwh"),
    "co2": ("co2_t_per_h", "co2_t"),
}


def period_of(times: pd.Series, period: str) -> pd.Series:
    """The period label of UTC times: ``2021-03`` (month) or ``2021`` (year)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, got {period!r}")
    times = pd.to_datetime(times, utc=True)
    return times.dt.strftime("%Y-%m" if period == "month" else "%Y")


def unusable_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """The rows that cannot count fully: ``obs_id`` and ``reason`` (``no datetime``: left
    out entirely; ``no power_mw`` / ``no co2_t_per_h``: left out of that quantity)."""
    times = pd.to_datetime(predictions["datetime"], utc=True, errors="coerce")
    found = [predictions.loc[times.isna(), ["obs_id"]].assign(reason="no datetime")]
    for observed, _ in QUANTITIES.values():
        if observed in predictions:
            empty = times.notna() & ~np.isfinite(predictions[observed].to_numpy(np.float64))
            found.append(predictions.loc[empty, ["obs_id"]].assign(reason=f"no {observed}"))
    return pd.concat(found, ignore_index=True)


def period_hours(label: str) -> float:
    """Hours in a period label (``2021`` or ``2021-03``)."""
    start = pd.Timestamp(f"{label}-01-01" if len(label) == 4 else f"{label}-01")
    end = start + (pd.DateOffset(years=1) if len(label) == 4 else pd.DateOffset(months=1))
    return (end - start).total_seconds() / 3600.0


def _sigma(frame: pd.DataFrame, column: str, level: float) -> np.ndarray:
    """Per-observation standard deviation from the upper bound ``<column>_high`` (the lower
    one may be clipped at 0): (high − value) / z; 0 without bounds, ∞ for an unbounded one."""
    high = f"{column}_high"
    if high not in frame:
        return np.zeros(len(frame))
    z = norm.ppf(0.5 + level / 2)
    return ((frame[high] - frame[column]).to_numpy(np.float64) / z).clip(min=0.0)


def aggregate_predictions(
    predictions: pd.DataFrame,
    period: str = "year",
    level: float = 0.9,
    n_boot: int = 2000,
    min_observations: int = 3,
    capacities: Mapping[str, float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Estimates per plant and period with ``level`` intervals.

    Args:
        predictions: one row per observation: ``plant_id``, ``datetime`` (UTC), ``power_mw``
            and/or ``co2_t_per_h``, optionally ``<column>_low``/``_high`` (the
            per-observation ``level`` interval) and ``capacity_mw``. A row without a value
            of a quantity is left out of that quantity (`unusable_rows` names them); a
            period without any value of it gets no estimate (NaN).
        period: ``month`` or ``year``.
        level: nominal coverage of the intervals (per observation and aggregated).
        n_boot: bootstrap draws.
        min_observations: fewer observations → the physical range as the interval.
        capacities: plant capacity in MW (else the predictions' ``capacity_mw``).
        seed: random seed of the bootstrap.

    Returns:
        ``plant_id``, ``period``, ``hours``, ``n_obs``, ``few_observations`` and per quantity
        ``<aggregate>`` with ``_low``/``_high`` (MWh for generation, t for CO₂).
    """
    frame = predictions.copy()
    frame["plant_id"] = frame["plant_id"].astype(str)
    frame["period"] = period_of(frame["datetime"], period)
    capacity = dict(capacities or {})
    if not capacity and "capacity_mw" in frame:
        capacity = frame.groupby("plant_id")["capacity_mw"].first().dropna().to_dict()
    quantities = {k: v for k, v in QUANTITIES.items() if v[0] in frame}
    if not quantities:
        raise ValueError("predictions hold neither power_mw nor co2_t_per_h")
    rng = np.random.default_rng(seed)
    tail = (1 - level) / 2
    rows = []
    for (plant, label), group in frame.groupby(["plant_id", "period"], sort=True):
        hours = period_hours(label)
        n = len(group)
        row = {"plant_id": plant, "period": label, "hours": hours, "n_obs": n,
               "few_observations": n < min_observations}  # fmt: skip
        for observed, total in quantities.values():
            usable = group[np.isfinite(group[observed].to_numpy(np.float64))]
            n_usable = len(usable)
            if n_usable == 0:  # no value of this quantity in the period: no estimate
                row[total] = row[f"{total}_low"] = row[f"{total}_high"] = np.nan
                continue
            values = usable[observed].to_numpy(np.float64)
            row[total] = float(values.mean() * hours)
            sigma = _sigma(usable, observed, level) if n_usable >= min_observations else None
            if sigma is None or not np.isfinite(sigma).all():  # few, or an unbounded interval
                row["few_observations"] = True
                top = _physical_top(observed, capacity.get(plant), usable)
                row[f"{total}_low"], row[f"{total}_high"] = 0.0, top * hours
                continue
            picks = rng.integers(0, n_usable, size=(n_boot, n_usable))
            draws = values[picks] + sigma[picks] * rng.standard_normal((n_boot, n_usable))
            means = draws.mean(axis=1).clip(min=0.0) * hours
            row[f"{total}_low"], row[f"{total}_high"] = np.quantile(means, [tail, 1 - tail])
        rows.append(row)
    return pd.DataFrame(rows)


def _physical_top(column: str, capacity: float | None, group: pd.DataFrame) -> float:
    """Largest possible rate: capacity (MW) or capacity × the largest emission factor
    (t/h); without a capacity, the largest observed upper bound or value."""
    if capacity is not None and np.isfinite(capacity):
        return capacity if column == "power_mw" else capacity * float(emission_factors().max())
    upper = f"{column}_high"
    return float(group[upper if upper in group else column].max())
