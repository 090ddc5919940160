"""`plantwatch data check ROOT`: recognise a dataset's layout and list every problem in it,
rather than stopping at the first.

Layouts: ``canonical`` (``dataset.json``), ``hanna2021`` (scene folders and a label table),
``smoke-plumes`` (scene folders, no table) and ``ben-ge`` (a meta table with ``patch_id``
and ``patch_id_s1``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from plantwatch import physics
from plantwatch.data.errors import DatasetError
from plantwatch.data.format import layout
from plantwatch.data.loading.contract import SampleDataset
from plantwatch.data.readers.labelstudio import read_label_folder
from plantwatch.data.readers.native import match_labels, read_native_image, scan_images
from plantwatch.errors import UserError

LAYOUTS: tuple[str, ...] = ("canonical", "hanna2021", "smoke-plumes", "ben-ge")


def detect_layout(root: str | Path) -> str:
    """The layout of the dataset in ``root`` (one of ``LAYOUTS``).

    Raises:
        DatasetError: none recognised, with what each layout needs.
    """
    root = Path(root)
    if (root / layout.DATASET_JSON).is_file():
        return "canonical"
    if (root / "images").is_dir():
        if any(p.suffix == ".csv" for p in root.rglob("*.csv")):
            return "hanna2021"
        return "smoke-plumes"
    for path in sorted(root.glob("*.csv")):
        try:
            header = pd.read_csv(path, nrows=0).columns
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
            continue
        if {"patch_id", "patch_id_s1"} <= set(header):
            return "ben-ge"
    raise DatasetError(
        f"{root}: no known dataset layout — expected dataset.json (canonical), images/ with "
        "positive/ and negative/ folders (smoke-plumes; with a label CSV: hanna2021) or a "
        "meta CSV with patch_id and patch_id_s1 (ben-ge)"
    )


def check_scenes(root: str | Path, sizes: tuple[int, ...], progress: bool = True) -> list[str]:
    """Problems of a smoke-plume or Hanna et al. scene folder: unreadable images, band counts,
    NaN, sizes outside ``sizes`` (larger than the largest, or below half the smallest), label
    files without an image, positive images without a label file."""
    root = Path(root)
    observations = scan_images(root / "images")
    if not observations:
        return [f"{root / 'images'}: no images in positive/ or negative/ folders"]
    problems: list[str] = []
    labels = read_label_folder(root / "segmentation_labels", problems)
    try:
        matched: dict | None = match_labels(observations, labels)
    except DatasetError as error:
        problems.append(str(error))
        matched = None
    for observation in tqdm(observations, desc="checking", unit="image", disable=not progress):
        try:
            image = read_native_image(observation.path, 13)
        except DatasetError as error:
            problems.append(str(error))
            continue
        height, width = image.dn.shape[1:]
        if max(height, width) > max(sizes) or min(height, width) < min(sizes) // 2:
            expected = " or ".join(f"{s} px" for s in sizes)
            problems.append(f"{observation.path}: {height} × {width} px; expected {expected}")
        if matched is not None and observation.positive and observation.obs_id not in matched:
            problems.append(f"{observation.path}: positive image without a label file")
    names = {o.path.name for o in observations}
    for (_, name), label in sorted(labels.items()):
        if name not in names:
            problems.append(f"{label.source}: labels {name}, which is not under images/")
    return problems


def check_hanna_table(root: str | Path) -> list[str]:
    """Problems of the Hanna et al. label table against the images: missing columns, unknown
    fuel names, missing weather, images without a row and rows without an image."""
    from plantwatch.data.readers.hanna2021 import TABLE_COLUMNS, find_table, read_table

    root = Path(root)
    try:
        path = find_table(root)
        table = read_table(path)
    except DatasetError as error:
        return [str(error)]
    problems = []
    for name, fuel in table["fuel_type"].items():
        try:
            physics.fuel_index(str(fuel))
        except ValueError:
            problems.append(f"{path}: row {name!r}: unknown fuel type {fuel!r}")
    weather = list(TABLE_COLUMNS[3:])
    for name in table.index[table[weather].isna().any(axis=1)]:
        problems.append(f"{path}: row {name!r}: empty weather ({', '.join(weather)})")
    images = {o.path.name for o in scan_images(root / "images")}
    problems += [f"{path}: no table row for image {n}" for n in sorted(images - set(table.index))]
    problems += [f"{path}: row {n!r} has no image" for n in sorted(set(table.index) - images)]
    return problems


def check_canonical(root: str | Path, progress: bool = True) -> list[str]:
    """Problems of a canonical dataset: its tables, then every observation as read with
    every modality and class map (``scl``) the dataset declares."""
    from plantwatch.data.readers.observations import PlantObservations

    try:
        dataset = PlantObservations(root)
        declared = (*dataset.info.get("modalities", {}), *dataset.class_maps)
        if declared:
            dataset = PlantObservations(root, modalities=("image", *declared))
    except UserError as error:  # dataset.json or observations.csv unreadable: one problem
        return [str(error)]
    return read_problems(dataset, progress)


def read_problems(dataset: SampleDataset, progress: bool = True) -> list[str]:
    """Read every sample of ``dataset``; the error of each unreadable one (empty: all fine)."""
    problems = []
    for index in tqdm(range(len(dataset)), desc="checking", unit="sample", disable=not progress):
        try:
            dataset[index]
        except UserError as error:
            problems.append(str(error))
    return problems


def check_dataset(root: str | Path, progress: bool = True) -> tuple[str, list[str]]:
    """(layout, problems) of the dataset in ``root``; no problems: an empty list."""
    kind = detect_layout(root)
    if kind == "canonical":
        return kind, check_canonical(root, progress)
    if kind == "smoke-plumes":
        return kind, check_scenes(root, (120,), progress)
    if kind == "hanna2021":
        return kind, check_hanna_table(root) + check_scenes(root, (120, 300), progress)
    return kind, check_benge(root, progress=progress)


def check_benge(root: str | Path, subset: str = "ben-ge-8k", progress: bool = True) -> list[str]:
    """Every problem of a ben-ge folder: its tables and split files, then each patch as read."""
    from plantwatch.data.readers.benge import tables
    from plantwatch.data.readers.benge.dataset import MODALITY_KEYS, BenGe

    try:
        dataset = BenGe(root, modalities=MODALITY_KEYS)
    except DatasetError as error:
        return [str(error)]
    problems = []
    for split in tables.find_splits(Path(root), subset).paths:
        try:
            BenGe(root, split=split, subset=subset, modalities=("image",), targets=())
        except DatasetError as error:
            problems.append(str(error))
    return problems + read_problems(dataset, progress)
