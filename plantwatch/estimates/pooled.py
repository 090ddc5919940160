"""Pooled plant-period estimates: a plant's overpass estimates combined with what the fleet
says about a plant of its fuel (empirical Bayes shrinkage).

Everything is in load-factor units, ℓ = power / capacity (0–1). The fleet prior is learned on
the training plants' labelled overpasses (`FleetPrior.fit`):

- each fuel's seasonal profile m_f(day) = a + b·cos(2π day/365) + c·sin(2π day/365);
- τ²_year, the spread of plant-year anomalies around it (plants of one fuel differ in their
  long-run load), and τ²_month, the spread of plant-month anomalies around their
  plant-year's;
- s², the variance of a day's load around its plant-year's mean.

The model's errors are learned on the validation plants (`ObservationErrors.fit`), in MW:
σ²_w within a plant-year and σ²_b between plant-years (a model's errors are correlated within
a plant, and that part does not average out); divided by C² they are load-factor variances,
so a small plant's overpasses count for less. Variances are method-of-moments estimates: the
spread of the group means minus what the sampling of n days explains, floored at 0.

A plant-year with n overpass estimates ŷ_i has the mean anomaly r̄ = mean(ŷ_i/C − m_f(day_i))
(the seasonal sampling removed: clear days are mostly summer days) with the noise
V = (s² + σ²_w/C²)/n + σ²_b/C², and is shrunk towards the prior:

    w = τ²_year / (τ²_year + V),   ℓ̂ = m̄_f(year) + w·r̄,   var = w·V.

No observation gives the prior (w = 0); exact observations (s = σ = 0) give w = 1, their
deseasonalised mean. A plant-month shrinks its own observations' anomaly towards its
plant-year's the same way (τ²_month; σ²_b is carried by the year). Generation = C·ℓ̂·hours;
CO₂ = generation × the emission factor of the plant's known fuel, else the ratio of its
predicted CO₂ to its predicted power. The standard deviation ``<column>_sd`` is the scale of
the intervals, which `period_intervals` calibrates on the validation plant-periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from plantwatch import physics
from plantwatch.estimates.aggregate import period_hours, period_of

ANY_FUEL = "any"  # the profile of all training plants, for a plant of unknown fuel
_YEAR_DAYS = 365.0


def _harmonics(day_of_year: np.ndarray) -> np.ndarray:
    """Design matrix [n, 3]: 1, cos and sin of the annual cycle."""
    angle = 2.0 * np.pi * np.asarray(day_of_year, np.float64) / _YEAR_DAYS
    return np.stack([np.ones_like(angle), np.cos(angle), np.sin(angle)], axis=1)


def _calendar(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``day`` (day of year), ``year`` and ``month`` labels of ``datetime``."""
    times = pd.to_datetime(frame["datetime"], utc=True)
    return frame.assign(day=times.dt.day_of_year.to_numpy(), year=period_of(times, "year"),
                        month=period_of(times, "month"))  # fmt: skip


@dataclass(frozen=True)
class Components:
    """Variance components of a per-observation quantity x grouped by plant-year (units²).

    Attributes:
        within: variance of x around its plant-year mean.
        between_year: variance of the plant-year means beyond sampling.
        between_month: variance of the plant-month means around their plant-year's beyond
            sampling.
    """

    within: float
    between_year: float
    between_month: float

    @classmethod
    def of(cls, frame: pd.DataFrame, column: str) -> Components:
        """Method-of-moments estimates from ``frame`` (``plant_id``, ``year``, ``month``,
        ``column``)."""
        years = frame.groupby(["plant_id", "year"])[column]
        n_year, mean_year = years.transform("size"), years.transform("mean")
        dof = float((years.size() - 1).clip(lower=0).sum())
        within = float(((frame[column] - mean_year) ** 2).sum() / dof) if dof > 0 else 0.0
        means = years.mean()
        spread = float(means.var(ddof=1)) if len(means) > 1 else 0.0
        between_year = max(0.0, spread - float((within / years.size()).mean()))
        months = frame.assign(_year_mean=mean_year, _n_year=n_year).groupby(
            ["plant_id", "year", "month"]
        )
        table = months.agg(
            mean=(column, "mean"), n=(column, "size"),
            year_mean=("_year_mean", "first"), n_year=("_n_year", "first"),
        )  # fmt: skip
        sampling = within * (1.0 / table["n"] - 1.0 / table["n_year"])
        deviation = ((table["mean"] - table["year_mean"]) ** 2 - sampling).mean()
        return cls(within, between_year, max(0.0, float(deviation)) if len(table) else 0.0)


