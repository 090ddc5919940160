"""The one writer of canonical observation datasets (used by ``synth``; ``convert`` and
``download`` write through it too).

`DatasetWriter` adds observations one at a time: image and mask GeoTIFFs are written
atomically (temporary name, then ``os.replace``), and only then is the observation's row
appended to a journal (``rows.jsonl.partial``). A killed writer therefore leaves complete
files and a journal of the observations that are done; a rerun opens the same folder,
skips those (``has``) and continues — only with the settings it started with (recorded in
``writer_settings.json``; other settings are refused, naming the differences). A writer
holds an exclusive lock on its folder from start to close: a second writer is refused.
``close`` writes ``observations.csv`` and ``plants.geojson``, finalises the default split
set, and writes ``dataset.json`` last: its presence marks a complete dataset.

`finalize` writes a split set: plant-grouped, fuel-stratified train/val/test splits, nested
label fractions of the training split, and the statistics of the training split only
(``statistics.json`` beside the split files). It serves other split seeds of a complete
dataset on demand (``splits/seed<k>/``), under a lock, so concurrent runs compute it once.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.crs import CRS
from rasterio.transform import Affine
from tqdm.auto import tqdm

from plantwatch.data.format import layout
from plantwatch.data.format.geotiff import read_geotiff, write_geotiff
from plantwatch.data.format.splits import (
    fraction_split_name,
    nested_label_fractions,
    split_by_plant,
    split_folder,
    write_splits,
)
from plantwatch.data.format.statistics import STATISTICS_JSON, Statistics
from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic
from plantwatch.files.ids import checked_id
from plantwatch.files.tables import read_json

JOURNAL = "rows.jsonl.partial"
WRITER_SETTINGS = "writer_settings.json"  # the dataset.json record a writer started with
WRITER_LOCK = ".writer.lock"
DEFAULT_LABEL_FRACTIONS: tuple[float, ...] = (0.01, 0.1, 0.5)


@contextmanager
def dataset_lock(root: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<root>.lock`` (beside the dataset folder) while inside:
    processes that prepare the same dataset at once do it one after the other."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(f".{root.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exclusive_lock(path: Path) -> IO[str]:
    """An open file holding an exclusive lock on ``path`` (released when it is closed)."""
    handle = path.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(
            f"{path.parent}: another process is writing this dataset; wait for it to finish, "
            "or write into another folder"
        ) from None
    return handle


def _differences(before: Any, after: Any, prefix: str = "") -> list[tuple[str, tuple]]:
    """(dotted key, (before, after)) for every leaf where two JSON records differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            found += _differences(before.get(key), after.get(key), f"{prefix}{key}.")
        return found
    return [] if before == after else [(prefix.rstrip("."), (before, after))]


