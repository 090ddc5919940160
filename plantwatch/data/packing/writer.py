"""`pack_dataset`: any dataset that satisfies the contract, packed into shards of arrays.

The source is read once, in order, without augmentation (``workers`` loader processes read
ahead); every sample key goes into its own shards (``packed_layout``). A shard's files are
written under a ``.partial`` name and renamed when the shard is complete, and the manifest
is written last, so a killed packer leaves nothing a reader accepts; a rerun keeps the
complete shards and continues after them. The split sets (split files and the statistics of
their training split) are copied from the source, so label fractions and splits carry over.

Storage is chosen per key from the first sample and checked for every sample: ``image``
(and ``reference``) reflectance as uint16 ``round(reflectance × scale)`` where that decodes
to the identical float32 (else an error), integer maps (masks, land cover) as uint8 where
their values fit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from plantwatch.data.errors import DatasetError
from plantwatch.data.format import layout
from plantwatch.data.format.splits import fraction_split_name, split_folder, write_splits
from plantwatch.data.format.statistics import STATISTICS_JSON
from plantwatch.data.format.writer import DEFAULT_LABEL_FRACTIONS, ensure_split_set
from plantwatch.data.loading.contract import SampleDataset
from plantwatch.data.packing.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LABELS_CSV,
    MANIFEST,
    MAPPED_BYTES,
    PLAN,
    REFLECTANCE_KEYS,
    SHARDS_DIR,
    shard_path,
)
from plantwatch.files.tables import read_json

# ``make(split, split_seed)``: the source dataset of a split (None: every sample).
SourceFactory = Callable[[str | None, int | None], SampleDataset]
DEFAULT_SPLITS: tuple[str, ...] = (
    "train", "val", "test", *(fraction_split_name(f) for f in DEFAULT_LABEL_FRACTIONS),
)  # fmt: skip


def key_specs(sample: Mapping[str, Any], scale: float) -> dict[str, dict[str, Any]]:
    """How each key of ``sample`` is stored: ``kind`` (tensor, str, float), ``dtype`` (as
    served), ``stored`` (on disk), ``shape`` (per sample), ``scale`` (reflectance)."""
    specs: dict[str, dict[str, Any]] = {}
    for key, value in sample.items():
        if isinstance(value, str):
            specs[key] = {"kind": "str", "dtype": "str", "stored": "str", "shape": []}
        elif isinstance(value, float):
            specs[key] = {"kind": "float", "dtype": "float64", "stored": "float64", "shape": []}
        elif isinstance(value, torch.Tensor):
            dtype = str(value.dtype).removeprefix("torch.")
            spec = {"kind": "tensor", "dtype": dtype, "stored": dtype, "shape": list(value.shape)}
            if key in REFLECTANCE_KEYS and value.is_floating_point():
                spec.update(stored="uint16", scale=float(scale))
            elif not value.is_floating_point() and value.dtype != torch.bool and value.ndim >= 2:
                spec["stored"] = "uint8"
            specs[key] = spec
        else:
            raise DatasetError(
                f"sample key {key!r} holds a {type(value).__name__}; the packer stores tensors, "
                "strings and floats"
            )
    return specs


def encode(key: str, value: Any, spec: Mapping[str, Any], obs_id: str) -> Any:
    """``value`` as stored, checked to decode to exactly the value served.

    Raises:
        DatasetError: naming the sample and key when it cannot be stored as planned.
    """
    if spec["kind"] != "tensor":
        return value
    array = value.numpy()
    if list(array.shape) != spec["shape"]:
        raise DatasetError(
            f"sample {obs_id}: {key} has shape {list(array.shape)}, the first sample "
            f"{spec['shape']}; a packed dataset holds one shape per key — crop or resample"
        )
    if spec["stored"] == "uint16":
        scale = spec["scale"]
        dn = np.rint(array.astype(np.float64) * scale)
        exact = dn.min() >= 0 and dn.max() <= 65535
        if exact:
            dn = dn.astype(np.uint16)
            exact = np.array_equal(dn.astype(np.float32) / np.float32(scale), array)
        if not exact:
            raise DatasetError(
                f"sample {obs_id}: {key} is not reflectance in steps of 1/{scale:g} within "
                "uint16; its source does not store digital numbers — pack another dataset"
            )
        return dn
    if spec["stored"] == "uint8":
        if array.min() < 0 or array.max() > 255:
            raise DatasetError(
                f"sample {obs_id}: {key} holds values outside 0–255 "
                f"({array.min()}…{array.max()}); class maps above 255 classes cannot be packed"
            )
        return array.astype(np.uint8)
    return array


class _ShardWriter:
    """The files of one shard: large keys written sample by sample into memory-mapped
    ``.partial`` files, small keys collected; renamed into place by ``close``."""

    def __init__(self, out: Path, specs: Mapping[str, dict], shard: int, length: int) -> None:
        self.paths = {k: shard_path(out, k, shard) for k in specs}
        self.mapped: dict[str, np.memmap] = {}
        self.small: dict[str, list] = {}
        for key, spec in specs.items():
            self.paths[key].parent.mkdir(parents=True, exist_ok=True)
            if is_mapped(spec):
                self.mapped[key] = np.lib.format.open_memmap(
                    partial_path(self.paths[key]), mode="w+", dtype=spec["stored"],
                    shape=(length, *spec["shape"]),
                )  # fmt: skip
            else:
                self.small[key] = []

    def put(self, index: int, encoded: Mapping[str, Any]) -> None:
        for key, array in self.mapped.items():
            array[index] = encoded[key]
        for key, values in self.small.items():
            values.append(encoded[key])

    def close(self) -> None:
        for array in self.mapped.values():
            array.flush()
        for key, values in self.small.items():
            with open(partial_path(self.paths[key]), "wb") as handle:
                np.save(handle, np.array(values), allow_pickle=False)
        self.mapped.clear()
        for path in self.paths.values():
            os.replace(partial_path(path), path)


def partial_path(path: Path) -> Path:
    """Where a shard file is written before it is complete."""
    return path.with_name(path.name + ".partial")


def is_mapped(spec: Mapping[str, Any]) -> bool:
    """Whether a key is large enough per sample to be memory-mapped rather than held."""
    if spec["kind"] != "tensor":
        return False
    return int(np.prod(spec["shape"])) * np.dtype(spec["stored"]).itemsize > MAPPED_BYTES


def _complete_shards(out: Path, specs: Mapping[str, dict], shards: int) -> int:
    """How many leading shards a previous run completed (every key's file in place)."""
    done = 0
    while done < shards and all(shard_path(out, k, done).is_file() for k in specs):
        done += 1
    return done


def fingerprint(root: str | Path) -> str:
    """SHA-256 of a canonical dataset's ``dataset.json`` (empty for other layouts): a packed
    copy records it, so a regenerated source is not read through a stale pack."""
    info = Path(root) / layout.DATASET_JSON
    return hashlib.sha256(info.read_bytes()).hexdigest() if info.is_file() else ""


def pack_folder(
    root: str | Path,
    out: str | Path,
    modalities: Sequence[str] | None = None,
    split_seeds: Sequence[int | None] = (None,),
    shard_size: int = 1024,
    workers: int = 0,
    progress: bool = True,
) -> Path:
    """Pack a canonical dataset (every band and, by default, every modality it declares; its
    split sets finalised first where new) or a ben-ge folder (its default modalities and
    targets) into ``out``."""
    from plantwatch.data.readers.benge.dataset import BenGe
    from plantwatch.data.readers.observations import PlantObservations

    info = Path(root) / layout.DATASET_JSON
    if info.is_file():
        record = read_json(info, "a dataset record")
        declared = ["image", *record.get("modalities", {}), *record.get("class_maps", {})]
        chosen = list(modalities or declared)
        for seed in split_seeds:
            ensure_split_set(root, seed, progress)

        def make(split: str | None, split_seed: int | None) -> SampleDataset:
            return PlantObservations(root, split, split_seed=split_seed, modalities=chosen)
    else:
        extra = {"modalities": list(modalities)} if modalities else {}

        def make(split: str | None, split_seed: int | None) -> SampleDataset:
            return BenGe(root, split, split_seed=split_seed, **extra)

    settings = {"shard_size": shard_size, "workers": workers, "progress": progress}
    return pack_dataset(make, out, root, split_seeds, fingerprint=fingerprint(root), **settings)


def pack_split_set(
    make: SourceFactory, out: str | Path, split_seed: int | None, names: Sequence[str]
) -> Path:
    """Copy a split set of the source: the sample ids of each split in ``names`` and the
    training statistics (``statistics.json``, written last: it marks the set complete)."""
    folder = split_folder(out, split_seed)
    datasets = {name: make(name, split_seed) for name in dict.fromkeys([*names, "train"])}
    write_splits(folder, {name: list(datasets[name].labels()["obs_id"]) for name in names})
    datasets["train"].statistics.write(folder / STATISTICS_JSON)
    return folder


def source_split_names(root: str | Path, split_seed: int | None) -> list[str]:
    """The splits to copy: a canonical dataset's split files, else ``DEFAULT_SPLITS``."""
    folder = split_folder(root, split_seed)
    if (Path(root) / layout.DATASET_JSON).is_file() and folder.is_dir():
        return sorted(p.stem for p in folder.glob("*.txt"))
    return list(DEFAULT_SPLITS)


def pack_dataset(
    make: SourceFactory,
    out: str | Path,
    source_root: str | Path,
    split_seeds: Sequence[int | None] = (None,),
    shard_size: int = 1024,
    workers: int = 0,
    progress: bool = True,
    fingerprint: str = "",
) -> Path:
    """Pack the dataset that ``make`` builds into ``out``; returns ``out``.

    Args:
        make: builds the source dataset of a split, ``make(split, split_seed)``, without
            augmentation and with every band and modality that should be packed.
        out: the packed dataset's folder (created; a complete pack of the same source
            version is left as it is, one of another version refused).
        source_root: the source's folder (its split files; recorded in the manifest).
        split_seeds: the split sets to copy (None: the one written with the dataset).
        shard_size: samples per shard file.
        workers: loader processes reading the source ahead of the writer.
        progress: show a progress bar.
        fingerprint: identifies the source's version (recorded in the manifest).
    """
    out = Path(out)
    if (out / MANIFEST).is_file():
        recorded = json.loads((out / MANIFEST).read_text())["source"]["fingerprint"]
        if recorded != fingerprint:
            raise DatasetError(
                f"{out}: packed from another version of {source_root}; delete it to pack again"
            )
        for seed in split_seeds:
            if not (split_folder(out, seed) / STATISTICS_JSON).is_file():
                pack_split_set(make, out, seed, source_split_names(source_root, seed))
        return out
    source = make(None, None)
    if len(source) == 0:
        raise DatasetError(f"{source_root}: no samples to pack")
    first = source[0]
    scale = float(getattr(source, "scale", layout.REFLECTANCE_SCALE))
    plan = {
        "count": len(source), "shard_size": int(shard_size), "keys": key_specs(first, scale),
        "source": {"class": f"{type(source).__module__}.{type(source).__qualname__}",
                   "root": str(source_root), "fingerprint": fingerprint},
    }  # fmt: skip
    plan_path = out / PLAN
    if out.is_dir() and any(out.iterdir()) and not plan_path.is_file():
        raise DatasetError(f"{out} is not empty and holds no pack; pick an empty folder")
    if plan_path.is_file() and json.loads(plan_path.read_text()) != plan:
        shutil.rmtree(out / SHARDS_DIR, ignore_errors=True)  # another source: start over
    out.mkdir(parents=True, exist_ok=True)
    plan_path.write_text(json.dumps(plan, indent=1) + "\n")
    specs, count = plan["keys"], plan["count"]
    shards = -(-count // shard_size)
    start = _complete_shards(out, specs, shards)
    # its own generator: a loader draws a seed, which must not move the run's global RNG
    loader = DataLoader(source, batch_size=None, sampler=range(start * shard_size, count),
                        num_workers=workers, generator=torch.Generator())  # fmt: skip
    bar = tqdm(total=count, initial=start * shard_size, desc=f"pack {out.name}", unit="sample",
               disable=not progress)  # fmt: skip
    writer = None
    for index, sample in enumerate(loader, start * shard_size):
        shard, offset = divmod(index, shard_size)
        if offset == 0:
            writer = _ShardWriter(out, specs, shard, min(shard_size, count - index))
        obs_id = str(sample.get("obs_id", index))
        missing = sorted(set(specs) ^ set(sample))
        if missing:
            raise DatasetError(f"sample {obs_id}: keys {missing} differ from the first sample's")
        writer.put(offset, {k: encode(k, sample[k], specs[k], obs_id) for k in specs})
        if offset + 1 == shard_size or index + 1 == count:
            writer.close()
        bar.update()
    bar.close()
    for seed in split_seeds:
        pack_split_set(make, out, seed, source_split_names(source_root, seed))
    source.labels().to_csv(out / LABELS_CSV, index=False)
    manifest = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, **plan,
        "bands": list(source.bands),
        "modalities": {k: list(v) for k, v in source.modalities.items()},
        "aux_columns": list(source.aux_columns),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    partial = partial_path(out / MANIFEST)
    partial.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(partial, out / MANIFEST)
    plan_path.unlink()
    return out
