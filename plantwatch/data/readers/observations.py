"""`PlantObservations`: the reader of the canonical observation dataset (see ``layout``).

Samples carry raw physical units (reflectance 0–1, weather in its units, MW, t/h): the
task module normalises them with the statistics of the training split, which the reader
takes from the split set's ``statistics.json`` (or the documented defaults) and never from
the split it reads.

Everything that can be checked without reading images is checked when the dataset is
built (columns, fuel names, numbers, weather, split ids, plants); the images and masks are
checked as they are read (band count, NaN, negative reflectance, mask values, sizes). Every
error names the file and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import torch

from plantwatch import physics
from plantwatch.bands import band_indices, product
from plantwatch.data.errors import DatasetError
from plantwatch.data.format import layout
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.data.format.references import ReferenceMode, ensure_references
from plantwatch.data.format.scene_classes import CLASS_MAPS, obscured_codes
from plantwatch.data.format.splits import read_split, split_folder
from plantwatch.data.format.statistics import STATISTICS_JSON, Statistics, default_statistics
from plantwatch.data.format.writer import JOURNAL
from plantwatch.data.loading.contract import PlantwatchDataset
from plantwatch.data.loading.sample import (
    FUEL_UNKNOWN,
    MASK_UNLABELLED,
    REFERENCE_KEY,
    WEATHER_COLUMNS,
    flag_key,
)
from plantwatch.files.ids import inside
from plantwatch.files.tables import read_csv, read_json

Transform = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]

# Built-in targets: sample key → observations.csv column.
TARGET_COLUMNS: dict[str, str] = {
    "power": "generation_mw",
    "co2": "co2_t_per_h",
    "capacity": "capacity_mw",
}


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame.loc[values.isna() & frame[column].notna(), "obs_id"].tolist()
    if bad:
        raise DatasetError(
            f"{path}: column {column!r} holds non-numbers for {bad[:5]}; fix those cells"
        )
    return values.to_numpy(np.float64)


class PlantObservations(PlantwatchDataset):
    """Observations of power plants in the canonical format, as sample dicts.

    Args:
        root: dataset folder (holds ``dataset.json``).
        split: a split name (``train``, ``val``, ``test``, ``train_10pct`` …), a list of
            observation ids, or None for all observations.
        bands: band names to return, in this order; None for all bands of the product.
        transforms: callable on ``{"image": reflectance [C, H, W], "mask": [H, W]}`` that
            returns the same keys (``data.augmentation.transforms.Augmentation``).
        aux_columns: observation columns that form ``aux``; None for those ``dataset.json``
            declares (``aux_columns``), else the weather columns.
        split_seed: the split set: None for the one written with the dataset, k for
            ``splits/seed<k>/`` (``data.format.writer.ensure_split_set`` writes it).
        targets: further regression targets, sample key → numeric column (e.g.
            ``{"air_temperature": "temperature_c"}``); each gets its ``has_<key>`` flag.
        modalities: spatial inputs to return: ``image`` (Sentinel-2), those the dataset
            declares in ``dataset.json`` (``image_s1``: VV, VH σ⁰ in dB, [2, H, W]; the class
            maps ``scl``, Sen2Cor's scene classes, or ``clm``, a cloud mask: long [H, W],
            0 = no data) and
            ``reference``, which any dataset has: the plant's clear-sky reference, the
            per-band median reflectance of its other observations [C, H, W] (the bands of
            ``image``; zeros with ``has_reference`` false where too few exist), computed
            once and stored with the dataset (``data/format/references.py``).
        reference_mode: donors of the reference: ``others`` (every other observation of the
            plant) or ``earlier`` (only those before it, as in operational monitoring).
        reference_min_others: donors a reference needs; with fewer it is absent.
        mask_obscured: plume-mask pixels that the dataset's cloud class map (``scl``: scene
            classification of L2A, or ``clm``: cloud mask of L1C) marks as cloud, thin
            cirrus or cloud shadow count as unlabelled (255): a loss and a metric then
            ignore them, as a cloud is easily read as a plume.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | Sequence[str] | None = None,
        bands: Sequence[str] | None = None,
        transforms: Transform | None = None,
        aux_columns: Sequence[str] | None = None,
        split_seed: int | None = None,
        targets: Mapping[str, str] | None = None,
        modalities: Sequence[str] = ("image",),
        reference_mode: ReferenceMode = "others",
        reference_min_others: int = 5,
        mask_obscured: bool = False,
    ) -> None:
        self.root = Path(root)
        info_path = self.root / layout.DATASET_JSON
        if not info_path.is_file() and (self.root / JOURNAL).is_file():
            raise DatasetError(
                f"{info_path}: not found; {self.root} is a dataset whose writer was interrupted "
                "— rerun the command that wrote it, which resumes where it stopped"
            )
        if not info_path.is_file():
            raise DatasetError(
                f"{info_path}: not found; {self.root} is not a plantwatch observation dataset — "
                f"create one with `plantwatch synth plants {self.root}` or `plantwatch data "
                "convert`, or read another layout with its dataset class (e.g. BenGe)"
            )
        self.info: dict[str, Any] = read_json(info_path, "a dataset record")
        if not isinstance(self.info, dict) or "product" not in self.info:
            raise DatasetError(f"{info_path}: no 'product' (S2L2A or S2L1C); fix dataset.json")
        self.product = product(self.info["product"])
        self.file_bands: tuple[str, ...] = tuple(self.info.get("bands", self.product.bands))
        if self.file_bands != self.product.bands:
            raise DatasetError(
                f"{info_path}: 'bands' {list(self.file_bands)} differ from product "
                f"{self.product.name} {list(self.product.bands)}; fix dataset.json"
            )
        self.bands = tuple(bands) if bands is not None else self.file_bands
        self._band_index = band_indices(self.file_bands, self.bands)
        self.scale = float(self.info.get("reflectance_scale", layout.REFLECTANCE_SCALE))
        self.boa_offset = float(self.info.get("boa_add_offset_dn", 0))
        declared = self.info.get("aux_columns", WEATHER_COLUMNS)  # a dataset without weather: []
        self.aux_columns = tuple(aux_columns if aux_columns is not None else declared)
        self.modalities: dict[str, tuple[str, ...]] = {"image": self.bands}
        self.class_maps: dict[str, tuple[str, ...]] = dict(self.info.get("class_maps", {}))
        declared_modalities = {**self.info.get("modalities", {}), **self.class_maps}
        for key in modalities:
            if key == REFERENCE_KEY:
                self.modalities[key] = self.bands
                continue
            if key != "image" and key not in declared_modalities:
                raise DatasetError(
                    f"{info_path}: modality {key!r} not in this dataset (it has image"
                    f"{''.join(', ' + k for k in declared_modalities)}); drop it from modalities"
                )
            if key != "image":
                self.modalities[key] = tuple(declared_modalities[key])
        clouds = [k for k in CLASS_MAPS if k in self.class_maps]
        if mask_obscured and not clouds:
            raise DatasetError(f"{info_path}: mask_obscured needs a cloud class map (scl or "
                               "clm); plantwatch download writes one")  # fmt: skip
        self.mask_obscured = clouds[0] if mask_obscured else None
        self.transforms = transforms
        self.split_seed = split_seed
        self.target_columns = {**TARGET_COLUMNS, **(targets or {})}

        frame = self._read_observations()
        if split is not None:
            folder = split_folder(self.root, split_seed)
            ids = (
                read_split(self.root, split, split_seed) if isinstance(split, str) else list(split)
            )
            where = folder / f"{split}.txt" if isinstance(split, str) else "split"
            unknown = sorted(set(ids) - set(frame.index))
            if unknown:
                raise DatasetError(
                    f"{where}: {len(unknown)} ids not in {layout.OBSERVATIONS_CSV}, e.g. "
                    f"{unknown[:5]}; regenerate the splits or fix the ids"
                )
            frame = frame.loc[ids]
        self.observations = frame
        self.statistics = self._statistics()
        self.references: dict[str, str | None] = {}
        if REFERENCE_KEY in self.modalities:
            self.references = ensure_references(self.root, reference_mode, reference_min_others)

    def _read_observations(self) -> pd.DataFrame:
        path = self.root / layout.OBSERVATIONS_CSV
        if not path.is_file():
            raise DatasetError(f"{path}: not found; the dataset is incomplete — regenerate it")
        frame = read_csv(path, "an observation table",
                         dtype={"obs_id": str, "plant_id": str, "mask": str, "image": str})
        extra = [k for k in self.modalities if k not in ("image", REFERENCE_KEY)]
        extra += [self.mask_obscured] if self.mask_obscured else []
        wanted = (*layout.REQUIRED_COLUMNS, *extra, *self.aux_columns,
                  *self.target_columns.values())  # fmt: skip
        missing = [c for c in dict.fromkeys(wanted) if c not in frame]
        if missing:
            raise DatasetError(
                f"{path}: missing columns {missing}; add them (empty cells allowed for labels)"
            )
        if frame["obs_id"].duplicated().any():
            dups = frame.loc[frame["obs_id"].duplicated(), "obs_id"].tolist()[:5]
            raise DatasetError(f"{path}: duplicate obs_id {dups}; ids must be unique")

        fuel = np.full(len(frame), FUEL_UNKNOWN, np.int64)
        for i, name in enumerate(frame["fuel_type"]):
            if isinstance(name, str) and name.strip():
                try:
                    fuel[i] = physics.fuel_index(name)
                except ValueError as error:
                    raise DatasetError(
                        f"{path}: observation {frame['obs_id'].iat[i]}: {error}"
                    ) from None
        frame["fuel"] = fuel
        for column in (*self.target_columns.values(), *self.aux_columns):
            frame[column] = _numeric(frame, column, path)
        for column in ("generation_mw", "co2_t_per_h", "capacity_mw"):
            negative = frame.loc[frame[column] < 0, "obs_id"].tolist()
            if negative:
                raise DatasetError(
                    f"{path}: negative {column} for {negative[:5]}; values must be ≥ 0"
                )
        no_aux = frame.loc[frame[list(self.aux_columns)].isna().any(axis=1), "obs_id"].tolist()
        if no_aux:
            raise DatasetError(
                f"{path}: empty or NaN in {list(self.aux_columns)} for {no_aux[:5]}; "
                "fill the weather (e.g. from ERA-5) or drop those rows"
            )
        frame["mask"] = frame["mask"].fillna("")
        frame["datetime"] = frame["datetime"].fillna("")  # unknown acquisition time

        plants_path = self.root / layout.PLANTS_GEOJSON
        if not plants_path.is_file():
            raise DatasetError(
                f"{plants_path}: not found; the dataset is incomplete — regenerate it"
            )
        plants = gpd.read_file(plants_path)
        if "plant_id" not in plants:
            raise DatasetError(f"{plants_path}: no 'plant_id' property; add one per plant")
        points = plants.set_index(plants["plant_id"].astype(str)).geometry
        unknown = sorted(set(frame["plant_id"]) - set(points.index))
        if unknown:
            raise DatasetError(
                f"{path}: plant ids {unknown[:5]} are not in {plants_path}; add them"
            )
        frame["lon"] = points.x.reindex(frame["plant_id"]).to_numpy()
        frame["lat"] = points.y.reindex(frame["plant_id"]).to_numpy()
        return frame.set_index("obs_id", drop=False)

    def _statistics(self) -> Statistics:
        """Training statistics of the split set, the built-in targets also under their sample
        keys (``power`` …); the documented defaults when the dataset stores none."""
        path = split_folder(self.root, self.split_seed) / STATISTICS_JSON
        if path.is_file():
            stored = Statistics.read(path)
        else:
            stored = default_statistics(self.product.name, self.scale)
        mean, std = dict(stored.mean), dict(stored.std)
        for key, column in self.target_columns.items():
            if column in mean:
                mean[key], std[key] = mean[column], std[column]
        return Statistics(mean, std, stored.source, stored.count)

    def labels(self) -> pd.DataFrame:
        """One row per sample, in sample order, without reading images: ``obs_id``,
        ``plant_id``, the scalar targets (``fuel``, ``power``, ``co2``, ``capacity`` and
        further ``targets``) with their ``has_*`` flags, and ``has_mask``."""
        table = pd.DataFrame({"obs_id": self.observations["obs_id"].to_numpy(),
                              "plant_id": self.observations["plant_id"].to_numpy()})  # fmt: skip
        table["fuel"] = self.observations["fuel"].to_numpy()
        table["has_fuel"] = table["fuel"] != FUEL_UNKNOWN
        for key, column in self.target_columns.items():
            values = self.observations[column].to_numpy(np.float64)
            table[key], table[flag_key(key)] = values, np.isfinite(values)
        table["has_mask"] = (self.observations["mask"] != "").to_numpy()
        return table

    def __len__(self) -> int:
        return len(self.observations)

    def _read_image(self, row: pd.Series) -> tuple[np.ndarray, dict]:
        """Reflectance (0–1) of the selected bands, float32 [C, H, W], and the profile."""
        return self._reflectance(self.root / row["image"])

    def _read_reference(self, row: pd.Series, shape: tuple[int, ...]) -> np.ndarray:
        """The observation's clear-sky reference as reflectance [C, H, W] (zeros if absent)."""
        relative = self.references.get(row["obs_id"])
        if relative is None:
            return np.zeros(shape, np.float32)
        return self._reflectance(inside(self.root, relative))[0]

    def _reflectance(self, path: Path) -> tuple[np.ndarray, dict]:
        """Reflectance of the selected bands in an image file and its profile."""
        dn, profile = read_geotiff(path)
        if dn.shape[0] != len(self.file_bands):
            raise DatasetError(
                f"{path}: has {dn.shape[0]} bands, but dataset.json declares {self.product.name} "
                f"with {len(self.file_bands)} ({' '.join(self.file_bands)}); "
                "fix the product in dataset.json or re-export the image"
            )
        image = dn[self._band_index].astype(np.float32)
        if np.isnan(image).any():
            raise DatasetError(f"{path}: contains NaN; fill or mask the no-data pixels before use")
        if (image < 0).any():
            raise DatasetError(
                f"{path}: negative reflectance (min {image.min():g}); L2A scenes with the "
                "+1000 offset must be harmonised (subtract BOA_ADD_OFFSET, clip at 0)"
            )
        if self.boa_offset:  # L2A baseline ≥ 04.00 files: DN = reflectance × scale + offset
            image = np.maximum(image - self.boa_offset, 0.0)
        return image / self.scale, profile

    def _read_mask(self, row: pd.Series, shape: tuple[int, int]) -> np.ndarray:
        """Plume mask, uint8 [H, W]: 0/1, or all 255 when the observation has no mask."""
        if not row["mask"]:
            return np.full(shape, MASK_UNLABELLED, np.uint8)
        path = self.root / row["mask"]
        mask, _ = read_geotiff(path)
        if mask.shape[0] != 1 or mask.shape[1:] != shape:
            raise DatasetError(
                f"{path}: shape {mask.shape}, expected (1, {shape[0]}, {shape[1]}) like its image"
            )
        invalid = np.setdiff1d(np.unique(mask), (0, 1, MASK_UNLABELLED))
        if invalid.size:
            raise DatasetError(
                f"{path}: values {invalid.tolist()}; a mask holds 0, 1 or 255 (unlabelled)"
            )
        return mask[0].astype(np.uint8)

    def _read_modality(self, row: pd.Series, key: str, shape: tuple[int, int]) -> np.ndarray:
        """A further spatial modality as stored (``image_s1``: dB), float32 [C, H, W]; a
        class map (``scl``) as class indices, uint8 [H, W] (0 where the row has none)."""
        if key in self.class_maps:
            return self._read_class_map(row, key, shape)
        path = self.root / row[key]
        array, _ = read_geotiff(path)
        channels = self.modalities[key]
        if array.shape != (len(channels), *shape):
            raise DatasetError(
                f"{path}: shape {array.shape}, expected ({len(channels)}, {shape[0]}, "
                f"{shape[1]}) for {key} {list(channels)} on its image's grid"
            )
        if np.isnan(array).any():
            raise DatasetError(f"{path}: contains NaN; fill the no-data pixels or drop the row")
        return array.astype(np.float32)

    def _read_class_map(self, row: pd.Series, key: str, shape: tuple[int, int]) -> np.ndarray:
        if not isinstance(row[key], str) or not row[key]:
            return np.zeros(shape, np.uint8)
        path = self.root / row[key]
        array, _ = read_geotiff(path)
        if array.shape != (1, *shape):
            raise DatasetError(f"{path}: shape {array.shape}, expected (1, {shape[0]}, "
                               f"{shape[1]}) for the class map {key} on its image's grid")
        if array.max() >= len(self.class_maps[key]):
            raise DatasetError(f"{path}: class {int(array.max())}; {key} has "
                               f"{len(self.class_maps[key])} classes (dataset.json)")  # fmt: skip
        return array[0].astype(np.uint8)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.observations.iloc[index]
        image, profile = self._read_image(row)
        spatial = {"image": image, "mask": self._read_mask(row, image.shape[1:])}
        if self.mask_obscured:
            clouds = self._read_class_map(row, self.mask_obscured, image.shape[1:])
            spatial["mask"][np.isin(clouds, obscured_codes(self.mask_obscured))] = MASK_UNLABELLED
        if REFERENCE_KEY in self.modalities:
            spatial[REFERENCE_KEY] = self._read_reference(row, image.shape)
        for key in self.modalities:
            if key not in ("image", REFERENCE_KEY):
                spatial[key] = self._read_modality(row, key, image.shape[1:])
        if self.transforms is not None:
            spatial = self.transforms(spatial)
        image, mask = spatial["image"], spatial["mask"]
        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
            "aux": torch.from_numpy(row[list(self.aux_columns)].to_numpy(np.float32)),
            "mask": torch.from_numpy(np.ascontiguousarray(mask).astype(np.int64)),
            "has_mask": torch.tensor(bool(row["mask"])),
            "fuel": torch.tensor(int(row["fuel"]), dtype=torch.int64),
            "has_fuel": torch.tensor(int(row["fuel"]) != FUEL_UNKNOWN),
        }
        for key in self.modalities:
            if key != "image":
                dtype = np.int64 if key in self.class_maps else np.float32
                sample[key] = torch.from_numpy(np.ascontiguousarray(spatial[key], dtype))
        if REFERENCE_KEY in self.modalities:
            sample[flag_key(REFERENCE_KEY)] = torch.tensor(self.references.get(row["obs_id"])
                                                           is not None)
        for key, column in self.target_columns.items():
            value = float(row[column])
            known = bool(np.isfinite(value))
            sample[key] = torch.tensor(value if known else 0.0, dtype=torch.float32)
            sample[flag_key(key)] = torch.tensor(known)
        sample.update(
            obs_id=row["obs_id"], plant_id=row["plant_id"], datetime=row["datetime"],
            lon=float(row["lon"]), lat=float(row["lat"]),
            crs=profile["crs"].to_string() if profile.get("crs") else "",
            transform=torch.tensor(tuple(profile["transform"])[:6], dtype=torch.float64),
        )  # fmt: skip
        return sample