class DatasetWriter:
    """Write a canonical observation dataset into ``root``, resumably; use it as a context
    manager (``with DatasetWriter(root, info) as writer:``) so the folder is released
    however the writing ends.

    Args:
        root: dataset folder; may hold the partial work of a killed writer, not a dataset
            (unless ``update``).
        info: the ``dataset.json`` record (format, source or generator, product, bands,
            ``reflectance_scale``, ``boa_add_offset_dn`` …), written by ``close``.
        update: add to the complete dataset in ``root`` (``existing`` holds its rows;
            `dataset_update.close_update` ends it) instead of writing a new one.
    """

    def __init__(self, root: str | Path, info: Mapping[str, Any], update: bool = False) -> None:
        self.root = Path(root)
        complete = (self.root / layout.DATASET_JSON).exists()
        if complete != update:
            raise UserError(
                f"{self.root / layout.DATASET_JSON} exists: the dataset is complete; "
                f"remove {self.root} or pick another folder"
                if complete else f"{self.root}: no complete dataset to add to"
            )  # fmt: skip
        self.existing: dict[str, dict[str, Any]] = {}
        if update:
            table = pd.read_csv(self.root / layout.OBSERVATIONS_CSV, dtype=str,
                                keep_default_na=False)  # as written: rewritten unchanged
            self.existing = {row["obs_id"]: row for row in table.to_dict("records")}
        self.info = json.loads(json.dumps(dict(info)))  # as it will read back
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = _exclusive_lock(self.root / WRITER_LOCK)
        self.rows: dict[str, dict[str, Any]] = {}
        journal = self.root / JOURNAL
        if journal.is_file():
            self._check_settings()
            for line in journal.read_text().splitlines():
                try:  # a writer killed mid-line leaves one unreadable last line
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.rows[row["obs_id"]] = row
        elif not update and any(p.name != WRITER_LOCK for p in self.root.iterdir()):
            self._release()
            raise UserError(f"{self.root} is not empty and holds no dataset; pick an empty folder")
        write_text_atomic(self.root / WRITER_SETTINGS, json.dumps(self.info, indent=2) + "\n")
        self._journal = journal.open("a")

    def _check_settings(self) -> None:
        """Refuse to resume a dataset that was started with other settings."""
        path = self.root / WRITER_SETTINGS
        started = json.loads(path.read_text()) if path.is_file() else None
        if started is None or started == self.info:
            return
        self._release()
        differ = [f"{k}: {a!r} then, {b!r} now" for k, (a, b) in _differences(started, self.info)]
        raise UserError(
            f"{self.root} holds part of a dataset written with other settings "
            f"({'; '.join(differ[:5])}); rerun with the settings it was started with to "
            "finish it, or write into another folder"
        )

    def _release(self) -> None:
        if not self._lock.closed:
            (self.root / WRITER_LOCK).unlink(missing_ok=True)
            self._lock.close()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leave the folder as it is (complete, or partial for a rerun) and release it."""
        if not self._journal.closed:
            self._journal.close()
        self._release()

    def has(self, obs_id: str) -> bool:
        """Whether the observation is written already (by this or an earlier, killed run,
        or in the dataset being updated)."""
        return obs_id in self.rows or obs_id in self.existing

    def add(
        self,
        row: Mapping[str, Any],
        image_dn: np.ndarray,
        crs: CRS | str,
        transform: Affine,
        mask: np.ndarray | None = None,
        modalities: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Write one observation: ``image_dn`` uint16 [C, H, W] (reflectance × scale), an
        optional plume ``mask`` uint8 [H, W], further spatial ``modalities`` by sample key
        (``image_s1``: σ⁰ in dB, float32 [2, H, W]; see ``layout.MODALITY_DIRS``), and its
        ``observations.csv`` row (without the file paths, which the writer sets)."""
        obs_id = checked_id(row["obs_id"], "obs_id", self.root)
        record = {**row, "image": f"{layout.IMAGES_DIR}/{obs_id}.tif", "mask": ""}
        for key, array in (modalities or {}).items():
            record[key] = f"{layout.MODALITY_DIRS[key]}/{obs_id}.tif"
            write_geotiff(self.root / record[key], array, crs, transform)
        write_geotiff(self.root / record["image"], image_dn, crs, transform)
        if mask is not None:
            record["mask"] = f"{layout.MASKS_DIR}/{obs_id}.tif"
            write_geotiff(self.root / record["mask"], mask, crs, transform)
        self._journal.write(json.dumps(record) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self.rows[obs_id] = record

    def close(
        self,
        plants: Sequence[Mapping[str, Any]],
        split_seed: int = 0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        label_fractions: Sequence[float] = DEFAULT_LABEL_FRACTIONS,
        progress: bool = True,
        site_ids: Mapping[str, int] | None = None,
    ) -> Path:
        """Write the tables, finalise the default split set, then ``dataset.json``.

        Args:
            plants: one record per plant (``plant_id``, ``name``, ``fuel_type``,
                ``capacity_mw``, ``geometry`` as a shapely point in WGS 84).
            site_ids: the site of each plant (plants whose patches overlap share one), as
                the ``site_id`` column; splits then keep a site in one split.
            split_seed, val_fraction, test_fraction, label_fractions, progress: see
                :func:`finalize`.
        """
        self._journal.close()
        frame = pd.DataFrame(self.rows.values()).sort_values("obs_id", kind="stable")
        if site_ids is not None:
            frame["site_id"] = frame["plant_id"].map(site_ids).astype(int)
        write_text_atomic(self.root / layout.OBSERVATIONS_CSV, frame.to_csv(index=False))
        partial = self.root / f"{layout.PLANTS_GEOJSON}.partial"
        gpd.GeoDataFrame(list(plants), crs="EPSG:4326").to_file(partial, driver="GeoJSON")
        partial.replace(self.root / layout.PLANTS_GEOJSON)
        settings = {
            "seed": split_seed,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "label_fractions": list(label_fractions),
        }
        info = {**self.info, "splits": settings}
        finalize(self.root, None, split_seed, val_fraction, test_fraction, label_fractions,
                 info=info, progress=progress)  # fmt: skip
        write_text_atomic(self.root / layout.DATASET_JSON, json.dumps(info, indent=2) + "\n")
        self.finish()
        return self.root

    def finish(self) -> None:
        """Remove the journal and the settings of a finished write and release the folder
        (``dataset.json`` is written)."""
        self._journal.close()
        (self.root / JOURNAL).unlink(missing_ok=True)
        (self.root / WRITER_SETTINGS).unlink(missing_ok=True)
        self._release()


def _band_statistics(
    root: Path,
    paths: Sequence[str],
    bands: Sequence[str],
    progress: bool,
    scale: float = 1.0,
    offset: float = 0.0,
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and std per band of ``(max(DN − offset, 0)) / scale`` over all pixels of the
    images ``paths`` (reflectance for Sentinel-2, dB as stored for Sentinel-1)."""
    sums = np.zeros((2, len(bands)))
    pixels = 0
    for path in tqdm(paths, desc="band statistics", unit="image", disable=not progress):
        dn, _ = read_geotiff(root / path)
        reflectance = dn.astype(np.float64)
        if scale != 1.0 or offset:
            reflectance = np.maximum(reflectance - offset, 0.0) / scale
        sums += reflectance.sum((1, 2)), (reflectance**2).sum((1, 2))
        pixels += dn.shape[1] * dn.shape[2]
    mean = sums[0] / max(pixels, 1)
    std = np.sqrt(np.maximum(sums[1] / max(pixels, 1) - mean**2, 0.0))
    return dict(zip(bands, mean, strict=True)), dict(zip(bands, std, strict=True))


def finalize(
    root: str | Path,
    split_seed: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    label_fractions: Sequence[float] = DEFAULT_LABEL_FRACTIONS,
    info: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Write a split set and its training statistics; returns its folder.

    Args:
        root: dataset folder (``observations.csv`` written).
        split_seed: None for the default set in ``splits/``; k for ``splits/seed<k>/``.
        seed: random seed of the default set (``split_seed`` is used otherwise).
        val_fraction: approximate share of observations (by plant) for validation.
        test_fraction: approximate share of observations (by plant) for testing.
        label_fractions: nested subsets of the training split written as split files.
        info: the dataset's ``dataset.json`` record; read from the root when None.
        progress: show a progress bar while reading the training images.
    """
    root = Path(root)
    if info is None:
        info = read_json(root / layout.DATASET_JSON, "a dataset record")
    folder = split_folder(root, split_seed)
    seed = seed if split_seed is None else split_seed
    observations = pd.read_csv(
        root / layout.OBSERVATIONS_CSV, dtype={"obs_id": str, "plant_id": str}
    )
    splits = split_by_plant(observations, val_fraction, test_fraction, seed)
    train = observations.set_index("obs_id").loc[splits["train"]]
    for fraction, ids in nested_label_fractions(
        train.index,
        train["fuel_type"].astype(object).fillna(""),
        label_fractions,
        seed,
    ).items():
        splits[fraction_split_name(fraction)] = ids
    write_splits(folder, splits)
    write_statistics(root, folder, train, info, split_seed, progress)
    return folder


def write_statistics(
    root: Path,
    folder: Path,
    train: pd.DataFrame,
    info: Mapping[str, Any],
    split_seed: int | None,
    progress: bool = True,
) -> None:
    """``<folder>/statistics.json``: per band (reflectance; further modalities as stored)
    and numeric column, the mean and std over the training observations ``train``
    (``observations.csv`` rows indexed by ``obs_id``)."""
    scale = float(info.get("reflectance_scale", layout.REFLECTANCE_SCALE))
    offset = float(info.get("boa_add_offset_dn", 0))
    mean, std = _band_statistics(root, list(train["image"]), info["bands"], progress, scale, offset)
    for key, channels in info.get("modalities", {}).items():
        extra_mean, extra_std = _band_statistics(root, list(train[key]), channels, progress)
        mean.update(extra_mean)
        std.update(extra_std)
    numeric = train.select_dtypes("number")
    mean.update(numeric.mean().to_dict())
    std.update(numeric.std(ddof=0).to_dict())
    extra = {"split": "train", "split_seed": split_seed, "observations": len(train)}
    Statistics(mean, std, count=len(train), extra=extra).write(folder / STATISTICS_JSON)


def ensure_split_set(root: str | Path, split_seed: int | None, progress: bool = True) -> Path:
    """The folder of split set ``split_seed``, finalised first if it does not exist yet."""
    folder = split_folder(root, split_seed)
    if (folder / STATISTICS_JSON).is_file():
        return folder
    with dataset_lock(root):
        if not (folder / STATISTICS_JSON).is_file():
            info = read_json(Path(root) / layout.DATASET_JSON, "a dataset record")
            settings = info.get("splits", {})
            finalize(
                root, split_seed,
                val_fraction=settings.get("val_fraction", 0.15),
                test_fraction=settings.get("test_fraction", 0.15),
                label_fractions=settings.get("label_fractions", DEFAULT_LABEL_FRACTIONS),
                info=info, progress=progress,
            )  # fmt: skip
    return folder
