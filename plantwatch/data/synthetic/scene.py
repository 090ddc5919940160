"""Render one Sentinel-2 acquisition of a plant: season, shadows, plume, clouds, haze, noise.

Order of the radiative layers: surface (land cover with season and texture) → shadows of
towers, stacks, plume and clouds → plume (optical depth blended with the plume spectrum)
→ clouds → atmosphere (L1C: path radiance and absorption; both: haze) → band resolution
(20 m and 60 m bands are blurred) → sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from plantwatch.bands import L1C_BAND_NAMES, product, resolutions_m
from plantwatch.data.synthetic.conditions import Weather, stability_class
from plantwatch.data.synthetic.landscape import Landscape, smooth_noise
from plantwatch.data.synthetic.plume import (
    MASK_OPTICAL_DEPTH,
    optical_depth,
    water_emission_kg_s,
)
from plantwatch.data.synthetic.spectra import (
    SPECTRA,
    greenness,
    haze,
    material,
    to_top_of_atmosphere,
)

PLUME_HEIGHT_M = 300.0
CLOUD_HEIGHT_M = 1500.0
NOISE_REFLECTANCE = 0.004


@dataclass(frozen=True)
class Acquisition:
    """The conditions of one overpass.

    Attributes:
        day_of_year: 1–366.
        latitude: plant latitude, °N (sun elevation).
        weather: weather at overpass time.
        generation_mw: net generation at overpass time, MW (0 when off).
        efficiency: net electrical efficiency of this plant, 0–1.
        cloud_cover: fraction of the scene under natural cloud, 0–1.
        aerosol_optical_depth: haze at 550 nm.
    """

    day_of_year: int
    latitude: float
    weather: Weather
    generation_mw: float
    efficiency: float
    cloud_cover: float
    aerosol_optical_depth: float

    @property
    def month(self) -> int:
        """Calendar month 1–12 (non-leap year)."""
        return int(np.searchsorted(np.cumsum([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30]),
                                   self.day_of_year, "left") + 1)  # fmt: skip


@dataclass(frozen=True)
class Scene:
    """A rendered acquisition.

    Attributes:
        reflectance: reflectance (0 … ~1.6), float32 [C, H, W], product band order.
        optical_depth: plume optical depth, float32 [H, W].
        mask: plume mask (optical depth above threshold), uint8 0/1 [H, W].
    """

    reflectance: np.ndarray
    optical_depth: np.ndarray
    mask: np.ndarray


def sun_position(latitude: float, day_of_year: int) -> tuple[float, float]:
    """Sun (elevation, azimuth) in degrees at the Sentinel-2 overpass (~10:30 local time)."""
    declination = 23.44 * np.sin(2 * np.pi * (day_of_year - 81) / 365.0)
    elevation = max(90.0 - latitude + declination - 12.0, 12.0)
    return float(elevation), 155.0


def _shadow_offset_px(height_m: float, sun: tuple[float, float], pixel_m: float) -> np.ndarray:
    """(row, col) displacement of a shadow cast by an object ``height_m`` above ground."""
    elevation, azimuth = np.deg2rad(sun[0]), np.deg2rad(sun[1])
    length_px = height_m / np.tan(elevation) / pixel_m
    return np.array([np.cos(azimuth), -np.sin(azimuth)]) * length_px


def _blend(image: np.ndarray, tau: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
    """Blend a scattering layer of optical depth ``tau`` [H, W] over ``image`` [C, H, W]."""
    covered = 1.0 - np.exp(-tau)
    return image * (1.0 - covered) + spectrum[:, None, None] * covered


def render_scene(
    landscape: Landscape,
    acquisition: Acquisition,
    product_name: str,
    rng: np.random.Generator,
    pixel_size_m: float = 10.0,
) -> Scene:
    """Render ``landscape`` under ``acquisition`` as product ``S2L1C`` or ``S2L2A``."""
    shape = landscape.materials.shape
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    surface = SPECTRA[landscape.materials].transpose(2, 0, 1).copy()  # [13, H, W]

    g = greenness(acquisition.day_of_year)
    forest = landscape.materials == material("forest_leaf")
    leaf, bare = SPECTRA[material("forest_leaf")], SPECTRA[material("forest_bare")]
    surface[:, forest] = (bare + g * (leaf - bare))[:, None]
    crops = landscape.materials == material("crop_green")
    green = np.clip(g + landscape.crop_phase[crops], 0.0, 1.0)
    soil, crop = SPECTRA[material("soil")], SPECTRA[material("crop_green")]
    surface[:, crops] = soil[:, None] + green[None] * (crop - soil)[:, None]
    surface *= landscape.texture

    sun = sun_position(acquisition.latitude, acquisition.day_of_year)
    shade = np.ones(shape, np.float32)
    for s in landscape.structures:
        offset = _shadow_offset_px(s.height_m, sun, pixel_size_m)
        t = np.clip(((rows - s.row) * offset[0] + (cols - s.col) * offset[1]) / (offset @ offset),
                    0.0, 1.0)  # fmt: skip
        distance = np.hypot(rows - s.row - t * offset[0], cols - s.col - t * offset[1])
        shade[distance <= s.radius_px] = 0.45

    weather = acquisition.weather
    water = water_emission_kg_s(acquisition.generation_mw, acquisition.efficiency)
    stability = stability_class(acquisition.month, weather.wind_speed_ms)
    tau = optical_depth(shape, pixel_size_m, landscape.sources, water, weather, stability)
    tau *= np.clip(1.0 + 0.3 * smooth_noise(rng, shape, 3.0), 0.2, None)

    cloud = np.zeros(shape, np.float32)
    if acquisition.cloud_cover > 0:
        field = smooth_noise(rng, shape, shape[0] / 10)
        cloud = 40.0 * np.maximum(field - np.quantile(field, 1 - acquisition.cloud_cover), 0.0)

    for layer, height in ((tau, PLUME_HEIGHT_M), (cloud, CLOUD_HEIGHT_M)):
        if layer.any():
            shifted = ndimage.shift(layer, _shadow_offset_px(height, sun, pixel_size_m), order=1)
            shade *= 1.0 - 0.55 * (1.0 - np.exp(-shifted))
    image = _blend(surface * shade, tau, SPECTRA[material("plume")])
    image = _blend(image, cloud, SPECTRA[material("cloud")])

    if product_name == "S2L1C":
        image = to_top_of_atmosphere(image)
        image = haze(image, acquisition.aerosol_optical_depth)
    else:  # L2A: atmospheric correction leaves a fraction of the haze
        image = haze(image, 0.3 * acquisition.aerosol_optical_depth)
    for band, resolution in enumerate(resolutions_m(L1C_BAND_NAMES)):
        if resolution > pixel_size_m:
            image[band] = ndimage.gaussian_filter(image[band], resolution / pixel_size_m / 2.5)
    image += rng.normal(0.0, NOISE_REFLECTANCE, image.shape).astype(np.float32)
    image = np.clip(image, 0.0, 1.6)

    keep = [L1C_BAND_NAMES.index(b) for b in product(product_name).bands]
    return Scene(
        reflectance=image[keep].astype(np.float32),
        optical_depth=tau,
        mask=(tau > MASK_OPTICAL_DEPTH).astype(np.uint8),
    )
