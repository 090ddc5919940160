"""Preview figures of observations: true-colour image, plume outline, labels in the title."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from plantwatch import physics
from plantwatch.bands import RGB, band_indices
from plantwatch.data.loading.sample import MASK_UNLABELLED
from plantwatch.data.readers.observations import PlantObservations


def rgb_composite(
    reflectance: np.ndarray, bands: Sequence[str], percentiles: tuple[float, float] = (1, 99)
) -> np.ndarray:
    """True-colour composite of reflectance [C, H, W] → float [H, W, 3] in 0–1.

    Each channel is stretched linearly between the given percentiles of the three bands.
    """
    rgb = reflectance[band_indices(bands, RGB)].transpose(1, 2, 0).astype(np.float64)
    low, high = np.percentile(rgb, percentiles)
    return np.clip((rgb - low) / max(high - low, 1e-6), 0.0, 1.0)


def _pick(dataset: PlantObservations, count: int) -> list[int]:
    """Indices of up to ``count`` observations: per fuel in turn, masked and running first."""
    frame = dataset.observations.reset_index(drop=True)
    score = (frame["mask"] != "").astype(int) * 2 + (frame["generation_mw"] > 0).astype(int)
    order = frame.assign(score=score).sort_values(["score", "obs_id"], ascending=[False, True])
    by_fuel = [list(group.index) for _, group in order.groupby("fuel_type", sort=True)]
    picked: list[int] = []
    while len(picked) < min(count, len(frame)):
        for group in by_fuel:
            if group and len(picked) < count:
                picked.append(group.pop(0))
    return picked


def render_preview(root: str | Path, out: str | Path, count: int = 8, columns: int = 4) -> Path:
    """Save a PNG grid of ``count`` observations of the dataset at ``root`` to ``out``."""
    dataset = PlantObservations(root)
    picked = _pick(dataset, count)
    rows = max(1, int(np.ceil(len(picked) / columns)))
    figure = Figure(figsize=(3.2 * columns, 3.5 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, index in zip(axes.flat, picked, strict=False):
        sample = dataset[index]
        ax.imshow(rgb_composite(sample["image"].numpy(), dataset.bands))
        mask = sample["mask"].numpy()
        if sample["has_mask"] and (mask == 1).any():
            ax.contour(np.where(mask == MASK_UNLABELLED, 0, mask), levels=[0.5], colors="red")
        fuel = physics.FUEL_NAMES[int(sample["fuel"])] if sample["has_fuel"] else "fuel ?"
        plume = "" if sample["has_mask"] else " (no mask)"
        ax.set_title(
            f"{sample['obs_id']}{plume}\n{fuel} · {float(sample['power']):.0f} MW · "
            f"{float(sample['co2']):.0f} t CO₂/h",
            fontsize=9,
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    return out
