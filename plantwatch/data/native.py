"""Reading the GeoTIFFs of published datasets into the canonical form: checked band count,
reflectance × 10000 as uint16, and one image size (centre crop or edge padding)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine

from plantwatch.data import layout
from plantwatch.data.errors import DatasetError
from plantwatch.data.geotiff import read_geotiff
from plantwatch.data.sample import MASK_UNLABELLED


@dataclass
class NativeImage:
    """One published image: ``dn`` uint16 [C, H, W] (reflectance × 10000), its CRS and
    transform, and the path it was read from."""

    dn: np.ndarray
    crs: str
    transform: Affine
    path: Path


def read_header(path: str | Path) -> tuple[str, Affine, int, int]:
    """(CRS, transform, height, width) of a GeoTIFF without reading its pixels.

    Raises:
        DatasetError: unreadable file, or one without a CRS (sites need the georeference).
    """
    path = Path(path)
    try:
        with rasterio.open(path) as src:
            crs, transform, height, width = src.crs, src.transform, src.height, src.width
    except rasterio.errors.RasterioError as error:
        raise DatasetError(f"{path}: not a readable GeoTIFF ({error}); re-download it") from None
    if crs is None:
        raise DatasetError(
            f"{path}: no coordinate reference system; the georeference is needed to group "
            "images by site — use the dataset's original GeoTIFFs"
        )
    return crs.to_string(), transform, height, width


def read_native_image(path: str | Path, bands: int) -> NativeImage:
    """Read a published Sentinel-2 GeoTIFF as reflectance × 10000.

    Integer files are taken as DN already; float files whose values all lie in [0, 2] are
    taken as reflectance and scaled by 10000.

    Raises:
        DatasetError: unreadable file, a band count other than ``bands``, NaN, negative
            values or values beyond uint16, each naming the file.
    """
    path = Path(path)
    data, profile = read_geotiff(path)
    if data.shape[0] != bands:
        raise DatasetError(
            f"{path}: has {data.shape[0]} bands, expected {bands} (all Sentinel-2 bands, "
            "B01…B12 with B8A and B10); re-export the full image"
        )
    values = data.astype(np.float64)
    if np.isnan(values).any():
        raise DatasetError(f"{path}: contains NaN; fill or drop the image")
    if values.min() < 0:
        raise DatasetError(f"{path}: negative values (min {values.min():g}); expected DN ≥ 0")
    if np.issubdtype(data.dtype, np.floating) and values.max() <= 2.0:
        values = values * layout.REFLECTANCE_SCALE
    if values.max() > np.iinfo(np.uint16).max:
        raise DatasetError(f"{path}: values up to {values.max():g} do not fit uint16 DN")
    crs = profile["crs"].to_string() if profile.get("crs") else ""
    return NativeImage(np.rint(values).astype(np.uint16), crs, profile["transform"], path)


@dataclass
class Fitted:
    """An image brought to ``size`` × ``size``: ``dn`` [C, size, size], ``mask`` [size, size]
    (None when the image has none; padding is ``MASK_UNLABELLED``), the new transform, the
    padded pixel count and the share of plume pixels the crop cut off (0–1)."""

    dn: np.ndarray
    mask: np.ndarray | None
    transform: Affine
    padded_pixels: int
    plume_lost: float


def fit_to_size(image: NativeImage, mask: np.ndarray | None, size: int) -> Fitted:
    """Centre-crop a larger image (the plant is at the centre; no resampling, so masks stay
    binary) and pad a smaller one at the bottom and right by repeating its last row and
    column, as the smoke-plume authors did, with the padding marked unlabelled."""
    dn, transform = image.dn, image.transform
    height, width = dn.shape[1:]
    top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    plume_before = 0 if mask is None else int((mask == 1).sum())
    dn = dn[:, top : top + size, left : left + size]
    if mask is not None:
        mask = mask[top : top + size, left : left + size]
    transform = transform @ Affine.translation(left, top)
    pad_rows, pad_cols = size - dn.shape[1], size - dn.shape[2]
    padded = size * size - dn.shape[1] * dn.shape[2]
    if pad_rows or pad_cols:
        dn = np.pad(dn, ((0, 0), (0, pad_rows), (0, pad_cols)), mode="edge")
        if mask is not None:
            mask = np.pad(mask, ((0, pad_rows), (0, pad_cols)), constant_values=MASK_UNLABELLED)
    plume_after = 0 if mask is None else int((mask == 1).sum())
    lost = 1.0 - plume_after / plume_before if plume_before else 0.0
    return Fitted(dn, mask, transform, padded, lost)
