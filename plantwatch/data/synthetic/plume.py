"""Gaussian plume model of the condensed-water (steam) plumes of a power plant.

Each source (natural-draft cooling tower, mechanical-draft cell, stack) emits water at a
rate set by the waste heat it rejects: latent heat 2.26 MJ/kg → 0.44 kg/s of water per MW
of heat. Downwind of a source the vertically integrated plume mass follows the Gaussian
plume model for a continuous point source,

    column(x, y) = Q / (√(2π) σ_y(x) u) · exp(−y² / 2σ_y²)      [kg/m²]

with the Briggs (1973) open-country crosswind spread σ_y(x) for the Pasquill stability
class and an initial spread equal to the source radius. Only condensed water is visible; it
evaporates as the plume mixes with unsaturated air, so the visible fraction decays as
exp(−x / L) with a visible length L inversely proportional to the vapour-pressure deficit
of the ambient air: humid, cold air → long plumes; warm, dry air → short ones. Optical
depth is the visible column times a mass extinction coefficient; the plume mask is where
the optical depth exceeds :data:`MASK_OPTICAL_DEPTH`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from plantwatch.data.synthetic.conditions import Weather, briggs_sigma_y_coefficient

WATER_KG_S_PER_MW_HEAT = 1.0 / 2.26
MASS_EXTINCTION_M2_PER_KG = 2.0
VISIBLE_LENGTH_M_KPA = 150.0
MASK_OPTICAL_DEPTH = 0.3


@dataclass(frozen=True)
class Source:
    """A plume source.

    Attributes:
        row: pixel row of the source.
        col: pixel column of the source.
        radius_m: radius of the outlet (initial plume half-width), m.
        heat_share: fraction of the plant's waste heat rejected through this source, 0–1.
    """

    row: float
    col: float
    radius_m: float
    heat_share: float


def water_emission_kg_s(generation_mw: float, efficiency: float) -> float:
    """Water emitted by all sources of a plant, kg/s, for net generation in MW.

    Waste heat is generation × (1/η − 1) MW; all of it is assumed to leave as latent heat.
    """
    return WATER_KG_S_PER_MW_HEAT * generation_mw * (1.0 / efficiency - 1.0)


def visible_length_m(weather: Weather) -> float:
    """e-folding length of the visible (condensed) plume, m."""
    return VISIBLE_LENGTH_M_KPA / (weather.vapour_pressure_deficit_kpa + 0.1)


def optical_depth(
    shape: tuple[int, int],
    pixel_size_m: float,
    sources: Sequence[Source],
    water_kg_s: float,
    weather: Weather,
    stability: float,
) -> np.ndarray:
    """Plume optical depth on the image grid, float32 [H, W].

    Args:
        shape: (H, W) in pixels.
        pixel_size_m: ground sampling distance, m.
        sources: plume sources; their heat shares split ``water_kg_s``.
        water_kg_s: total water emission of the plant, kg/s (0 when the plant is off).
        weather: ambient weather (wind carries the plume, humidity/temperature set L).
        stability: Pasquill class as a number, 0 (A) … 5 (F).
    """
    speed = max(weather.wind_speed_ms, 0.5)
    east_unit, north_unit = weather.wind_u_ms / speed, weather.wind_v_ms / speed
    spread = briggs_sigma_y_coefficient(stability)
    length = visible_length_m(weather)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    tau = np.zeros(shape, np.float32)
    if water_kg_s <= 0.0:
        return tau
    for s in sources:
        east = (cols - s.col) * pixel_size_m
        north = (s.row - rows) * pixel_size_m
        along = east * east_unit + north * north_unit
        across = -east * north_unit + north * east_unit
        downwind = np.maximum(along, 0.0)
        sigma = np.sqrt(s.radius_m**2 + (spread * downwind / np.sqrt(1.0 + 1e-4 * downwind)) ** 2)
        column = (
            s.heat_share * water_kg_s / (np.sqrt(2.0 * np.pi) * sigma * speed)
            * np.exp(-0.5 * (across / sigma) ** 2)
            * np.exp(-0.5 * (np.minimum(along, 0.0) / s.radius_m) ** 2)
        )  # fmt: skip
        tau += MASS_EXTINCTION_M2_PER_KG * column * np.exp(-downwind / length)
    return tau
