"""Normalisation statistics: per band and per column, computed on a training split only.

The canonical writer computes them when it finalises a split set and stores them beside the
split files (``splits/statistics.json``): band means and standard deviations in reflectance
(0–1, offset removed), and the mean and standard deviation of every numeric column of the
training observations (weather in its units, generation in MW, CO₂ in t/h …). Readers never
compute statistics from the split they read. Without a statistics file they fall back to
the documented defaults below, and raise an error for a channel that has none.

The task module copies the statistics it trains with into buffers, so they travel in every
checkpoint and a model normalises any later dataset the way it was trained.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plantwatch.bands import PRODUCTS
from plantwatch.data.errors import DatasetError

STATISTICS_JSON = "statistics.json"

# Fall-back statistics of the weather columns (ERA-5 near-surface climate of Europe, orders
# of magnitude): used only when a dataset stores none.
DEFAULT_COLUMN_STATS: dict[str, tuple[float, float]] = {
    "temperature_c": (10.0, 8.0),
    "relative_humidity_pct": (75.0, 15.0),
    "wind_u_ms": (0.0, 4.0),
    "wind_v_ms": (0.0, 4.0),
}


def default_statistics(product_name: str, reflectance_scale: float) -> Statistics:
    """The documented defaults: the Sentinel-2 product's band statistics (``bands.PRODUCTS``)
    in reflectance, Sentinel-1 (dB) and DEM (m) statistics, and ``DEFAULT_COLUMN_STATS`` for
    the weather columns."""
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for name, scale in ((product_name, reflectance_scale), ("S1GRD", 1.0), ("COPDEM30", 1.0)):
        product = PRODUCTS[name]
        mean.update({b: m / scale for b, m in zip(product.bands, product.mean, strict=True)})
        std.update({b: s / scale for b, s in zip(product.bands, product.std, strict=True)})
    for column, (m, s) in DEFAULT_COLUMN_STATS.items():
        mean[column], std[column] = m, s
    return Statistics(mean, std, source=f"defaults of {product_name}")


@dataclass(frozen=True)
class Statistics:
    """Mean and standard deviation by channel name (band) or column name.

    Attributes:
        mean: by name; bands in reflectance, columns in their units.
        std: by name, same units.
        source: where they come from (a file, or ``defaults of S2L2A``), for error messages.
        count: observations they were computed on (0 for defaults).
        extra: provenance written with them (split name, split seed).
    """

    mean: Mapping[str, float]
    std: Mapping[str, float]
    source: str = ""
    count: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)

    def of(self, names: Sequence[str], floor: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of ``names``, float32 [len(names)] each; std at least ``floor``.

        Raises:
            DatasetError: naming the channels without statistics and where they were read.
        """
        missing = [n for n in names if n not in self.mean or n not in self.std]
        if missing:
            raise DatasetError(
                f"{self.source}: no statistics for {missing}; finalise the dataset "
                "(plantwatch.data.format.writer.finalize) to compute them on the training split"
            )
        mean = np.array([self.mean[n] for n in names], np.float32)
        std = np.array([self.std[n] for n in names], np.float32)
        return mean, np.maximum(std, floor)

    def write(self, path: str | Path) -> None:
        """Write as JSON (atomically)."""
        path = Path(path)
        record = {"count": self.count, **dict(self.extra),
                  "mean": {k: round(float(v), 6) for k, v in self.mean.items()},
                  "std": {k: round(float(v), 6) for k, v in self.std.items()}}  # fmt: skip
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(record, indent=1) + "\n")
        partial.replace(path)

    @classmethod
    def read(cls, path: str | Path) -> Statistics:
        """Read a statistics file written by :meth:`write`."""
        path = Path(path)
        try:
            record = json.loads(path.read_text())
            return cls(record["mean"], record["std"], str(path), int(record.get("count", 0)))
        except (OSError, ValueError, KeyError) as error:
            raise DatasetError(
                f"{path}: unreadable statistics ({error}); finalise the dataset again"
            ) from error
