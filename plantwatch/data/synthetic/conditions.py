"""Weather at overpass time, atmospheric stability and plant load-factor time series.

Weather is drawn from a simple mid-latitude climate: an annual temperature cycle that cools
with latitude, relative humidity that falls as the air warms, Weibull wind speeds with
prevailing south-westerlies. Stability classes follow Pasquill's daytime table (insolation
by month × wind speed). Load factors follow a daily AR(1) process around a fuel-typical
base load with a winter demand peak, and a two-state Markov chain of forced outages and
shutdowns (off → 0 MW).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plantwatch.data.loading.sample import WEATHER_COLUMNS


@dataclass(frozen=True)
class Weather:
    """Near-surface weather at the plant at overpass time (ERA-5-like variables).

    Attributes:
        temperature_c: 2 m air temperature, °C.
        relative_humidity_pct: 2 m relative humidity, %.
        wind_u_ms: eastward wind component (towards east positive), m/s.
        wind_v_ms: northward wind component (towards north positive), m/s.
    """

    temperature_c: float
    relative_humidity_pct: float
    wind_u_ms: float
    wind_v_ms: float

    @property
    def wind_speed_ms(self) -> float:
        """Wind speed, m/s."""
        return float(np.hypot(self.wind_u_ms, self.wind_v_ms))

    @property
    def vapour_pressure_deficit_kpa(self) -> float:
        """Saturation vapour pressure deficit, kPa (Tetens' formula over water)."""
        t = self.temperature_c
        saturation = 0.6108 * np.exp(17.27 * t / (t + 237.3))
        return float(saturation * (1.0 - self.relative_humidity_pct / 100.0))

    def as_row(self) -> dict[str, float]:
        """The weather columns of ``observations.csv``."""
        return {c: round(float(getattr(self, c)), 3) for c in WEATHER_COLUMNS}


def sample_weather(rng: np.random.Generator, lat: float, day_of_year: int) -> Weather:
    """Draw the weather at a plant at latitude ``lat`` (°N) on ``day_of_year`` (1–366)."""
    annual_mean = 27.0 - 0.35 * lat
    seasonal = -9.0 * np.cos(2.0 * np.pi * (day_of_year - 20) / 365.0)
    temperature = annual_mean + seasonal + rng.normal(0.0, 3.5)
    humidity = np.clip(78.0 - 1.6 * (temperature - annual_mean) + rng.normal(0.0, 12.0), 20, 100)
    speed = float(np.clip(4.5 * rng.weibull(2.0), 0.5, 15.0))
    if rng.random() < 0.6:
        direction_from = np.deg2rad(240.0) + rng.vonmises(0.0, 2.0)
    else:
        direction_from = rng.uniform(0.0, 2.0 * np.pi)
    return Weather(
        temperature_c=float(temperature),
        relative_humidity_pct=float(humidity),
        wind_u_ms=float(-speed * np.sin(direction_from)),
        wind_v_ms=float(-speed * np.cos(direction_from)),
    )


# Pasquill daytime stability (0 = A very unstable … 3 = D neutral), rows: strong, moderate,
# slight insolation; columns: wind speed < 2, 2–3, 3–5, 5–6, ≥ 6 m/s.
_PASQUILL_DAY = np.array(
    [
        [0.0, 0.5, 1.0, 2.0, 2.0],
        [0.5, 1.0, 1.5, 2.5, 3.0],
        [1.0, 2.0, 2.0, 3.0, 3.0],
    ]
)
_WIND_BINS = np.array([2.0, 3.0, 5.0, 6.0])
# Briggs (1973) open-country σ_y = c·x·(1 + 0.0001 x)^-1/2 coefficients for classes A … F.
_BRIGGS_SIGMA_Y = np.array([0.22, 0.16, 0.11, 0.08, 0.06, 0.04])


def stability_class(month: int, wind_speed_ms: float) -> float:
    """Pasquill stability as a number, 0 (A) … 5 (F); halves are intermediate classes."""
    insolation = 0 if 4 <= month <= 9 else 1 if month in (3, 10) else 2
    return float(_PASQUILL_DAY[insolation, np.searchsorted(_WIND_BINS, wind_speed_ms, "right")])


def briggs_sigma_y_coefficient(stability: float) -> float:
    """Briggs σ_y growth coefficient (dimensionless) for a possibly fractional class."""
    return float(np.interp(stability, np.arange(6), _BRIGGS_SIGMA_Y))


# Fuel-typical base load factor, daily variability, and outage start probability per day.
_LOAD_PROFILE: dict[str, tuple[float, float, float]] = {
    "lignite": (0.80, 0.08, 0.010),
    "hard_coal": (0.55, 0.15, 0.030),
    "gas": (0.45, 0.20, 0.040),
    "peat_oil": (0.35, 0.15, 0.050),
}
MIN_STABLE_LOAD = 0.25


def load_factor_series(
    rng: np.random.Generator,
    fuel: str,
    days: int,
    first_day_of_year: int = 1,
    base_offset: float = 0.0,
) -> np.ndarray:
    """Daily load factor (generation / capacity, 0–1) of one plant, float64 [days].

    Zero on days the plant is off (outage or shutdown); otherwise between the minimum
    stable load and 1. ``base_offset`` shifts the plant's long-run load from its fuel's
    (plants of one fuel differ in merit order, age and contracts).
    """
    base, variability, p_off = _LOAD_PROFILE[fuel]
    base += base_offset
    doy = (first_day_of_year - 1 + np.arange(days)) % 365 + 1
    demand = 0.08 * np.cos(2.0 * np.pi * (doy - 15) / 365.0)
    ar = np.zeros(days)
    on = np.ones(days, dtype=bool)
    for d in range(1, days):
        ar[d] = 0.8 * ar[d - 1] + rng.normal(0.0, variability * 0.6)
        on[d] = rng.random() >= p_off if on[d - 1] else rng.random() < 0.15
    load = np.clip(base + demand + ar, MIN_STABLE_LOAD, 1.0)
    return np.where(on, load, 0.0)
