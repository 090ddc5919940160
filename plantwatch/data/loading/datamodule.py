"""`DataModule`: loaders over any dataset class that satisfies the dataset contract.

A dataset class is chosen by class path with its own arguments, as torchgeo's datamodules
do; the datamodule adds what every dataset shares: the split set, the training label
fraction, the augmentation, optionally a validation split whose labels are cut to the
training label fraction, seeded loader workers, and a collate that batches samples of
datasets with different targets. A `DatasetSource` (e.g. the synthetic generator) may
produce the dataset first, in ``prepare_data``.

For GPUs, ``pack`` reads a packed copy of the dataset (``data/packing/writer.py``, made on first
use) a whole batch at a time; batches travel in their compact stored dtypes, are decoded on
the device, and a `DeviceAugmentation` augments them there (``on_after_batch_transfer``),
so reading is copying arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from jsonargparse import lazy_instance
from lightning.fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader, Dataset, get_worker_info

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.augmentation.device import DeviceAugmentation
from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.errors import DatasetError
from plantwatch.data.format import layout
from plantwatch.data.format.label_sets import hidden_labels, read_label_set
from plantwatch.data.format.splits import fraction_split_name
from plantwatch.data.format.statistics import Statistics
from plantwatch.data.format.writer import dataset_lock, ensure_split_set
from plantwatch.data.loading.contract import PlantwatchDataset, SampleDataset
from plantwatch.data.loading.epoch_loader import EpochLoader, epoch_seed, run_seed, seed_generators
from plantwatch.data.loading.plant_pair_batches import PlantPairBatches
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.loading.source import DatasetSource
from plantwatch.data.packing.reader import PackedDataset
from plantwatch.data.packing.writer import fingerprint, pack_dataset
from plantwatch.data.readers.observations import PlantObservations

INPUT_FLAGS = ("has_capacity",)  # flags of inputs, not of task labels: never cut
# The default augmentation, built when a datamodule is (jsonargparse's lazy instance).
DEFAULT_AUGMENTATION = lazy_instance(Augmentation)
# Trainer stage → the dataset its batches come from.
STAGE_DATASETS = {"train": "train", "sanity_check": "val", "validate": "val", "test": "test",
                  "predict": "predict"}  # fmt: skip


def seed_worker(worker_id: int) -> None:
    """Loader worker start: Lightning's seeding, then the augmentation's own random state
    from the worker's torch seed (derived from the run seed, distinct per worker)."""
    pl_worker_init_function(worker_id)
    transforms = getattr(get_worker_info().dataset, "transforms", None)
    if hasattr(transforms, "set_random_seed"):
        transforms.set_random_seed(torch.initial_seed() % 2**31)


class CutLabels(Dataset):
    """A dataset whose labels are kept only for some samples per task (flags false else).

    Args:
        dataset: the dataset (its other attributes are passed through).
        dropped: per presence flag, the sample indices whose label is hidden.
    """

    def __init__(self, dataset: SampleDataset, dropped: dict[str, set[int]]) -> None:
        self.dataset = dataset
        self.dropped = dropped

    def __getattr__(self, name: str) -> Any:
        if "dataset" not in self.__dict__:  # while unpickling in a spawned worker
            raise AttributeError(name)
        return getattr(self.__dict__["dataset"], name)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.dataset[index]
        for flag, indices in self.dropped.items():
            if index in indices:
                sample[flag] = torch.tensor(False)
        return sample

    def __getitems__(self, indices: list[int]) -> dict[str, Any] | list[dict[str, Any]]:
        """A batch read whole where the dataset can (``__getitems__``), its flags cut."""
        fetch = getattr(self.dataset, "__getitems__", None)
        if fetch is None:
            return [self[i] for i in indices]
        batch = fetch(indices)
        for flag, dropped in self.dropped.items():
            hidden = torch.tensor([i in dropped for i in indices])
            batch[flag] = batch[flag] & ~hidden
        return batch