@dataclass(frozen=True)
class FleetPrior:
    """What the training plants say of a plant before an image of it is seen (load factor).

    Attributes:
        profiles: fuel (and ``any``) → (a, b, c) of its seasonal profile m(day).
        load: variance components of the daily load around the profiles (see `Components`).
    """

    profiles: dict[str, tuple[float, float, float]]
    load: Components

    @classmethod
    def fit(cls, observations: pd.DataFrame) -> FleetPrior:
        """Learn the prior from labelled overpasses: ``plant_id``, ``datetime``,
        ``fuel_type`` and ``load_factor`` (generation / capacity, 0–1)."""
        frame = _calendar(observations.dropna(subset=["load_factor"]))
        if frame.empty:
            raise ValueError("no labelled overpass to learn the fleet prior from")
        profiles = {}
        for fuel, rows in [(ANY_FUEL, frame), *frame.groupby("fuel_type")]:
            coefficients, *_ = np.linalg.lstsq(_harmonics(rows["day"]), rows["load_factor"])
            profiles[str(fuel)] = tuple(float(c) for c in coefficients)
        prior = cls(profiles, Components(0.0, 0.0, 0.0))
        residual = frame["load_factor"] - prior.profile(frame["fuel_type"], frame["day"])
        return cls(profiles, Components.of(frame.assign(residual=residual), "residual"))

    def profile(self, fuels: pd.Series | list, days: pd.Series | np.ndarray) -> np.ndarray:
        """m_f(day) [n] for fuels [n] (unknown or unseen fuels: the fleet's profile)."""
        coefficients = np.array([self.profiles.get(str(f), self.profiles[ANY_FUEL])
                                 for f in fuels]).reshape(-1, 3)  # fmt: skip
        return (_harmonics(np.asarray(days)) * coefficients).sum(axis=1)

    def period_load(self, fuel: str, label: str) -> float:
        """Mean of the fuel's profile over the days of a period (``2021`` or ``2021-03``)."""
        start = pd.Timestamp(f"{label}-01-01" if len(label) == 4 else f"{label}-01")
        days = pd.date_range(start, periods=round(period_hours(label) / 24), freq="D")
        return float(self.profile([fuel] * len(days), days.day_of_year.to_numpy()).mean())


@dataclass(frozen=True)
class ObservationErrors:
    """A model's per-observation errors (prediction − truth, MW) on validation plants, as
    variance components (MW², see `Components`; between_month is not used). They are kept
    in MW, not in load factor: what a plume shows has a floor in MW, so a small plant's load
    factor is the less certain."""

    errors: Components

    @classmethod
    def fit(cls, predicted: pd.DataFrame, observations: pd.DataFrame) -> ObservationErrors:
        """From predictions (``obs_id``, ``power_mw``) and labels (``obs_id``, ``plant_id``,
        ``datetime``, ``capacity_mw``, ``generation_mw``) of the same overpasses."""
        frame = observations.merge(predicted[["obs_id", "power_mw"]], on="obs_id")
        frame = frame.dropna(subset=["power_mw", "generation_mw", "capacity_mw"])
        if frame.empty:
            raise ValueError("no labelled prediction to learn the model's errors from")
        error = frame["power_mw"] - frame["generation_mw"]
        return cls(Components.of(_calendar(frame.assign(error=error)), "error"))


