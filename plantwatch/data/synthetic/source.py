"""The built-in synthetic datasets as dataset sources: `SyntheticPlants` (the power-plant
benchmark, canonical layout) and `SyntheticBenGe` (ben-ge's native layout)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Literal

from plantwatch.data.format import layout
from plantwatch.data.loading.source import DatasetSource
from plantwatch.data.synthetic.benge import SETTINGS_JSON, synthesize_benge
from plantwatch.data.synthetic.power_plants import synthesize_power_plants
from plantwatch.files.tables import read_json


def _warn_if_different(root: Path, on_disk: dict, configured: dict) -> None:
    differ = {k: (on_disk.get(k), v) for k, v in configured.items() if on_disk.get(k) != v}
    if differ:
        warnings.warn(
            f"{root} was generated with other settings (on disk, configured): {differ}; "
            "using the data on disk — delete the folder to regenerate",
            stacklevel=3,
        )


class SyntheticPlants(DatasetSource):
    """Generate the synthetic benchmark into the datamodule's root on first use.

    Args:
        plants: number of plants.
        per_plant: observations per plant.
        size: image side in 10 m pixels.
        product: ``S2L2A`` (12 bands) or ``S2L1C`` (13 bands).
        mask_fraction: share of observations with a plume mask.
        seed: generator seed (and the seed of the default split set).
        load_spread: std of the plants' offsets from their fuel's long-run load factor.
        overpasses: ``uniform`` (``per_plant`` days a plant) or ``sentinel2`` (a revisit
            every ``revisit_days`` days, clear by season and latitude).
        revisit_days: days between overpasses with ``sentinel2``.
        progress: show a progress bar.
    """

    def __init__(
        self,
        plants: int = 48,
        per_plant: int = 12,
        size: int = 120,
        product: Literal["S2L2A", "S2L1C"] = "S2L2A",
        mask_fraction: float = 1.0,
        seed: int = 0,
        load_spread: float = 0.0,
        overpasses: Literal["uniform", "sentinel2"] = "uniform",
        revisit_days: int = 5,
        progress: bool = True,
    ) -> None:
        self.settings = {"plants": plants, "per_plant": per_plant, "size": size,
                         "mask_fraction": mask_fraction, "seed": seed,
                         "load_spread": load_spread, "overpasses": overpasses,
                         "revisit_days": revisit_days}  # fmt: skip
        self.product = product
        self.progress = progress

    def write(self, root: Path) -> None:
        synthesize_power_plants(root, product_name=self.product, progress=self.progress,
                                **self.settings)  # fmt: skip

    def check(self, root: Path) -> None:
        info = read_json(root / layout.DATASET_JSON, "a dataset record")
        # what older datasets and the defaults left unrecorded
        on_disk = {"load_spread": 0.0, "overpasses": "uniform", "revisit_days": 5,
                   **info.get("generator", {})}  # fmt: skip
        _warn_if_different(root, on_disk, self.settings)


class SyntheticBenGe(DatasetSource):
    """Generate a synthetic ben-ge (``data/synthetic/benge.py``) into the root on first use;
    read it with `plantwatch.data.readers.benge.dataset.BenGe` and ``subset`` alike.

    Args:
        patches: number of patches (four per acquisition).
        size: patch side in 10 m pixels (a multiple of 6).
        seed: generator seed (and the seed of the split files).
        subset: the name in the table and split files.
        progress: show a progress bar.
    """

    def __init__(self, patches: int = 256, size: int = 120, seed: int = 0,
                 subset: str = "ben-ge-synthetic", progress: bool = True) -> None:  # fmt: skip
        self.settings = {"patches": patches, "size": size, "seed": seed, "subset": subset}
        self.progress = progress

    def write(self, root: Path) -> None:
        synthesize_benge(root, progress=self.progress, **self.settings)

    def complete(self, root: Path) -> bool:
        return (root / SETTINGS_JSON).is_file()

    def check(self, root: Path) -> None:
        _warn_if_different(root, json.loads((root / SETTINGS_JSON).read_text()), self.settings)