def cut_labels(labels: Any, fraction: float, minimum: int, seed: int) -> dict[str, set[int]]:
    """Per presence flag, the labelled samples to hide so that ``fraction`` of them stay
    (at least ``minimum``): a fixed random order, so smaller fractions keep subsets."""
    order = np.random.default_rng(seed).permutation(len(labels))
    dropped = {}
    for flag in (c for c in labels if c.startswith("has_") and c not in INPUT_FLAGS):
        labelled = [i for i in order if labels[flag].iat[i]]
        keep = max(minimum, math.ceil(fraction * len(labelled)))
        dropped[flag] = {int(i) for i in labelled[keep:]}
    return dropped


class DataModule(L.LightningDataModule):
    """Train/val/test loaders of a dataset class.

    Args:
        root: dataset folder.
        dataset: the dataset class (``class_path``) and its own arguments (``init_args``);
            called as ``dataset(root, split, bands=…, transforms=…, split_seed=…)``.
        source: produces the dataset in ``root`` when it holds none (e.g.
            ``plantwatch.data.synthetic.source.SyntheticPlants``); None: it must exist.
        bands: band names fed to the model, in order (set through ``model.init_args.bands``);
            None for the 12 L2A bands, the model's default (B10 dropped by name from L1C).
        split_seed: None for the split set written with the dataset; k for a split set drawn
            with seed k (written on first use), so studies can vary the split.
        label_fraction: share of the training split used (1.0, or a fraction whose split
            file exists, e.g. 0.01, 0.1, 0.5).
        cut_val_labels: keep validation labels only for ``label_fraction`` of the labelled
            validation samples per task (at least ``min_val_labels``), as a user with few
            labels would have; model selection then sees no more labels than training.
        min_val_labels: floor of labelled validation samples per task when cutting.
        batch_size: samples per batch.
        num_workers: loader worker processes (also the reading processes of ``pack``).
        augmentation: training augmentation: ``Augmentation`` per sample in the loader
            (CPU), ``DeviceAugmentation`` per batch on the device after transfer; None: none.
        pin_memory: pin batches in page-locked memory (GPU training).
        prefetch_factor: batches each worker loads ahead (None: PyTorch's default, 2).
        pack: read a packed copy of the dataset (``packed_root``), made from ``root`` with
            ``dataset`` on first use; batches are read whole and decoded on the device.
        packed_root: where the packed copy lives; None: ``<root>/packed``.
        predict_split: what ``plantwatch predict`` reads: a split name (``test``, ``val`` …)
            or None for every observation.
        predict_root: another dataset (same class) to predict over, e.g. a new download;
            None: ``root``. The model normalises with its checkpoint's statistics.
        label_set: a label set file (``plantwatch select`` writes them;
            ``data/format/label_sets.py``): the training labels of its flags (e.g. the
            plume masks) are kept only for its observations, every other label stays.
        prepare_per_node: who produces and packs the dataset on several nodes. False (a
            shared file system, the usual cluster): the first process of the first node,
            while every other process waits; True (``root`` on each node's own disk): the
            first process of every node.
        batches: ``shuffled`` samples, or ``plant_pairs``: training and validation batches
            of two scenes of each of ``batch_size / 2`` plants (same-plant contrastive
            pretraining, `SamePlantTask`).
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        dataset: Callable[[str, str], PlantwatchDataset] = PlantObservations,
        source: DatasetSource | None = None,
        bands: list[str] | None = None,
        split_seed: int | None = None,
        label_fraction: float = 1.0,
        cut_val_labels: bool = False,
        min_val_labels: int = 5,
        batch_size: int = 16,
        num_workers: int = 0,
        augmentation: Augmentation | DeviceAugmentation | None = DEFAULT_AUGMENTATION,
        pin_memory: bool = False,
        prefetch_factor: int | None = None,
        pack: bool = False,
        packed_root: str | None = None,
        predict_split: str | None = "test",
        predict_root: str | None = None,
        label_set: str | None = None,
        prepare_per_node: bool = False,
        batches: Literal["shuffled", "plant_pairs"] = "shuffled",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["dataset", "source", "augmentation"])
        self.prepare_data_per_node = prepare_per_node  # Lightning's switch
        self.root = Path(root)
        self.dataset_class = dataset
        self.source = source
        self.augmentation = augmentation
        self.datasets: dict[str, SampleDataset] = {}
        self._resumed_epoch: int | None = None  # the first epoch of a resumed fit

    @property
    def train_split(self) -> str:
        """Split file of the training set at the configured label fraction."""
        fraction = self.hparams.label_fraction
        return "train" if fraction >= 1.0 else fraction_split_name(fraction)

    @property
    def statistics(self) -> Statistics:
        """Training statistics of the split set (the same object for every split)."""
        if not self.datasets:
            raise RuntimeError("call setup() before reading the statistics")
        return next(iter(self.datasets.values())).statistics

    def prepare_data(self) -> None:
        """Produce the dataset with the source when ``root`` holds none, and the split set of
        a canonical dataset. Other layouts (e.g. ben-ge, read in place) are checked by their
        dataset class."""
        if self.source is not None:
            self.source.prepare(self.root)
        elif not self.root.exists():
            raise DatasetError(
                f"{self.root}: not found; point `root` at a dataset folder or give a `source` "
                "that produces one (e.g. SyntheticPlants, SmokePlumes, Hanna2021)"
            )
        if self.hparams.split_seed is not None and (self.root / layout.DATASET_JSON).is_file():
            ensure_split_set(self.root, self.hparams.split_seed)
        if self.hparams.pack:
            self._pack()

    @property
    def packed_root(self) -> Path:
        """The packed copy's folder."""
        given = self.hparams.packed_root
        return Path(given) if given else self.root / "packed"

    def _source(self, split: str | None, split_seed: int | None) -> SampleDataset:
        """The source dataset as packed: every band, no augmentation."""
        return self.dataset_class(str(self.root), split, bands=None, transforms=None,
                                  split_seed=split_seed)  # fmt: skip

    def _pack(self) -> None:
        """Pack ``root`` into ``packed_root`` (resuming an interrupted pack) or add the split
        set in use to an existing pack, one process at a time (``pack_dataset`` refuses a
        pack of an older version of the source)."""
        out = self.packed_root
        with dataset_lock(out):
            pack_dataset(self._source, out, self.root, split_seeds=(self.hparams.split_seed,),
                         workers=self.hparams.num_workers,
                         fingerprint=fingerprint(self.root))  # fmt: skip

    def build(
        self, split: str | None, augment: bool = False, root: str | Path | None = None
    ) -> SampleDataset:
        """A dataset of ``split`` (e.g. ``self.train_split``; None: all observations) of
        ``root`` (default: the datamodule's), with or without augmentation."""
        h = self.hparams
        on_cpu = not isinstance(self.augmentation, DeviceAugmentation)
        transforms = self.augmentation if augment and on_cpu else None
        bands = list(h.bands or L2A_BAND_NAMES)
        settings = {"bands": bands, "transforms": transforms, "split_seed": h.split_seed}
        if h.pack and root is None:
            dataset = PackedDataset(self.packed_root, split, pin_memory=h.pin_memory, **settings)
        else:
            dataset = self.dataset_class(str(root or self.root), split, **settings)
        if not isinstance(dataset, SampleDataset):
            raise TypeError(
                f"{type(dataset).__name__} does not satisfy the dataset contract "
                "(plantwatch.data.loading.contract.SampleDataset)"
            )
        return dataset

    def training_set(self, augment: bool = True) -> SampleDataset:
        """The training split at the label fraction, its labels cut to the label set."""
        train = self.build(self.train_split, augment=augment)
        if self.hparams.label_set is not None:
            ids = list(train.labels()["obs_id"])
            train = CutLabels(train, hidden_labels(read_label_set(self.hparams.label_set), ids))
        return train

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets the stage needs (``fit``, ``validate``, ``test``, ``predict``)."""
        h = self.hparams
        if stage in ("fit", None):
            self.datasets["train"] = self.training_set()
        if stage in ("fit", "validate", None):
            val = self.build("val")
            if h.cut_val_labels and h.label_fraction < 1.0:
                seed = 0 if h.split_seed is None else h.split_seed
                val = CutLabels(
                    val, cut_labels(val.labels(), h.label_fraction, h.min_val_labels, seed)
                )
            self.datasets["val"] = val
        if stage in ("test", None):
            self.datasets["test"] = self.build("test")
        if stage == "predict":
            self.datasets["predict"] = self.build(h.predict_split, root=h.predict_root)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        """A loader of a split; a shuffled one (training) drops a last batch of a single
        sample (a different one each epoch), which batch normalisation cannot train on, and
        seeds each epoch (`EpochLoader`). With ``batches: plant_pairs`` the training and
        validation batches are same-plant pairs (`PlantPairBatches`)."""
        h = self.hparams
        dataset = self.datasets[name]
        workers = {
            "num_workers": h.num_workers, "collate_fn": collate_samples,
            "worker_init_fn": seed_worker if h.num_workers > 0 else None,
            "pin_memory": h.pin_memory, "persistent_workers": h.num_workers > 0,
            "prefetch_factor": h.prefetch_factor if h.num_workers > 0 else None,
            "start_epoch": self._start_training_epoch if shuffle else None,
        }  # fmt: skip
        if h.batches == "plant_pairs" and name in ("train", "val"):
            plants = [str(p) for p in dataset.labels()["plant_id"]]
            pairs = PlantPairBatches(plants, h.batch_size, shuffle=shuffle)
            return EpochLoader(dataset, batch_sampler=pairs, **workers)
        return EpochLoader(dataset, batch_size=h.batch_size, shuffle=shuffle,
                           drop_last=shuffle and len(dataset) % h.batch_size == 1,
                           **workers)  # fmt: skip

    def reseed(self, seed: int) -> None:
        """Seed the augmentation's own random state in this process (on the device: ``seed``
        plus the process's rank); loader workers seed theirs when they start."""
        if isinstance(self.augmentation, DeviceAugmentation):
            rank = self.trainer.global_rank if self.trainer is not None else 0
            self.augmentation.set_random_seed(seed + rank)
        elif self.augmentation is not None and self.hparams.num_workers == 0:
            self.augmentation.set_random_seed(seed)

    def _start_training_epoch(self) -> None:
        """Seed the global generators and the augmentation from the run's seed and the epoch
        about to be trained (unseeded run: the augmentation from torch's generator)."""
        seed = run_seed()
        if seed is None:
            self.reseed(int(torch.randint(2**31, ())))
            return
        # A resumed fit makes its first iterator before the trainer has restored its epoch.
        epoch, self._resumed_epoch = self._resumed_epoch, None
        if epoch is None:
            epoch = self.trainer.current_epoch if self.trainer is not None else 0
        seed = epoch_seed(seed, epoch)
        seed_generators(seed)
        self.reseed(seed)

    def state_dict(self) -> dict[str, Any]:
        """In checkpoints: the epoch that a fit resumed from the checkpoint trains first (the
        next one after an epoch's end; the same one from the middle of an epoch, where
        Lightning's SLURM requeue saves, which a resumed fit cannot repeat exactly)."""
        if self.trainer is None:
            return {}
        ended = getattr(self.trainer.fit_loop.epoch_loop, "done", True)
        return {"next_epoch": self.trainer.current_epoch + int(ended)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resumed_epoch = state_dict.get("next_epoch")

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def decode(self, batch: dict[str, Any], split: str) -> dict[str, Any]:
        """A batch of ``split`` (``train``, ``val`` …) in the sample contract's dtypes: packed
        batches decoded where they are (on the device after transfer), others unchanged."""
        decoder = getattr(self.datasets.get(split), "decode", None)
        return decoder(batch) if decoder is not None else batch

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """On the device: decode packed batches, then augment training batches with a
        `DeviceAugmentation`."""
        if self.trainer is None:
            return batch
        running = self.trainer.state.stage
        stage = STAGE_DATASETS.get(running.value if running is not None else "", "train")
        batch = self.decode(batch, stage)
        if stage == "train" and isinstance(self.augmentation, DeviceAugmentation):
            batch = self.augmentation(batch)
        return batch

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)
