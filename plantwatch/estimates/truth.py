"""What the plants really generated and emitted per period, a naive reference estimate, and
the scores of estimates against the truth.

Truth comes from the synthetic generator's ``truth_daily.csv`` (every day of the simulated
period, observed or not) or, for real plants, from reported annual figures per plant or
generation unit (the JRC Open Power Plants Database's per-unit generation and CO₂, EU ETS
verified emissions with generation: ``sources.generation.read_annual_emissions``) and from
ENTSO-E's per-unit generation (16.1.A) for any month or year the files cover.
Scores are in the units Climate TRACE reports: RMSE of annual generation in TWh and of
annual CO₂ in Mt, beside relative errors and the coverage of the intervals.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from plantwatch import physics
from plantwatch.estimates.aggregate import QUANTITIES, period_hours, period_of
from plantwatch.sources.generation import GenerationSeries

# Aggregate column → (scored unit, divisor from MWh or t).
SCORE_UNITS: dict[str, tuple[str, float]] = {"generation_mwh": ("TWh", 1e6), "co2_t": ("Mt", 1e6)}


def truth_from_daily(daily: pd.DataFrame, period: str) -> pd.DataFrame:
    """Sums of a daily truth table (``plant_id``, ``date``, ``generation_mwh``, ``co2_t``) per
    plant and period; periods the table does not cover completely are left out."""
    frame = daily.assign(plant_id=daily["plant_id"].astype(str),
                         period=period_of(daily["date"], period))  # fmt: skip
    sums = frame.groupby(["plant_id", "period"]).agg(
        generation_mwh=("generation_mwh", "sum"), co2_t=("co2_t", "sum"), days=("date", "nunique")
    )
    sums = sums.reset_index()
    complete = sums["days"] * 24.0 >= sums["period"].map(period_hours) - 1e-6
    return sums.loc[complete].drop(columns="days").reset_index(drop=True)


def truth_from_reported(annual: pd.DataFrame, unit_to_plant: Mapping[str, str]) -> pd.DataFrame:
    """Annual truth per plant from reported figures per plant or unit (``year``,
    ``generation_mwh``, ``co2_t``; ``plant_id`` or ``unit_code``). A plant-year with a unit
    whose figure is missing gets NaN for that quantity, never a partial sum."""
    table = annual.copy()
    if "plant_id" not in table:
        table["plant_id"] = table["unit_code"].map(unit_to_plant)
    table = table.dropna(subset=["plant_id"])
    grouped = table.groupby(["plant_id", "year"])
    sums = grouped[["generation_mwh", "co2_t"]].sum(min_count=1)
    sums[grouped[["generation_mwh", "co2_t"]].apply(lambda g: g.isna().any())] = np.nan
    sums = sums.reset_index().rename(columns={"year": "period"})
    sums["period"] = sums["period"].astype(int).astype(str)
    sums["plant_id"] = sums["plant_id"].astype(str)
    return sums


def truth_from_generation(
    series: GenerationSeries,
    unit_to_plant: Mapping[str, str],
    period: str,
    min_coverage: float = 0.99,
) -> pd.DataFrame:
    """Generation truth (MWh) per plant and period from ENTSO-E 16.1.A series: Σ MW ×
    interval hours over the plant's reported units. A plant-period where one of its units
    covers less than ``min_coverage`` of the period's hours is left out, never a partial
    sum; ``co2_t`` is NaN (generation files carry no emissions)."""
    parts = []
    for unit, rows in series.units.items():
        if unit not in unit_to_plant:
            continue
        hours = (rows["end"] - rows["start"]).dt.total_seconds() / 3600.0
        known = rows["generation_mw"].notna()
        frame = pd.DataFrame({
            "plant_id": unit_to_plant[unit], "unit": unit,
            "period": period_of(rows["start"], period),
            "energy": (rows["generation_mw"] * hours).where(known, 0.0),
            "hours": hours.where(known, 0.0),
        })  # fmt: skip
        parts.append(frame.groupby(["plant_id", "unit", "period"], as_index=False).sum())
    columns = ["plant_id", "period", "generation_mwh", "co2_t"]
    if not parts:
        return pd.DataFrame(columns=columns)
    units = pd.concat(parts, ignore_index=True)
    units["complete"] = units["hours"] >= min_coverage * units["period"].map(period_hours)
    plants = units.groupby(["plant_id", "period"]).agg(
        generation_mwh=("energy", "sum"), complete=("complete", "all")
    )
    plants = plants[plants["complete"]].reset_index()
    plants["co2_t"] = np.nan
    return plants[columns]


def naive_reference(
    plants: pd.DataFrame, periods: pd.DataFrame, load_factor: Mapping[str, float]
) -> pd.DataFrame:
    """Capacity × mean load factor of the plant's fuel × hours, and × the fuel's emission
    factor: what one would say without looking at any image.

    Args:
        plants: ``plant_id``, ``capacity_mw``, ``fuel_type``.
        periods: ``plant_id``, ``period`` (the plant-periods to estimate).
        load_factor: mean load factor (0–1) by fuel class, e.g. of the training split.
    """
    table = periods[["plant_id", "period"]].merge(
        plants[["plant_id", "capacity_mw", "fuel_type"]].astype({"plant_id": str}), on="plant_id"
    )
    factor = table["fuel_type"].map(lambda f: physics.FUELS[physics.fuel_index(f)].ef_t_per_mwh)
    hours = table["period"].map(period_hours)
    table["generation_mwh"] = table["capacity_mw"] * table["fuel_type"].map(load_factor) * hours
    table["co2_t"] = table["generation_mwh"] * factor
    return table[["plant_id", "period", "generation_mwh", "co2_t"]]


def score(estimates: pd.DataFrame, truth: pd.DataFrame, name: str = "estimate") -> pd.DataFrame:
    """Scores per quantity over the plant-periods with a truth: ``n``, ``rmse`` (TWh or Mt),
    ``mae``, ``bias`` (estimate − truth, same unit), ``median_abs_rel_error`` (0–1),
    ``mean_rel_difference`` and ``sd_rel_difference`` (mean and sample std of (estimate −
    truth) / truth: the figures Gurney et al. 2024 give for Climate TRACE),
    ``total_rel_error`` (Σ estimate / Σ truth − 1), ``coverage`` (share of truths inside
    the interval) and ``interval_width`` (mean width, TWh or Mt; both NaN without
    intervals)."""
    merged = estimates.merge(truth, on=["plant_id", "period"], suffixes=("", "_true"))
    rows = []
    for _, column in QUANTITIES.values():
        if column not in estimates or f"{column}_true" not in merged:
            continue
        pairs = merged.dropna(subset=[column, f"{column}_true"])
        if pairs.empty:
            continue
        unit, divisor = SCORE_UNITS[column]
        error = (pairs[column] - pairs[f"{column}_true"]) / divisor
        true = pairs[f"{column}_true"] / divisor
        inside = width = np.nan
        if f"{column}_low" in pairs:
            lo, hi, t = pairs[f"{column}_low"], pairs[f"{column}_high"], pairs[f"{column}_true"]
            inside = float(((lo <= t) & (t <= hi)).mean()) if len(pairs) else np.nan
            width = float((hi - lo).mean() / divisor) if len(pairs) else np.nan
        signed = (error / true.where(true > 0)).dropna()
        relative = signed.abs()
        rows.append(
            {
                "estimate": name,
                "quantity": column,
                "unit": unit,
                "n": len(pairs),
                "rmse": float(np.sqrt((error**2).mean())) if len(pairs) else np.nan,
                "mae": float(error.abs().mean()) if len(pairs) else np.nan,
                "bias": float(error.mean()) if len(pairs) else np.nan,
                "median_abs_rel_error": float(relative.median()) if len(relative) else np.nan,
                "mean_rel_difference": float(signed.mean()) if len(signed) else np.nan,
                "sd_rel_difference": float(signed.std(ddof=1)) if len(signed) > 1 else np.nan,
                "total_rel_error": float(pairs[column].sum() / pairs[f"{column}_true"].sum() - 1)
                if len(pairs) and pairs[f"{column}_true"].sum() > 0
                else np.nan,
                "coverage": inside,
                "interval_width": width,
            }
        )
    return pd.DataFrame(rows)


# Score column → metric suffix of a study record (unit added for errors).
_RUN_METRICS = {"rmse": "rmse", "mae": "mae", "bias": "bias",
                "median_abs_rel_error": "median_rel_error", "coverage": "coverage",
                "mean_rel_difference": "mean_rel_difference", "interval_width": "interval_width",
                "sd_rel_difference": "sd_rel_difference"}  # fmt: skip
PERIOD_WORDS = {"year": "annual", "month": "monthly"}


def period_metrics(scores: pd.DataFrame, period: str = "year") -> dict[str, dict[str, float]]:
    """Study-record metrics from a scores table, by estimate: ``power_annual_rmse_twh``,
    ``co2_monthly_coverage`` … (power ↔ generation_mwh, co2 ↔ co2_t; ``annual`` for
    ``period`` year, ``monthly`` for month)."""
    tasks = {"generation_mwh": "power", "co2_t": "co2"}
    out: dict[str, dict[str, float]] = {}
    for row in scores.itertuples():
        for column, suffix in _RUN_METRICS.items():
            value = getattr(row, column)
            if pd.isna(value):
                continue
            with_unit = column in ("rmse", "mae", "bias", "interval_width")
            unit = f"_{row.unit.lower()}" if with_unit else ""
            name = f"{tasks[row.quantity]}_{PERIOD_WORDS[period]}_{suffix}{unit}"
            out.setdefault(row.estimate, {})[name] = float(value)
    return out
