"""Band registry: Sentinel-2, Sentinel-1, DEM and land-cover channels — names, wavelengths,
resolutions, default statistics — and the ESA WorldCover classes.

Band order follows ESA (B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B10 B11 B12). The L1C
product (top-of-atmosphere) carries all 13 bands; the L2A product (bottom-of-atmosphere)
has no B10 (cirrus), so 12-band models select bands *by name*, never by index.

Reflectance is stored as reflectance × 10000 ("DN"). Statistics below are in DN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Band:
    """One spectral band or polarisation.

    Attributes:
        name: ESA band name, e.g. ``"B8A"``; ``"VV"`` for Sentinel-1; ``"DEM"``; ``"LULC"``.
        wavelength_nm: central wavelength in nm (Sentinel-2A); 0 for non-optical channels.
        resolution_m: native ground sampling distance in metres.
    """

    name: str
    wavelength_nm: float
    resolution_m: int


SENTINEL2_BANDS: tuple[Band, ...] = (
    Band("B01", 442.7, 60),
    Band("B02", 492.4, 10),
    Band("B03", 559.8, 10),
    Band("B04", 664.6, 10),
    Band("B05", 704.1, 20),
    Band("B06", 740.5, 20),
    Band("B07", 782.8, 20),
    Band("B08", 832.8, 10),
    Band("B8A", 864.7, 20),
    Band("B09", 945.1, 60),
    Band("B10", 1373.5, 60),
    Band("B11", 1613.7, 20),
    Band("B12", 2202.4, 20),
)
SENTINEL1_BANDS: tuple[Band, ...] = (Band("VV", 0.0, 10), Band("VH", 0.0, 10))
DEM_BAND = Band("DEM", 0.0, 30)  # Copernicus DEM GLO-30: elevation in m
LULC_BAND = Band("LULC", 0.0, 10)  # ESA WorldCover 10 m: class codes (WORLDCOVER_CLASSES)
BANDS: dict[str, Band] = {
    b.name: b for b in (*SENTINEL2_BANDS, *SENTINEL1_BANDS, DEM_BAND, LULC_BAND)
}

# ESA WorldCover 2020/2021 v1/v2 class codes and names (Zanaga et al. 2021; ben-ge uses them
# for its land-cover map and its 11 class-fraction columns).
WORLDCOVER_CLASSES: dict[int, str] = {
    10: "tree_cover", 20: "shrubland", 30: "grassland", 40: "cropland", 50: "built_up",
    60: "bare_sparse_vegetation", 70: "snow_ice", 80: "permanent_water_bodies",
    90: "herbaceous_wetland", 95: "mangroves", 100: "moss_lichen",
}  # fmt: skip
# The WorldCover legend colours, in class order (10 … 100).
WORLDCOVER_COLOURS: tuple[str, ...] = (
    "#006400", "#ffbb22", "#ffff4c", "#f096ff", "#fa0000", "#b4b4b4",
    "#f0f0f0", "#0064c8", "#0096a0", "#00cf75", "#fae6a0",
)  # fmt: skip

RGB: tuple[str, str, str] = ("B04", "B03", "B02")


@dataclass(frozen=True)
class Product:
    """A product: which bands its files hold, in file order, and default statistics.

    Attributes:
        name: product identifier used in ``dataset.json`` (``S2L1C``, ``S2L2A``, ``S1GRD``).
        bands: band names in file order.
        mean: default per-band mean, DN (S2) or dB (S1), same order as ``bands``.
        std: default per-band standard deviation, same units.
    """

    name: str
    bands: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def num_bands(self) -> int:
        """Number of bands in a file of this product."""
        return len(self.bands)


L1C_BAND_NAMES = tuple(b.name for b in SENTINEL2_BANDS)
L2A_BAND_NAMES = tuple(n for n in L1C_BAND_NAMES if n != "B10")

# L2A: BigEarthNet v1 Sentinel-2 statistics (Sumbul et al. 2019, 590k patches over
# Europe), rounded to DN.
# L1C: typical top-of-atmosphere reflectance over European land (order of magnitude of
# EuroSAT, Helber et al. 2019); higher blue from path radiance, low B09/B10 from absorption.
# Both are fall-backs: a dataset that stores its own statistics in dataset.json uses those.
# S1: BigEarthNet-S1 backscatter statistics in dB.
# COPDEM30: elevation of European land in m (order of magnitude of Copernicus DEM GLO-30).
PRODUCTS: dict[str, Product] = {
    "S2L2A": Product(
        "S2L2A",
        L2A_BAND_NAMES,
        (341, 430, 614, 590, 951, 1792, 2075, 2219, 2266, 2246, 1594, 1009),
        (555, 572, 583, 676, 730, 1096, 1273, 1365, 1356, 1302, 1079, 819),
    ),
    "S2L1C": Product(
        "S2L1C",
        L1C_BAND_NAMES,
        (1354, 1118, 1042, 947, 1199, 2003, 2374, 2301, 2599, 732, 12, 1820, 1119),
        (245, 333, 395, 594, 567, 861, 1086, 1118, 1231, 404, 5, 1003, 761),
    ),
    "S1GRD": Product("S1GRD", ("VV", "VH"), (-12.62, -19.29), (5.12, 5.46)),
    "COPDEM30": Product("COPDEM30", ("DEM",), (300.0,), (400.0,)),
}


def product(name: str) -> Product:
    """Look up a product by name (``S2L1C``, ``S2L2A``, ``S1GRD``)."""
    try:
        return PRODUCTS[name]
    except KeyError:
        raise ValueError(f"unknown product {name!r}; known: {sorted(PRODUCTS)}") from None


def band_indices(available: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """Indices into ``available`` of the bands named in ``wanted``, in ``wanted``'s order.

    Raises:
        ValueError: naming the missing bands and the available ones.
    """
    missing = [b for b in wanted if b not in available]
    if missing:
        raise ValueError(f"bands {missing} not available; available bands: {list(available)}")
    return [list(available).index(b) for b in wanted]


def wavelengths_nm(names: Sequence[str]) -> np.ndarray:
    """Central wavelengths in nm of the named bands, float64 [len(names)]."""
    return np.array([BANDS[n].wavelength_nm for n in names])


def resolutions_m(names: Sequence[str]) -> np.ndarray:
    """Native resolutions in metres of the named bands, int64 [len(names)]."""
    return np.array([BANDS[n].resolution_m for n in names])
