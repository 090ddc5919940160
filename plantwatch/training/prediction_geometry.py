"""Where a prediction is on Earth: the image centre in longitude/latitude, and the predicted
plume mask as polygons (WGS 84) for a GeoPackage."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from rasterio.features import shapes
from rasterio.transform import Affine
from shapely.geometry import shape

WGS84 = "EPSG:4326"
PLUMES_GPKG = "plumes.gpkg"
ATTRIBUTES = ("obs_id", "plant_id", "datetime", "task", "area_m2")  # of each polygon


@cache
def _to_wgs84(crs: str) -> Transformer:
    return Transformer.from_crs(crs, WGS84, always_xy=True)


def centre_lon_lat(transform: Affine, crs: str, height: int, width: int) -> tuple[float, float]:
    """The image centre as (longitude, latitude) in degrees, WGS 84."""
    x, y = transform @ (width / 2, height / 2)
    lon, lat = _to_wgs84(crs).transform(x, y)
    return round(float(lon), 6), round(float(lat), 6)


def plume_polygons(mask: np.ndarray, transform: Affine, crs: str) -> list[dict[str, Any]]:
    """The connected areas of a 0/1 mask [H, W]: ``area_m2`` (in the image's CRS, metres
    for UTM) and ``geometry`` (a polygon in WGS 84) each; none for an empty mask."""
    found = [shape(g) for g, v in shapes(mask.astype(np.uint8), transform=transform) if v]
    if not found:
        return []
    native = gpd.GeoSeries(found, crs=crs)
    return [{"area_m2": round(float(area), 1), "geometry": geometry}
            for area, geometry in zip(native.area, native.to_crs(WGS84), strict=True)]  # fmt: skip


def polygons_frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """``rows`` (attributes and a WGS 84 ``geometry``) as a GeoDataFrame."""
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else [*ATTRIBUTES, "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84)


def write_polygons(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``frame`` as the GeoPackage layer ``plumes`` (empty where no plume was
    predicted), replacing ``path`` only once it is whole."""
    partial = path.with_name(f".partial.{path.name}")  # keeps the .gpkg extension
    partial.unlink(missing_ok=True)
    frame.to_file(partial, layer="plumes", driver="GPKG")
    os.replace(partial, path)
    return path


def merge_rank_polygons(folder: Path) -> Path:
    """Merge the per-process ``plumes_rank<k>.gpkg`` of a multi-device run into
    ``plumes.gpkg``: an observation's polygons from one process only (the distributed sampler
    repeats a few observations); the rank files are removed."""
    parts = sorted(folder.glob("plumes_rank*.gpkg"))
    frames = [gpd.read_file(p).assign(_rank=k) for k, p in enumerate(parts)]
    merged = pd.concat(frames, ignore_index=True)
    first = merged.groupby("obs_id")["_rank"].transform("min")
    merged = gpd.GeoDataFrame(merged[merged["_rank"] == first].drop(columns="_rank"), crs=WGS84)
    write_polygons(merged, folder / PLUMES_GPKG)
    for part in parts:
        part.unlink()
    return folder / PLUMES_GPKG
