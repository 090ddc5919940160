"""Sentinel-2 bands of mixed resolution onto the 10 m grid.

The 20 m bands (B05 B06 B07 B8A B11 B12) and 60 m bands (B01 B09 B10) are upsampled by
pixel repetition, as BigEarthNet models and the earlier plume papers did: every 10 m pixel
takes the value of the coarse pixel it lies in, so no reflectance is invented or smoothed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from plantwatch.bands import resolutions_m


def to_10m(band: np.ndarray, resolution_m: int) -> np.ndarray:
    """One band [H, W] at ``resolution_m`` → [H·r/10, W·r/10] on the 10 m grid."""
    factor = resolution_m // 10
    if factor * 10 != resolution_m or factor < 1:
        raise ValueError(f"resolution {resolution_m} m is not a multiple of 10 m")
    return np.repeat(np.repeat(band, factor, axis=0), factor, axis=1)


def stack_at_10m(bands: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Stack the named bands ([H, W] each, at their native resolution) into [C, H, W] at 10 m.

    Raises:
        ValueError: naming a band whose 10 m size differs from the others.
    """
    stacked = [to_10m(bands[n], int(r)) for n, r in zip(names, resolutions_m(names), strict=True)]
    shapes = {n: a.shape for n, a in zip(names, stacked, strict=True)}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"bands do not cover the same 10 m grid: {shapes}")
    return np.stack(stacked)
