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

MATERIALS: dict[str, tuple[float, ...]] = {  # reflectance in per cent
    #               B01  B02  B03  B04  B05  B06  B07  B08  B8A  B09  B10  B11  B12
    "forest_leaf": (  2, 2.5, 4.5, 2.5,   7,  20,  26,  28,  29,  29,  10,  14, 6.5),
    "forest_bare": (  3, 3.5,   5, 4.5,   7,  12,  15,  16,  17,  17,   8,  15,   9),
    "crop_green":  (2.5, 3.5, 7.5,   4,  12,  30,  38,  42,  43,  42,  12,  22,  10),
    "soil":        (  8,  10,  14,  18,  21,  23,  25,  27,  28,  29,  10,  35,  30),
    "water":       (  6, 5.5, 4.5, 2.5, 1.8, 1.2, 0.9, 0.7, 0.6, 0.5,   0, 0.3, 0.2),
    "built":       ( 10,  11,  13,  15,  17,  18,  19,  20,  21,  21,   8,  24,  22),
    "concrete":    ( 20,  22,  25,  27,  28,  29,  30,  30,  31,  31,  10,  33,  30),
    "coal":        (3.5, 3.5,   4,   4, 4.5,   5,   5, 5.5, 5.5, 5.5,   2,   6,   6),
    "mine":        (  9,  10,  13,  17,  19,  20,  21,  22,  23,  23,   8,  28,  27),
    "tank":        ( 45,  50,  52,  53,  53,  53,  52,  52,  52,  50,  20,  45,  38),
    "plume":       ( 55,  56,  57,  57,  57,  56,  55,  54,  53,  45,  15,  30,  18),
    "cloud":       ( 60,  62,  63,  64,  64,  64,  63,  62,  62,  55,  25,  38,  24),
}  # fmt: skip
MATERIAL_NAMES: tuple[str, ...] = tuple(MATERIALS)
SPECTRA = np.array([MATERIALS[m] for m in MATERIAL_NAMES], dtype=np.float32) / 100  # [M, 13], 0–1

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
