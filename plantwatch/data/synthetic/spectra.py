"""Reflectance spectra of the materials of a synthetic power-plant scene.

Surface reflectance (0–1) at the 13 Sentinel-2 bands in ESA order (B01 … B12, B10
included), typical of library spectra (USGS/ASTER orders of magnitude): vegetation with a
red edge and a bright NIR plateau, soils rising towards the SWIR, water dark beyond the
green, coal dark and flat, water-droplet plumes and clouds bright in the VNIR and darker in
the SWIR where liquid water absorbs. Vegetation follows the season through a phenology
factor. The top-of-atmosphere conversion for L1C adds path radiance and the water-vapour
(B09) and cirrus-band (B10) absorption.
"""

from __future__ import annotations

import numpy as np

from plantwatch.bands import L1C_BAND_NAMES, wavelengths_nm

MATERIALS: dict[str, tuple[float, ...]] = {
    #               B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10   B11   B12
    "forest_leaf": (0.020, 0.025, 0.045, 0.025, 0.070, 0.200, 0.260, 0.280, 0.290, 0.290, 0.10, 0.140, 0.065),
    "forest_bare": (0.030, 0.035, 0.050, 0.045, 0.070, 0.120, 0.150, 0.160, 0.170, 0.170, 0.08, 0.150, 0.090),
    "crop_green":  (0.025, 0.035, 0.075, 0.040, 0.120, 0.300, 0.380, 0.420, 0.430, 0.420, 0.12, 0.220, 0.100),
    "soil":        (0.080, 0.100, 0.140, 0.180, 0.210, 0.230, 0.250, 0.270, 0.280, 0.290, 0.10, 0.350, 0.300),
    "water":       (0.060, 0.055, 0.045, 0.025, 0.018, 0.012, 0.009, 0.007, 0.006, 0.005, 0.00, 0.003, 0.002),
    "built":       (0.100, 0.110, 0.130, 0.150, 0.170, 0.180, 0.190, 0.200, 0.210, 0.210, 0.08, 0.240, 0.220),
    "concrete":    (0.200, 0.220, 0.250, 0.270, 0.280, 0.290, 0.300, 0.300, 0.310, 0.310, 0.10, 0.330, 0.300),
    "coal":        (0.035, 0.035, 0.040, 0.040, 0.045, 0.050, 0.050, 0.055, 0.055, 0.055, 0.02, 0.060, 0.060),
    "mine":        (0.090, 0.100, 0.130, 0.170, 0.190, 0.200, 0.210, 0.220, 0.230, 0.230, 0.08, 0.280, 0.270),
    "tank":        (0.450, 0.500, 0.520, 0.530, 0.530, 0.530, 0.520, 0.520, 0.520, 0.500, 0.20, 0.450, 0.380),
    "plume":       (0.550, 0.560, 0.570, 0.570, 0.570, 0.560, 0.550, 0.540, 0.530, 0.450, 0.15, 0.300, 0.180),
    "cloud":       (0.600, 0.620, 0.630, 0.640, 0.640, 0.640, 0.630, 0.620, 0.620, 0.550, 0.25, 0.380, 0.240),
}  # fmt: skip
MATERIAL_NAMES: tuple[str, ...] = tuple(MATERIALS)
SPECTRA = np.array([MATERIALS[m] for m in MATERIAL_NAMES], dtype=np.float32)  # [M, 13]

# Top of atmosphere (L1C): band transmittance and Rayleigh + aerosol path reflectance.
_TRANSMITTANCE = np.array(
    [0.80, 0.85, 0.90, 0.93, 0.93, 0.94, 0.95, 0.95, 0.95, 0.35, 0.02, 0.93, 0.90], np.float32
)
_PATH = np.array(
    [0.090, 0.065, 0.040, 0.020, 0.016, 0.012, 0.010, 0.008, 0.007, 0.004, 0.001, 0.002, 0.001],
    np.float32,
)


def material(name: str) -> int:
    """Index of a material in :data:`SPECTRA`."""
    return MATERIAL_NAMES.index(name)


def greenness(day_of_year: int) -> float:
    """Phenology factor 0 (mid-January, leaf-off) … 1 (mid-July, full canopy)."""
    return float(0.5 - 0.5 * np.cos(2.0 * np.pi * (day_of_year - 15) / 365.0))


def to_top_of_atmosphere(surface: np.ndarray) -> np.ndarray:
    """Surface reflectance [13, H, W] → top-of-atmosphere reflectance [13, H, W]."""
    return surface * _TRANSMITTANCE[:, None, None] + _PATH[:, None, None]


def haze(image: np.ndarray, aerosol_optical_depth: float) -> np.ndarray:
    """Blend a bright, blue-heavy aerosol layer (Ångström exponent 1.3) into [13, H, W]."""
    tau = aerosol_optical_depth * (wavelengths_nm(L1C_BAND_NAMES) / 550.0) ** -1.3
    transmitted = np.exp(-tau).astype(np.float32)[:, None, None]
    return image * transmitted + 0.25 * (1.0 - transmitted)