def pooled_estimates(
    predictions: pd.DataFrame,
    plants: pd.DataFrame,
    prior: FleetPrior,
    errors: ObservationErrors,
    period: str = "year",
) -> pd.DataFrame:
    """Pooled estimates of every plant and period that the predictions span.

    Args:
        predictions: one row per overpass: ``plant_id``, ``datetime`` (UTC), ``power_mw``,
            optionally ``co2_t_per_h`` and ``fuel_pred``.
        plants: ``plant_id``, ``capacity_mw`` (MW) and ``fuel_type`` (NaN: unknown; then the
            plant's most predicted fuel sets its profile). Plants without a capacity are
            left out.
        prior: the fleet prior of the training plants.
        errors: the model's errors on the validation plants.
        period: ``year`` or ``month``.

    Returns:
        ``plant_id``, ``period``, ``hours``, ``n_obs``, ``capacity_mw``, ``load_factor``,
        ``generation_mwh``, ``generation_mwh_sd`` (MWh), ``co2_t``, ``co2_t_sd`` (t),
        ``t_co2_per_mwh``.
    """
    frame = _calendar(predictions.dropna(subset=["power_mw"]).astype({"plant_id": str}))
    facts = plants.astype({"plant_id": str}).set_index("plant_id")
    facts = facts[facts["capacity_mw"].notna() & (facts["capacity_mw"] > 0)]
    frame = frame[frame["plant_id"].isin(facts.index)]
    fuel = _profile_fuels(frame, facts)
    frame["residual"] = frame["power_mw"] / frame["plant_id"].map(facts["capacity_mw"]) - (
        prior.profile(frame["plant_id"].map(fuel), frame["day"])
    )
    times = pd.to_datetime(predictions["datetime"], utc=True).dropna()
    every_day = pd.Series(pd.date_range(times.min().floor("D"), times.max(), freq="D"))
    labels = sorted(set(period_of(every_day, period)))
    years = {label[:4] for label in labels}
    factor = _emission_factors(frame, facts)
    rows = []
    for plant in sorted(set(predictions["plant_id"].astype(str)) & set(facts.index)):
        own = frame[frame["plant_id"] == plant]
        capacity = float(facts.loc[plant, "capacity_mw"])
        noise = prior.load.within + errors.errors.within / capacity**2  # load factor²
        between = errors.errors.between_year / capacity**2
        year_anomaly = {}
        for year in sorted(years):
            r = own.loc[own["year"] == year, "residual"].to_numpy()
            v = noise / len(r) + between if len(r) else np.inf
            w = _weight(prior.load.between_year, v)
            anomaly = w * r.mean() if len(r) else 0.0
            year_anomaly[year] = (anomaly, w * v if len(r) else prior.load.between_year)
        for label in labels:
            anomaly, variance = year_anomaly[label[:4]]
            n = int((own[period] == label).sum())
            if period == "month":
                r = own.loc[own["month"] == label, "residual"].to_numpy()
                w = _weight(prior.load.between_month, noise / len(r) if len(r) else np.inf)
                anomaly += w * (r.mean() - anomaly) if len(r) else 0.0
                variance += prior.load.between_month * (1.0 - w)
            load = float(np.clip(prior.period_load(fuel[plant], label) + anomaly, 0.0, 1.0))
            hours = period_hours(label)
            generation, sd = capacity * load * hours, capacity * np.sqrt(variance) * hours
            rows.append({
                "plant_id": plant, "period": label, "hours": hours, "n_obs": n,
                "capacity_mw": capacity, "load_factor": load, "generation_mwh": generation,
                "generation_mwh_sd": sd, "co2_t": generation * factor[plant],
                "co2_t_sd": sd * factor[plant], "t_co2_per_mwh": factor[plant],
            })  # fmt: skip
    return pd.DataFrame(rows)


def _weight(tau: float, noise: float) -> float:
    """Weight τ² / (τ² + V) of an observed mean with noise variance V against a prior
    spread τ²; 0 without observations (V = ∞) or without any variance."""
    return tau / (tau + noise) if np.isfinite(noise) and tau + noise > 0 else 0.0


def _profile_fuels(frame: pd.DataFrame, facts: pd.DataFrame) -> dict[str, str]:
    """Each plant's fuel for its profile: known, else its most predicted, else ``any``."""
    fuels = {}
    for plant in facts.index:
        known = facts.loc[plant].get("fuel_type")
        predicted = frame.loc[frame["plant_id"] == plant, "fuel_pred"] if "fuel_pred" in frame \
            else pd.Series(dtype=str)  # fmt: skip
        if isinstance(known, str) and known:
            fuels[plant] = known
        elif predicted.notna().any():
            fuels[plant] = str(predicted.mode().iloc[0])
        else:
            fuels[plant] = ANY_FUEL
    return fuels


def _emission_factors(frame: pd.DataFrame, facts: pd.DataFrame) -> dict[str, float]:
    """t CO₂ per MWh of each plant: its known fuel's factor, else Σ predicted CO₂ / Σ
    predicted power, else NaN."""
    factors = {}
    for plant in facts.index:
        known = facts.loc[plant].get("fuel_type")
        own = frame[frame["plant_id"] == plant]
        if isinstance(known, str) and known:
            factors[plant] = physics.FUELS[physics.fuel_index(known)].ef_t_per_mwh
        elif "co2_t_per_h" in own and own["power_mw"].sum() > 0:
            factors[plant] = float(own["co2_t_per_h"].sum() / own["power_mw"].sum())
        else:
            factors[plant] = np.nan
    return factors
