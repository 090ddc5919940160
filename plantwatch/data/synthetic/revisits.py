"""When Sentinel-2 sees a plant clear: overpass days and the chance of a clear sky.

Sentinel-2's constellation (two satellites, three since 2025) passes over a site every
``revisit_days`` days (5 at the equator with two satellites; orbit overlap makes it more
often further north, which one fixed revisit ignores), always in daytime at about 10:30
local solar time. An overpass is usable when the plant's patch is clear. The chance of that
follows a cloud climate: it falls with latitude and peaks in summer,

    p(day, lat) = clip(clear_at_45n + per_degree_north · (lat − 45)
                       + seasonal_amplitude · cos(2π (day − clearest_day) / 365), 0.02, 0.98),

and days are drawn independently. The default climate gives a plant at 45° N ≈ 29 clear
overpasses a year (winter 0.25, summer 0.55 per overpass) and one at 56° N ≈ 20 (0.12 and
0.42), in the range of the clear-sky Sentinel-2 acquisitions over European sites
(roughly 15–40 a year).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class CloudClimate:
    """Chance that an overpass sees the plant clear (see the module docstring).

    Attributes:
        clear_at_45n: annual mean chance at 45° N (0–1).
        per_degree_north: change of the mean chance per degree of latitude north of 45°.
        seasonal_amplitude: half the summer–winter difference of the chance.
        clearest_day: day of year of the highest chance (1–365).
    """

    clear_at_45n: float = 0.40
    per_degree_north: float = -0.012
    seasonal_amplitude: float = 0.15
    clearest_day: int = 196

    def clear_probability(self, day_of_year: np.ndarray, lat: float) -> np.ndarray:
        """Chance of a clear overpass (0–1), float64 [n], on days of year [n] (1–366)."""
        season = np.cos(2.0 * np.pi * (np.asarray(day_of_year) - self.clearest_day) / 365.0)
        mean = self.clear_at_45n + self.per_degree_north * (lat - 45.0)
        return np.clip(mean + self.seasonal_amplitude * season, 0.02, 0.98)


def overpass_days(first: int, days: int, revisit_days: int) -> np.ndarray:
    """Days (0-based, int64 [n]) of a ``days``-day period on which the satellites pass,
    the first on day ``first`` (0 ≤ first < revisit_days)."""
    if revisit_days < 1:
        raise ValueError(f"revisit_days must be at least 1, got {revisit_days}")
    return np.arange(first, days, revisit_days)


def clear_overpasses(
    rng: np.random.Generator,
    lat: float,
    days: int,
    first_day_of_year: int = 1,
    revisit_days: int = 5,
    climate: CloudClimate = CloudClimate(),
) -> np.ndarray:
    """The days (0-based, sorted int64 [n]) of a ``days``-day period starting on
    ``first_day_of_year`` on which a plant at latitude ``lat`` (°N) is seen clear."""
    passes = overpass_days(int(rng.integers(revisit_days)), days, revisit_days)
    p = climate.clear_probability(_day_of_year(passes, first_day_of_year), lat)
    return passes[rng.random(len(passes)) < p]


def expected_clear_overpasses(
    lat: float,
    days: int,
    first_day_of_year: int = 1,
    revisit_days: int = 5,
    climate: CloudClimate = CloudClimate(),
) -> float:
    """Expected number of clear overpasses in the period (over the first pass's day and
    the sky): Σ over days of p(day, lat) / revisit_days, exact for whole revisit cycles."""
    every_day = np.arange(days)
    p = climate.clear_probability(_day_of_year(every_day, first_day_of_year), lat)
    return float(p.sum() / revisit_days)


def _day_of_year(days: np.ndarray, first_day_of_year: int) -> np.ndarray:
    return (first_day_of_year - 1 + days) % int(DAYS_PER_YEAR) + 1
