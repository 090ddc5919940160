"""`PlantDataModule`: splits, augmentation and loaders over `PlantObservations`."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Literal

import lightning as L
from torch.utils.data import DataLoader

from plantwatch.data import layout
from plantwatch.data.errors import DatasetError
from plantwatch.data.plants import PlantObservations
from plantwatch.data.splits import fraction_split_name
from plantwatch.data.synthetic.power_plants import synthesize_power_plants
from plantwatch.data.transforms import build_transforms


class PlantDataModule(L.LightningDataModule):
    """Train/val/test loaders of a canonical observation dataset.

    Args:
        root: dataset folder.
        source: ``synthetic`` generates the dataset in ``prepare_data`` when ``root`` holds
            none; ``disk`` expects it to exist.
        plants: synthetic: number of plants.
        per_plant: synthetic: observations per plant.
        size: synthetic: image side in 10 m pixels.
        product: synthetic: ``S2L2A`` (12 bands) or ``S2L1C`` (13 bands).
        mask_fraction: synthetic: share of observations with a plume mask.
        seed: synthetic: generator and split seed.
        bands: band names fed to the model, in order; None for all bands of the product.
        label_fraction: share of the training split used (1.0, or a fraction whose split
            file exists, e.g. 0.01, 0.1, 0.5).
        batch_size: samples per batch.
        num_workers: loader worker processes.
        augment: apply flips/rotations, gain/offset and noise to training samples.
        crop_size: random square crop of training samples in pixels; None for none.
        pin_memory: pin batches in page-locked memory (GPU training).
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        source: Literal["synthetic", "disk"] = "synthetic",
        plants: int = 48,
        per_plant: int = 12,
        size: int = 120,
        product: str = "S2L2A",
        mask_fraction: float = 1.0,
        seed: int = 0,
        bands: list[str] | None = None,
        label_fraction: float = 1.0,
        batch_size: int = 16,
        num_workers: int = 0,
        augment: bool = True,
        crop_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.root = Path(root)
        self.datasets: dict[str, PlantObservations] = {}

    @property
    def train_split(self) -> str:
        """Split file of the training set at the configured label fraction."""
        fraction = self.hparams.label_fraction
        return "train" if fraction >= 1.0 else fraction_split_name(fraction)

    def prepare_data(self) -> None:
        """Generate the synthetic dataset when ``root`` holds none (rank 0 only)."""
        info = self.root / layout.DATASET_JSON
        if info.is_file():
            self._warn_if_generated_differently()
            return
        if self.hparams.source != "synthetic":
            raise DatasetError(
                f"{info}: not found; point `root` at a plantwatch dataset or set source=synthetic"
            )
        h = self.hparams
        synthesize_power_plants(
            self.root, plants=h.plants, per_plant=h.per_plant, size=h.size,
            product_name=h.product, mask_fraction=h.mask_fraction, seed=h.seed,
        )  # fmt: skip

    def _warn_if_generated_differently(self) -> None:
        if self.hparams.source != "synthetic":
            return
        generator = json.loads((self.root / layout.DATASET_JSON).read_text()).get("generator", {})
        configured = {
            k: self.hparams[k] for k in ("plants", "per_plant", "size", "mask_fraction", "seed")
        }
        differ = {k: (generator.get(k), v) for k, v in configured.items() if generator.get(k) != v}
        if differ:
            warnings.warn(
                f"{self.root} was generated with other settings (on disk, configured): {differ}; "
                "using the data on disk — delete the folder to regenerate",
                stacklevel=2,
            )

    def _dataset(self, split: str, train: bool) -> PlantObservations:
        h = self.hparams
        transforms = build_transforms(crop_size=h.crop_size) if train and h.augment else None
        return PlantObservations(self.root, split=split, bands=h.bands, transforms=transforms)

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets the stage needs (``fit``, ``validate``, ``test``, ``predict``)."""
        if stage in ("fit", None):
            self.datasets["train"] = self._dataset(self.train_split, train=True)
        if stage in ("fit", "validate", None):
            self.datasets["val"] = self._dataset("val", train=False)
        if stage in ("test", "predict", None):
            self.datasets["test"] = self._dataset("test", train=False)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        h = self.hparams
        return DataLoader(
            self.datasets[name],
            batch_size=h.batch_size,
            shuffle=shuffle,
            num_workers=h.num_workers,
            pin_memory=h.pin_memory,
            persistent_workers=h.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
