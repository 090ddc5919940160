"""`BenGe`: ben-ge (Mommert et al. 2023) read in its native layout, no conversion.

Files per Sentinel-2 ``patch_id`` (BigEarthNet v1 layout, 120 × 120 px at 10 m)::

    <s2_dir>/<patch_id>/<patch_id>_<B01…B12, B8A>.tif       L2A DN; 20/60 m bands coarser
    <s1_dir>/<patch_id_s1>/<patch_id_s1>_<VV, VH>.tif       backscatter in dB
    <dem_dir>/<patch_id>_dem.tif                            elevation, m
    <worldcover_dir>/<patch_id>_esaworldcover.tif           ESA WorldCover codes 10…100

and the tables of ``benge/tables.py``. Folders not given are found below ``root`` from the
first patch's files. The 20 and 60 m bands are brought onto the 10 m grid by pixel
repetition (``data/format/resample.py``).

Samples (``data/loading/sample.py``): the chosen ``modalities`` (``image`` S2 reflectance,
``image_s1`` dB, ``dem`` m, ``lulc`` class map) and ``targets`` — ``lulc`` (class index
0–10, 255 unknown), ``lulc_fractions`` [11] (from the table, else from the map),
``lulc_multilabel`` [11] (classes whose fraction reaches ``multilabel_threshold``),
``climate_zone`` (Beck et al. code − 1; absent for code 0, water), ``season`` (0 winter – 1
summer solstice) — each with its ``has_<key>`` flag; ERA-5 weather as ``aux``; ``plant_id``
is the Sentinel-2 acquisition (the patch id without its two grid indices), so splits drawn
here never put patches of one acquisition in two splits. The subset's own split files are
used when present and ``split_seed`` is None. Normalisation statistics are the documented
BigEarthNet defaults (``bands.PRODUCTS``), which were computed on this archive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from plantwatch.bands import L2A_BAND_NAMES, WORLDCOVER_CLASSES
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.data.format.resample import stack_at_10m
from plantwatch.data.format.splits import nested_label_fractions, split_by_plant
from plantwatch.data.format.statistics import default_statistics
from plantwatch.data.loading.contract import PlantwatchDataset
from plantwatch.data.loading.sample import MASK_UNLABELLED, WEATHER_COLUMNS, flag_key
from plantwatch.data.readers.benge import tables

MODALITY_KEYS: tuple[str, ...] = ("image", "image_s1", "dem", "lulc")
TARGET_KEYS: tuple[str, ...] = (
    "lulc", "lulc_fractions", "lulc_multilabel", "climate_zone", "season",
)  # fmt: skip
LULC_LOOKUP = np.full(256, MASK_UNLABELLED, np.uint8)
LULC_LOOKUP[list(WORLDCOVER_CLASSES)] = np.arange(len(WORLDCOVER_CLASSES))
_FRACTION_SPLIT = re.compile(r"^(train|val|test)_(\d+(?:\.\d+)?)pct$")


def acquisition(patch_id: str) -> str:
    """The Sentinel-2 acquisition of a BigEarthNet patch: ``S2A_MSIL2A_20170613T101031_87_48``
    → ``S2A_MSIL2A_20170613T101031``."""
    return patch_id.rsplit("_", 2)[0]


class BenGe(PlantwatchDataset):
    """ben-ge patches as sample dicts.

    Args:
        root: the unpacked ben-ge (or ben-ge-8k) folder.
        split: ``train``, ``val``, ``test``, ``train_10pct`` …, a list of patch ids, or None.
        bands: Sentinel-2 bands of ``image``, in order (None: the 12 L2A bands).
        transforms: callable on the dict of spatial arrays
            (``data.augmentation.transforms.Augmentation``).
        split_seed: None: the subset's split files (a grouped split with seed 0 where there are
            none); k: a split grouped by acquisition drawn with seed k.
        subset: prefix of the split files (``ben-ge-8k``, ``ben-ge-0.2`` …).
        modalities: spatial inputs to serve, by key (``MODALITY_KEYS``).
        targets: targets to serve, by key (``TARGET_KEYS``).
        multilabel_threshold: fraction from which a class counts as present (0–1).
        timestamp: whose ERA-5 weather is ``aux``: ``s2`` or ``s1``.
        val_fraction, test_fraction: shares of a split drawn here (ben-ge's are 0.1 each).
        s2_dir, s1_dir, dem_dir, worldcover_dir: folders relative to ``root``; None: found.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Sequence[str] | None = None,
        bands: Sequence[str] | None = None,
        transforms: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
        split_seed: int | None = None,
        subset: str = "ben-ge-8k",
        modalities: Sequence[str] = ("image", "image_s1", "dem"),
        targets: Sequence[str] = TARGET_KEYS,
        multilabel_threshold: float = 0.05,
        timestamp: str = "s2",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        s2_dir: str | None = None,
        s1_dir: str | None = None,
        dem_dir: str | None = None,
        worldcover_dir: str | None = None,
    ) -> None:
        self.root = Path(root)
        unknown = sorted(set(modalities) - set(MODALITY_KEYS)) + sorted(
            set(targets) - set(TARGET_KEYS)
        )
        if unknown or "image" not in modalities:
            raise ValueError(
                f"unknown modalities/targets {unknown} (or no 'image'); modalities: "
                f"{list(MODALITY_KEYS)}, targets: {list(TARGET_KEYS)}"
            )
        self.bands = tuple(bands) if bands is not None else L2A_BAND_NAMES
        if "B10" in self.bands:
            raise ValueError("BigEarthNet L2A patches have no B10; drop it from bands")
        self.modalities = {"image": self.bands}
        self.modalities.update({k: v for k, v in (("image_s1", ("VV", "VH")), ("dem", ("DEM",)),
                                ("lulc", ("LULC",))) if k in modalities})  # fmt: skip
        self.targets = tuple(targets)
        self.aux_columns = WEATHER_COLUMNS
        self.transforms = transforms
        self.threshold = multilabel_threshold
        self.statistics = default_statistics("S2L2A", 10_000)

        meta = tables.read_indexed(tables.find_table(self.root, set(tables.META_COLUMNS), "meta"))
        era5_path = tables.find_table(self.root, {f"temperature_{timestamp}"}, "ERA-5")
        self.weather = tables.weather(tables.read_indexed(era5_path), timestamp)
        fractions = tables.find_fractions(self.root)
        self.fractions = tables.read_fractions(fractions) if fractions else None
        if "climatezone" not in meta:
            climate = tables.find_table(self.root, {"patch_id", "climatezone"}, "climate", False)
            if climate is not None:
                meta = meta.join(tables.read_indexed(climate)[["climatezone"]])
        meta["plant_id"] = [acquisition(p) for p in meta.index]
        self.meta = meta.loc[self._split_ids(meta, split, split_seed, subset,
                                             val_fraction, test_fraction)]  # fmt: skip
        missing = sorted(set(self.meta.index) - set(self.weather.index))
        if missing:
            raise DatasetError(f"{era5_path}: no weather for patches {missing[:3]}")
        self.scalar_labels = self.labels()  # climate zone and season per sample, once
        first = self.meta.iloc[0] if len(self.meta) else None
        self.dirs = {
            "image": self._folder(s2_dir, first, "{p}_B02.tif", 2),
            "image_s1": self._folder(s1_dir, first, "{s1}_VV.tif", 2, "image_s1"),
            "dem": self._folder(dem_dir, first, "{p}_dem.tif", 1, "dem"),
            "lulc": self._folder(worldcover_dir, first, "{p}_esaworldcover.tif", 1, "lulc"),
        }

    def _needs(self, key: str) -> bool:
        if key == "lulc":
            return (
                "lulc" in self.modalities
                or "lulc" in self.targets
                or (
                    self.fractions is None
                    and {"lulc_fractions", "lulc_multilabel"} & set(self.targets)
                )
            )
        return key in self.modalities

    def _folder(self, given: str | None, first: pd.Series | None, pattern: str, up: int,
                key: str = "image") -> Path | None:  # fmt: skip
        if given is not None:
            return self.root / given
        if first is None or not self._needs(key):
            return None
        name = pattern.format(p=first.name, s1=first["patch_id_s1"])
        found = next(self.root.rglob(name), None)
        if found is None:
            raise DatasetError(
                f"{self.root}: no {name} below it; unpack that modality or give its folder "
                f"({key}: s2_dir, s1_dir, dem_dir or worldcover_dir)"
            )
        return found.parents[up - 1]

    def _split_ids(self, meta: pd.DataFrame, split: str | Sequence[str] | None,
                   split_seed: int | None, subset: str, val_fraction: float,
                   test_fraction: float) -> list[str]:  # fmt: skip
        if split is None:
            return list(meta.index)
        if not isinstance(split, str):
            return list(split)
        fraction_split = _FRACTION_SPLIT.match(split)
        base, fraction = (fraction_split.group(1), float(fraction_split.group(2)) / 100) if (
            fraction_split) else (split, 1.0)  # fmt: skip
        files = tables.find_splits(self.root, subset)
        if split_seed is None and base in files.paths:
            ids = files.ids(base)
            unknown = sorted(set(ids) - set(meta.index))
            if unknown:
                raise DatasetError(
                    f"{files.paths[base]}: {len(unknown)} patches not in the meta table, "
                    f"e.g. {unknown[:3]}"
                )
        else:
            frame = pd.DataFrame({"obs_id": meta.index, "plant_id": meta["plant_id"].to_numpy(),
                                  "fuel_type": ""})  # fmt: skip
            drawn = split_by_plant(frame, val_fraction, test_fraction, split_seed or 0)
            if base not in drawn:
                raise ValueError(f"unknown split {split!r}; use train, val, test or train_<k>pct")
            ids = drawn[base]
        if fraction < 1.0:
            ids = nested_label_fractions(ids, [""] * len(ids), [fraction], split_seed or 0)[
                fraction
            ]
        return list(ids)

    def __len__(self) -> int:
        return len(self.meta)

    def labels(self) -> pd.DataFrame:
        """One row per sample: ``obs_id`` (patch), ``plant_id`` (acquisition),
        ``climate_zone`` and ``season`` with their flags, and the flags of the other served
        targets."""
        table = pd.DataFrame({"obs_id": self.meta.index.to_numpy(),
                              "plant_id": self.meta["plant_id"].to_numpy()})  # fmt: skip
        if "climate_zone" in self.targets:
            zone = self.meta["climatezone"].fillna(0).to_numpy(np.int64) if (
                "climatezone" in self.meta) else np.zeros(len(self.meta), np.int64)  # fmt: skip
            table["climate_zone"], table["has_climate_zone"] = zone - 1, zone > 0
        if "season" in self.targets:
            season = self.meta.get("season_s2", pd.Series(np.nan, self.meta.index))
            season = season.to_numpy(np.float64)
            table["season"], table["has_season"] = season, np.isfinite(season)
        for key in ("lulc", "lulc_fractions", "lulc_multilabel"):
            if key in self.targets:
                table[flag_key(key)] = True
        return table

    def _read(self, path: Path, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, dict]:
        data, profile = read_geotiff(path)
        if np.issubdtype(data.dtype, np.floating) and np.isnan(data).any():
            raise DatasetError(f"{path}: contains NaN; fill or drop the patch")
        if shape is not None and data.shape[1:] != shape:
            raise DatasetError(f"{path}: {data.shape[1:]} px, expected {shape} like its S2 patch")
        return data, profile

    def _image(self, patch: str) -> tuple[np.ndarray, dict]:
        folder = self.dirs["image"] / patch
        read = {b: self._read(folder / f"{patch}_{b}.tif") for b in self.bands}
        try:
            dn = stack_at_10m({b: d[0] for b, (d, _) in read.items()}, self.bands)
        except ValueError as error:
            raise DatasetError(f"{folder}: {error}") from None
        profile = min((p for _, p in read.values()), key=lambda p: abs(p["transform"].a))
        return dn.astype(np.float32) / 10_000.0, profile

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.meta.iloc[index]
        patch = str(row.name)
        image, profile = self._image(patch)
        shape = image.shape[1:]
        spatial: dict[str, np.ndarray] = {"image": image}
        if "image_s1" in self.modalities:
            folder = self.dirs["image_s1"] / row["patch_id_s1"]
            spatial["image_s1"] = np.concatenate(
                [
                    self._read(folder / f"{row['patch_id_s1']}_{p}.tif", shape)[0]
                    for p in ("VV", "VH")
                ]
            ).astype(np.float32)
        if "dem" in self.modalities:
            dem, _ = self._read(self.dirs["dem"] / f"{patch}_dem.tif", shape)
            spatial["dem"] = dem.astype(np.float32)
        lulc = None
        if self._needs("lulc"):
            codes, _ = self._read(self.dirs["lulc"] / f"{patch}_esaworldcover.tif", shape)
            lulc = LULC_LOOKUP[np.clip(codes[0], 0, 255).astype(np.uint8)]
            if "lulc" in self.modalities or "lulc" in self.targets:
                spatial["lulc"] = lulc
        if self.transforms is not None:
            spatial = self.transforms(spatial)
        sample: dict[str, Any] = {
            k: torch.from_numpy(
                np.ascontiguousarray(v, dtype=np.int64 if k == "lulc" else np.float32)
            )
            for k, v in spatial.items()
        }
        if "lulc" in self.targets:
            sample["has_lulc"] = torch.tensor(True)
        self._add_scalar_targets(sample, index, row, lulc)
        sample["aux"] = torch.tensor(self.weather.loc[patch].to_numpy(np.float32))
        stamp = str(row.get("timestamp_s2", ""))
        sample.update(
            obs_id=patch, plant_id=row["plant_id"],
            datetime=stamp.replace(" ", "T") + "Z" if stamp and stamp != "nan" else "",
            lon=float(row.get("lon", np.nan)), lat=float(row.get("lat", np.nan)),
            crs=profile["crs"].to_string() if profile.get("crs") else "",
            transform=torch.tensor(tuple(profile["transform"])[:6], dtype=torch.float64),
        )  # fmt: skip
        return sample

    def _add_scalar_targets(self, sample: dict[str, Any], index: int, row: pd.Series,
                            lulc: np.ndarray | None) -> None:  # fmt: skip
        if {"lulc_fractions", "lulc_multilabel"} & set(self.targets):
            if self.fractions is not None:
                fractions = self.fractions.loc[row.name].to_numpy(np.float32)
            else:
                known = lulc[lulc != MASK_UNLABELLED]
                counts = np.bincount(known, minlength=len(WORLDCOVER_CLASSES))
                fractions = (counts / max(known.size, 1)).astype(np.float32)
            for key, value in (
                ("lulc_fractions", fractions),
                ("lulc_multilabel", (fractions >= self.threshold).astype(np.float32)),
            ):
                if key in self.targets:
                    sample[key], sample[flag_key(key)] = torch.from_numpy(value), torch.tensor(True)
        scalars = self.scalar_labels.iloc[index]
        if "climate_zone" in self.targets:
            sample["climate_zone"] = torch.tensor(int(scalars["climate_zone"]), dtype=torch.int64)
            sample["has_climate_zone"] = torch.tensor(bool(scalars["has_climate_zone"]))
        if "season" in self.targets:
            known = bool(scalars["has_season"])
            sample["season"] = torch.tensor(float(scalars["season"]) if known else 0.0)
            sample["has_season"] = torch.tensor(known)
