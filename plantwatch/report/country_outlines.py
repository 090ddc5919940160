"""Country outlines for the report's map without a tile server: Natural Earth's 1:110m
countries (public domain), as shipped inside pyogrio (a dependency of geopandas)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import box

NATURAL_EARTH = Path("tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp")
SOURCE = "Natural Earth 1:110m countries (public domain)"


def outline_file() -> Path | None:
    """The Natural Earth file in the installed pyogrio, or None where it is missing."""
    try:
        import pyogrio
    except ImportError:
        return None
    path = Path(pyogrio.__file__).parent / NATURAL_EARTH
    return path if path.is_file() else None


def country_outlines(
    lon: np.ndarray, lat: np.ndarray, margin_deg: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Country borders around the points (``lon``, ``lat``: degrees) plus ``margin_deg``,
    as one polyline with NaN between the rings (Plotly draws it as a single trace);
    empty arrays where the outlines are not installed."""
    path = outline_file()
    if path is None or not len(lon):
        return np.array([]), np.array([])
    area = box(np.min(lon) - margin_deg, np.min(lat) - margin_deg,
               np.max(lon) + margin_deg, np.max(lat) + margin_deg)  # fmt: skip
    borders = gpd.read_file(path, bbox=area.bounds).boundary.clip(area)
    xs, ys = [], []
    for geometry in borders:
        for line in getattr(geometry, "geoms", [geometry]):
            x, y = line.xy
            xs += [*x, np.nan]
            ys += [*y, np.nan]
    return np.array(xs), np.array(ys)
