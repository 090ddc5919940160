"""Adding observations to a complete dataset (a monitoring study's next month): the new
rows join ``observations.csv``, new plants ``plants.geojson``, and every split set grows
without moving any observation it holds (`splits.extend_splits`); the training statistics of
a split set are computed again only where its training split changed; ``dataset.json``
records each update. Written file by file, each atomically, and ``dataset.json`` last: a
killed update leaves its journal, and the same update run again finishes it (rows already
in ``observations.csv`` are not added twice, held ids never move)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from plantwatch.data.format import layout
from plantwatch.data.format.splits import SPLIT_NAMES, extend_splits, write_splits
from plantwatch.data.format.statistics import STATISTICS_JSON
from plantwatch.data.format.writer import (
    DEFAULT_LABEL_FRACTIONS,
    DatasetWriter,
    write_statistics,
)
from plantwatch.files.atomic import write_text_atomic


def split_sets(root: Path) -> list[tuple[Path, int | None]]:
    """Every split set of a dataset: (folder, split seed; None for the default set)."""
    folder = root / layout.SPLITS_DIR
    sets: list[tuple[Path, int | None]] = [(folder, None)]
    for seeded in sorted(folder.glob("seed*")):
        if (seeded / STATISTICS_JSON).is_file() and seeded.name[4:].isdigit():
            sets.append((seeded, int(seeded.name[4:])))
    return sets


def grow_split_set(
    root: Path, folder: Path, split_seed: int | None, observations: pd.DataFrame,
    info: Mapping[str, Any], progress: bool = True,
) -> int:  # fmt: skip
    """Add the observations a split set does not hold (`extend_splits`); its statistics are
    computed again if its training split grew. Returns the training observations added."""
    settings = info.get("splits", {})
    label_fractions = settings.get("label_fractions", DEFAULT_LABEL_FRACTIONS)
    splits = {p.stem: [i for i in p.read_text().split() if i] for p in folder.glob("*.txt")}
    seed = settings.get("seed", 0) if split_seed is None else split_seed
    grown = extend_splits(splits, observations, label_fractions,
                          settings.get("val_fraction", 0.15),
                          settings.get("test_fraction", 0.15), seed)  # fmt: skip
    added = len(grown["train"]) - len(splits.get("train", []))
    if grown is not splits:
        write_splits(folder, grown)
    if added:
        train = observations.set_index("obs_id").loc[grown["train"]]
        write_statistics(root, folder, train, info, split_seed, progress)
    return added


def close_update(
    writer: DatasetWriter,
    plants: Sequence[Mapping[str, Any]],
    update: Mapping[str, Any],
    site_ids: Mapping[str, int] | None = None,
    progress: bool = True,
) -> Path:
    """Finish an update begun with ``DatasetWriter(root, info, update=True)``.

    Args:
        plants: a record per plant of the dataset after the update (as for ``close``).
        update: what ``dataset.json`` records of this update (``updates`` gets it, with the
            number of observations and plants added).
        site_ids: the site of every plant after the update (as for ``close``).
    """
    root = writer.root
    added = [r for i, r in writer.rows.items() if i not in writer.existing]
    frame = pd.DataFrame([*writer.existing.values(), *added]).drop_duplicates("obs_id")
    frame = frame.sort_values("obs_id", kind="stable")
    if site_ids is not None:
        frame["site_id"] = frame["plant_id"].map(site_ids).astype(int)
    write_text_atomic(root / layout.OBSERVATIONS_CSV, frame.to_csv(index=False))
    partial = root / f"{layout.PLANTS_GEOJSON}.partial"
    gpd.GeoDataFrame(list(plants), crs="EPSG:4326").to_file(partial, driver="GeoJSON")
    partial.replace(root / layout.PLANTS_GEOJSON)
    observations = pd.read_csv(root / layout.OBSERVATIONS_CSV,
                               dtype={"obs_id": str, "plant_id": str})  # fmt: skip
    info = dict(writer.info)
    known = {i for name in SPLIT_NAMES for i in _ids(root / layout.SPLITS_DIR / f"{name}.txt")}
    new_plants = sorted(set(observations["plant_id"]) - set(
        observations.loc[observations["obs_id"].isin(known), "plant_id"]))  # fmt: skip
    for folder, split_seed in split_sets(root):
        grow_split_set(root, folder, split_seed, observations, info, progress)
    record = {**update, "observations_added": len(added), "plants_added": new_plants}
    info["updates"] = [*info.get("updates", []), record]
    write_text_atomic(root / layout.DATASET_JSON, json.dumps(info, indent=2) + "\n")
    writer.finish()
    return root


def _ids(path: Path) -> list[str]:
    return path.read_text().split() if path.is_file() else []
