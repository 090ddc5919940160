"""`PackedDataset`: a packed dataset (``data pack``) read a whole batch at a time.

A loader over it calls ``__getitems__`` with the batch's indices: each large key (images,
masks, further modalities) is gathered from its memory-mapped shards with one fancy index
per shard, small keys from arrays held in memory, and the batch leaves the worker in its
stored dtypes (uint16 reflectance numbers, uint8 masks) — half the bytes to pin and to
transfer. :meth:`decode` then restores the sample contract's dtypes on the device
(``DataModule.on_after_batch_transfer``). Single samples (``dataset[i]``) are decoded
already, and with ``transforms`` (the CPU augmentation) batches are built from them, so the
CPU path serves tests and small data unchanged.

Samples are identical, key for key and value for value, to those of the packed source.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, get_worker_info

from plantwatch.bands import band_indices
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.splits import read_split, split_folder
from plantwatch.data.format.statistics import STATISTICS_JSON, Statistics
from plantwatch.data.loading.sample import MODALITIES, SPATIAL_TARGETS, collate_samples
from plantwatch.data.packing.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LABELS_CSV,
    MANIFEST,
    PLAN,
    REFLECTANCE_KEYS,
    shard_path,
)
from plantwatch.data.packing.writer import is_mapped

Transform = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@functools.lru_cache(maxsize=4)
def open_shards(
    root: Path, version: tuple[int, int]
) -> tuple[dict[str, list[np.ndarray]], dict[str, np.ndarray]]:
    """(memory-mapped shards of the large keys, the small keys loaded whole) of the pack at
    ``root``, each shard checked against the manifest (a shard of another length is
    refused); opened once per process for all its splits (``version``: the manifest's
    inode and modification time, which tell a new pack at the same place apart)."""
    manifest = json.loads((root / MANIFEST).read_text())
    count, size = int(manifest["count"]), int(manifest["shard_size"])
    lengths = [min(size, count - start) for start in range(0, count, size)]
    mapped: dict[str, list[np.ndarray]] = {}
    small: dict[str, np.ndarray] = {}
    for key, spec in manifest["keys"].items():
        parts = []
        for shard, length in enumerate(lengths):
            path = shard_path(root, key, shard)
            try:
                part = np.load(path, mmap_mode="r" if is_mapped(spec) else None)
            except (OSError, ValueError) as error:
                raise DatasetError(
                    f"{path}: unreadable shard ({error}); pack the dataset again"
                ) from error
            dtype_ok = spec["kind"] == "str" or part.dtype == np.dtype(spec["stored"])
            if part.shape != (length, *spec["shape"]) or not dtype_ok:
                raise DatasetError(
                    f"{path}: shape {part.shape} {part.dtype}, the manifest says "
                    f"{(length, *spec['shape'])} {spec['stored']}; pack the dataset again"
                )
            parts.append(part)
        if is_mapped(spec):
            mapped[key] = parts
        else:
            small[key] = np.concatenate(parts)
    return mapped, small


def decode_tensor(value: torch.Tensor, spec: Mapping[str, Any]) -> torch.Tensor:
    """A stored tensor as served: reflectance numbers → float32 reflectance, bytes → their
    dtype; a tensor already decoded is returned as it is."""
    dtype = getattr(torch, spec["dtype"])
    if value.dtype == dtype:
        return value
    if "scale" in spec:
        return value.float() / spec["scale"]
    return value.to(dtype)


class PackedDataset(Dataset):
    """Samples of a packed dataset (see the module docstring).

    Args:
        root: the packed dataset's folder (holds ``packed.json``).
        split: a split name (``train``, ``val``, ``test``, ``train_10pct`` …), a list of
            sample ids, or None for every sample.
        bands: band names of ``image``, in order; None for every packed band.
        transforms: CPU augmentation of the spatial arrays of single samples
            (``data.augmentation.transforms.Augmentation``); None: batches are read whole.
        split_seed: the split set, as packed (``plantwatch data pack --split-seed``).
        modalities: spatial inputs to serve (``image`` always); None for every packed one.
        pin_memory: gather batches read in the main process straight into page-locked memory
            (with a GPU), so the loader's pinning copies nothing.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Sequence[str] | None = None,
        bands: Sequence[str] | None = None,
        transforms: Transform | None = None,
        split_seed: int | None = None,
        modalities: Sequence[str] | None = None,
        pin_memory: bool = False,
    ) -> None:
        self.root = Path(root)
        manifest_path = self.root / MANIFEST
        if not manifest_path.is_file():
            hint = (
                "its packing was interrupted — rerun `plantwatch data pack`, which resumes"
                if (self.root / PLAN).is_file()
                else "pack a dataset with `plantwatch data pack SOURCE OUT`"
            )
            raise DatasetError(f"{manifest_path}: not found; {hint}")
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if (self.manifest.get("format"), self.manifest.get("version")) != (
            FORMAT_NAME, FORMAT_VERSION,
        ):  # fmt: skip
            raise DatasetError(
                f"{manifest_path}: not a {FORMAT_NAME} v{FORMAT_VERSION} manifest; pack again"
            )
        packed = self.manifest["modalities"]
        chosen = [k for k in packed if modalities is None or k in modalities or k == "image"]
        unknown = sorted(set(modalities or ()) - set(packed))
        if unknown:
            raise DatasetError(f"{manifest_path}: modalities {unknown} not packed ({list(packed)})")
        dropped = {k for k in packed if k not in chosen} & set(MODALITIES)
        self.specs = {k: v for k, v in self.manifest["keys"].items() if k not in dropped}
        self.file_bands = tuple(self.manifest["bands"])
        self.bands = tuple(bands) if bands is not None else self.file_bands
        self._band_index = band_indices(self.file_bands, self.bands)
        self._all_bands = self.bands == self.file_bands
        # per-sample shape of every tensor key as served (the image with the chosen bands)
        self._shapes = {k: tuple(v["shape"]) for k, v in self.manifest["keys"].items()
                        if v["kind"] != "str" and k not in dropped}  # fmt: skip
        for key in set(REFLECTANCE_KEYS) & set(self._shapes):
            self._shapes[key] = (len(self.bands), *self._shapes[key][1:])
        self.modalities = {k: tuple(packed[k]) for k in chosen}
        self.modalities.update({k: self.bands for k in REFLECTANCE_KEYS if k in chosen})
        self.aux_columns = tuple(self.manifest["aux_columns"])
        self.transforms = transforms
        self.split_seed = split_seed
        self.pin_memory = pin_memory and torch.cuda.is_available()
        self.shard_size = int(self.manifest["shard_size"])
        self._labels: pd.DataFrame | None = None
        stat = manifest_path.stat()
        mapped, small = open_shards(self.root.resolve(), (stat.st_ino, stat.st_mtime_ns))
        self._mapped = {k: v for k, v in mapped.items() if k in self.specs}
        self._small = {k: v for k, v in small.items() if k in self.specs}
        statistics = split_folder(self.root, split_seed) / STATISTICS_JSON
        if not statistics.is_file():
            raise DatasetError(
                f"{statistics}: not found; split set {split_seed} is not packed — rerun "
                f"`plantwatch data pack` with --split-seed {split_seed}"
            )
        self.statistics = Statistics.read(statistics)
        ids = self._small["obs_id"]
        if split is None:
            self.positions = np.arange(len(ids))
        else:
            wanted = read_split(self.root, split, split_seed) if isinstance(split, str) else split
            where = {obs_id: i for i, obs_id in enumerate(ids)}
            unknown = [i for i in wanted if i not in where]
            if unknown:
                raise DatasetError(
                    f"{self.root}: split {split if isinstance(split, str) else ''} names "
                    f"{len(unknown)} samples that are not packed, e.g. {unknown[:5]}; pack again"
                )
            self.positions = np.array([where[i] for i in wanted], np.int64)

    def __len__(self) -> int:
        return len(self.positions)

    def _gather(self, positions: np.ndarray, batch_out: bool = False) -> dict[str, Any]:
        """Every key of the samples at ``positions`` as stored: tensors [n, …] that are views
        of one buffer, strings as lists. A batch that leaves (``batch_out``) is gathered in
        shared memory inside a loader worker, so it crosses to the main process as one
        segment, not one per key, and in page-locked memory in the main process with
        ``pin_memory``."""
        shapes = {k: (len(positions), *v) for k, v in self._shapes.items()}
        sizes = {k: int(np.prod(v)) * np.dtype(self.specs[k]["stored"]).itemsize
                 for k, v in shapes.items()}  # fmt: skip
        starts = np.concatenate([[0], np.cumsum([-(-n // 64) * 64 for n in sizes.values()])])
        in_worker = batch_out and get_worker_info() is not None
        pinned = batch_out and self.pin_memory and not in_worker
        buffer = torch.empty(int(starts[-1]), dtype=torch.uint8, pin_memory=pinned)
        if in_worker:
            buffer.share_memory_()
        batch: dict[str, Any] = {}
        for (key, shape), start in zip(shapes.items(), starts, strict=False):
            dtype = torch.from_numpy(np.empty(0, self.specs[key]["stored"])).dtype
            batch[key] = buffer[start : start + sizes[key]].view(dtype).view(shape)
        shard, offset = np.divmod(positions, self.shard_size)
        for key, spec in self.specs.items():
            if spec["kind"] == "str":
                batch[key] = self._small[key][positions].tolist()
            elif key in self._small:
                np.take(self._small[key], positions, axis=0, out=batch[key].numpy())
            else:
                out, parts = batch[key].numpy(), self._mapped[key]
                for k in np.unique(shard):
                    rows = shard == k
                    if key in REFLECTANCE_KEYS and not self._all_bands:
                        out[rows] = parts[k][offset[rows][:, None], self._band_index]
                    else:
                        out[rows] = parts[k][offset[rows]]
        return batch

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        """The batch of ``indices`` (a loader's fetch): stored dtypes without ``transforms``
        (decode on the device), else decoded samples augmented one by one and collated."""
        if self.transforms is not None:
            return collate_samples([self[i] for i in indices])
        return self._gather(self.positions[np.asarray(indices, np.int64)], batch_out=True)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample: dict[str, Any] = {}
        spatial: dict[str, np.ndarray] = {}
        for key, values in self._gather(self.positions[[index]]).items():
            spec, value = self.specs[key], values[0]
            if spec["kind"] == "str":
                sample[key] = value
            elif spec["kind"] == "float":
                sample[key] = float(value)
            elif key in MODALITIES or key in SPATIAL_TARGETS:
                spatial[key] = (
                    decode_tensor(value, spec).numpy() if "scale" in spec else value.numpy()
                )
            else:
                sample[key] = decode_tensor(value.clone(), spec)
        if self.transforms is not None:
            spatial = self.transforms(spatial)
        for key, array in spatial.items():
            dtype = getattr(torch, self.specs[key]["dtype"])
            sample[key] = torch.from_numpy(np.ascontiguousarray(array)).to(dtype)
        return {k: sample[k] for k in self.specs}

    def decode(self, batch: dict[str, Any]) -> dict[str, Any]:
        """A batch (on any device) with the stored dtypes restored to the sample contract's:
        uint16 reflectance numbers → float32 reflectance, uint8 masks → int64."""
        for key, spec in self.specs.items():
            if spec["kind"] == "tensor" and isinstance(batch.get(key), torch.Tensor):
                batch[key] = decode_tensor(batch[key], spec)
        return batch

    def labels(self) -> pd.DataFrame:
        """The source's label table (``SampleDataset.labels``), one row per sample."""
        if self._labels is None:
            path = self.root / LABELS_CSV
            self._labels = pd.read_csv(path, dtype={"obs_id": str, "plant_id": str})
        return self._labels.iloc[self.positions].reset_index(drop=True)
