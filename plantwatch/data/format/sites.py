"""Sites: images whose footprints lie close together show the same place, so they must share
a split (plant-grouped splits for datasets that do not name their plants)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pyproj import Transformer
from rasterio.transform import Affine
from sklearn.cluster import DBSCAN

EARTH_RADIUS_M = 6_371_000.0


def footprint_centre(
    crs: str, transform: Affine, height: int, width: int
) -> tuple[float, float, float]:
    """(lon, lat) in degrees of an image's centre and its footprint width in metres (the
    larger side; pixel size from the transform, assumed metric as in UTM)."""
    x, y = transform @ (width / 2, height / 2)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    extent = max(abs(transform.a) * width, abs(transform.e) * height)
    return float(lon), float(lat), float(extent)


def group_sites(
    lon: Sequence[float], lat: Sequence[float], extent_m: float, distance_m: float = 1000.0
) -> np.ndarray:
    """Site index per image, int64 [N]: images are one site when a chain of neighbours links
    them, neighbours being footprints (squares of side ``extent_m``, approximated by their
    centres) at most ``distance_m`` apart, i.e. centres within ``extent_m + distance_m``.

    Sites are numbered in order of first appearance.
    """
    points = np.radians(np.column_stack([lat, lon]))
    if len(points) == 0:
        return np.zeros(0, np.int64)
    radius = (extent_m + distance_m) / EARTH_RADIUS_M
    labels = DBSCAN(eps=radius, min_samples=1, metric="haversine").fit_predict(points)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int64)
