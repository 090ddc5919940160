"""The static landscape around a synthetic power plant: land cover and plant site.

Everything here is fixed for a plant across all its observations (it is the same place):
forest and cropland parcels, villages, a river (thermal plants sit by cooling water), and
the plant itself — a built-up footprint sized by capacity with boiler houses, natural-draft
cooling towers (coal, lignite, peat/oil) or rows of mechanical-draft cells (gas), stacks,
a coal yard (coal, lignite), an open-pit mine (lignite) or oil tanks (peat/oil).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from plantwatch.data.synthetic.plume import Source
from plantwatch.data.synthetic.spectra import material


@dataclass(frozen=True)
class Structure:
    """A tall structure that casts a shadow: a cooling tower, cell or stack.

    Attributes:
        row: pixel row of the centre.
        col: pixel column of the centre.
        radius_px: radius in pixels.
        height_m: height above ground, m.
    """

    row: float
    col: float
    radius_px: float
    height_m: float


@dataclass(frozen=True)
class Landscape:
    """Static scene content of one plant.

    Attributes:
        materials: material index per pixel (see ``spectra.MATERIAL_NAMES``), int64 [H, W].
        crop_phase: phenology offset of each cropland parcel, float32 [H, W].
        texture: multiplicative brightness texture, float32 [H, W].
        structures: shadow-casting structures.
        sources: plume sources with their share of the waste heat.
        site_center: (row, col) of the plant footprint's centre in pixels.
    """

    materials: np.ndarray
    crop_phase: np.ndarray
    texture: np.ndarray
    structures: tuple[Structure, ...]
    sources: tuple[Source, ...]
    site_center: tuple[float, float]


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise with zero mean and unit std, float32 [H, W]."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return ((field - field.mean()) / (field.std() + 1e-12)).astype(np.float32)


def _disk(rows: np.ndarray, cols: np.ndarray, row: float, col: float, radius: float) -> np.ndarray:
    return (rows - row) ** 2 + (cols - col) ** 2 <= radius**2


def make_landscape(
    rng: np.random.Generator,
    size: int,
    fuel: str,
    capacity_mw: float,
    pixel_size_m: float = 10.0,
) -> Landscape:
    """Draw the landscape of a plant of ``fuel`` and ``capacity_mw`` on a size × size grid."""
    shape = (size, size)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    mats = np.full(shape, material("crop_green"), np.int64)

    # Cropland parcels on a rotated grid, each with its own phenology offset.
    theta = rng.uniform(0.0, np.pi / 2)
    width, height = rng.uniform(12, 30, 2)
    u = np.floor((cols * np.cos(theta) + rows * np.sin(theta)) / width + 3 * size).astype(int)
    v = np.floor((-cols * np.sin(theta) + rows * np.cos(theta)) / height + 3 * size).astype(int)
    phases = rng.uniform(-0.6, 0.4, (u.max() + 1, v.max() + 1)).astype(np.float32)
    crop_phase = phases[u, v]

    mats[smooth_noise(rng, shape, size / 6) > 0.6] = material("forest_leaf")
    mats[smooth_noise(rng, shape, size / 12) > 1.7] = material("built")
    texture = 1.0 + 0.06 * smooth_noise(rng, shape, 1.5)

    center = size / 2 + rng.uniform(-0.08, 0.08, 2) * size
    side = float(np.clip(8 + 0.8 * np.sqrt(capacity_mw), 10, 0.45 * size))
    alpha = rng.uniform(0.0, np.pi / 2)
    a = (cols - center[1]) * np.cos(alpha) + (rows - center[0]) * np.sin(alpha)
    b = -(cols - center[1]) * np.sin(alpha) + (rows - center[0]) * np.cos(alpha)

    def site_point(a_px: float, b_px: float) -> tuple[float, float]:
        return (
            center[0] + a_px * np.sin(alpha) + b_px * np.cos(alpha),
            center[1] + a_px * np.cos(alpha) - b_px * np.sin(alpha),
        )

    if rng.random() < 0.6:  # a river passing the plant
        normal = rng.uniform(0.0, 2 * np.pi)
        along = -(cols - center[1]) * np.sin(normal) + (rows - center[0]) * np.cos(normal)
        across = (cols - center[1]) * np.cos(normal) + (rows - center[0]) * np.sin(normal)
        nearest = side * 0.8 + 6  # clear of the site; may fall outside a small image
        offset = rng.uniform(nearest, max(nearest, 0.48 * size))
        meander = rng.uniform(2, 6) * np.sin(
            2 * np.pi * along / rng.uniform(40, 90) + rng.uniform(0, 6)
        )
        mats[np.abs(across - offset - meander) < rng.uniform(1.5, 5)] = material("water")

    if fuel == "lignite":  # terraced open-pit mine in the distance
        direction = rng.uniform(0.0, 2 * np.pi)
        mine_row = center[0] + 0.7 * size * np.sin(direction)
        mine_col = center[1] + 0.7 * size * np.cos(direction)
        distance = np.hypot(rows - mine_row, cols - mine_col)
        radius = rng.uniform(0.4, 0.6) * size
        mats[distance < radius] = material("mine")
        texture = np.where(
            distance < radius, texture * (1 + 0.12 * np.sin(distance / 2.5)), texture
        )

    on_site = (np.abs(a) < side / 2) & (np.abs(b) < side * 0.35)
    mats[on_site] = material("built")
    for _ in range(rng.integers(1, 4)):  # boiler and turbine houses
        ha, hb = rng.uniform(0.1, 0.25, 2) * side
        ca, cb = rng.uniform(-0.25, 0.25) * side, rng.uniform(-0.15, 0.15) * side
        mats[(np.abs(a - ca) < ha / 2) & (np.abs(b - cb) < hb / 2)] = material("concrete")

    structures: list[Structure] = []
    sources: list[Source] = []
    if fuel in ("lignite", "hard_coal"):
        yard = 6 + capacity_mw / 150
        mats[(a > side / 2) & (a < side / 2 + yard) & (np.abs(b) < side * 0.3)] = material("coal")
    if fuel == "peat_oil":
        for k in range(int(rng.integers(2, 6))):
            row, col = site_point(side / 2 + 5, (k - 2) * 7.0)
            mats[_disk(rows, cols, row, col, rng.uniform(2, 3.5))] = material("tank")

    if fuel == "gas":  # a row of mechanical-draft cooling cells
        cells = int(np.clip(round(capacity_mw / 100), 3, 12))
        for k in range(cells):
            row, col = site_point(-side / 2 - 3, (k - (cells - 1) / 2) * 3.5)
            structures.append(Structure(row, col, 1.5, 15.0))
            sources.append(Source(row, col, 8.0, 0.85 / cells))
    else:  # natural-draft cooling towers
        towers = int(np.clip(round(capacity_mw / 700), 1, 6))
        radius = float(np.clip(4 + capacity_mw / 1000, 4, 7))
        for k in range(towers):
            row, col = site_point(-side / 2 - radius - 2, (k - (towers - 1) / 2) * (2 * radius + 3))
            structures.append(Structure(row, col, radius, rng.uniform(120, 180)))
            sources.append(Source(row, col, 0.8 * radius * pixel_size_m, 0.85 / towers))
    stacks = max(1, round(capacity_mw / (400 if fuel == "gas" else 1200)))
    for k in range(stacks):
        row, col = site_point(rng.uniform(-0.3, 0.3) * side, (k - (stacks - 1) / 2) * 5.0)
        stack_height = rng.uniform(60, 90) if fuel == "gas" else rng.uniform(150, 250)
        structures.append(Structure(row, col, 1.0, stack_height))
        sources.append(Source(row, col, 5.0, 0.15 / stacks))

    for s in structures:
        mats[_disk(rows, cols, s.row, s.col, s.radius_px)] = material("concrete")
        if s.radius_px >= 3:  # the open top of a natural-draft tower shows its dark interior
            mats[_disk(rows, cols, s.row, s.col, s.radius_px - 1.5)] = material("water")

    return Landscape(
        materials=mats,
        crop_phase=crop_phase,
        texture=texture.astype(np.float32),
        structures=tuple(structures),
        sources=tuple(sources),
        site_center=(float(center[0]), float(center[1])),
    )
