"""Reading and writing GeoTIFFs with errors that name the file and the fix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine

from plantwatch.data.errors import DatasetError


class GeoTiffError(DatasetError):
    """A GeoTIFF that is missing, unreadable or holds the wrong content."""


def read_geotiff(path: str | Path) -> tuple[np.ndarray, dict]:
    """Read all bands of a GeoTIFF.

    Returns:
        (array [C, H, W] in the file's dtype, rasterio profile with ``crs`` and ``transform``).

    Raises:
        GeoTiffError: the file is missing or not a readable GeoTIFF.
    """
    path = Path(path)
    if not path.is_file():
        raise GeoTiffError(f"{path}: file not found; check the 'image'/'mask' column or regenerate")
    try:
        with rasterio.open(path) as src:
            return src.read(), dict(src.profile)
    except rasterio.errors.RasterioError as error:
        raise GeoTiffError(
            f"{path}: not a readable GeoTIFF ({error}); the file is corrupt or truncated — "
            "re-download or regenerate it"
        ) from error


def write_geotiff(
    path: str | Path,
    array: np.ndarray,
    crs: CRS | str,
    transform: Affine,
    nodata: float | None = None,
) -> None:
    """Write ``array`` [C, H, W] (or [H, W]) as a deflate-compressed GeoTIFF, atomically:
    into ``<path>.partial``, then renamed, so a killed writer leaves no truncated file."""
    data = array[None] if array.ndim == 2 else array
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with rasterio.open(
        partial,
        "w",
        driver="GTiff",
        height=data.shape[1],
        width=data.shape[2],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        compress="deflate",
    ) as dst:
        dst.write(data)
    os.replace(partial, path)
