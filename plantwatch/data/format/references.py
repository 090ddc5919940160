"""The plant's clear-sky reference of each observation, computed once and stored with the
dataset.

A plant is seen from the same orbit many times a year, and its surroundings — cooling towers,
coal yards, roofs, bright soil — are in every scene, while a plume or a cloud is not. The
reference of an observation is the per-band, per-pixel median of the plant's *other*
observations on the same grid (``others``), or of those taken strictly before it
(``earlier``, as operational monitoring would have it), and exists when at least
``min_others`` of them do; it never contains the observation's own pixels.

```
<root>/references/<mode>_k<min_others>/references.json   the manifest, written last:
        mode, min_others, the observations' fingerprint, obs_id → file (null: absent)
<root>/references/<mode>_k<min_others>/<obs_id>.tif      median of the stored numbers, as
        the images (reflectance × scale + the dataset's offset), uint16, the image's grid
```
The fingerprint covers each observation's id, plant, time and image file (path, size,
modification time): when observations are added, removed or rewritten, the references are
computed again on next use. Writing holds the dataset's lock, so processes that start at once
compute them once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from plantwatch.data.errors import DatasetError
from plantwatch.data.format import layout
from plantwatch.data.format.geotiff import read_geotiff, write_geotiff
from plantwatch.data.format.writer import dataset_lock
from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic
from plantwatch.files.ids import checked_id, inside
from plantwatch.files.tables import read_csv, read_json

ReferenceMode = Literal["others", "earlier"]
REFERENCE_MODES: tuple[str, ...] = ("others", "earlier")
REFERENCES_DIR = "references"
MANIFEST = "references.json"


def reference_folder(root: str | Path, mode: ReferenceMode, min_others: int) -> Path:
    """Where the references of ``mode`` with at least ``min_others`` observations live."""
    return Path(root) / REFERENCES_DIR / f"{mode}_k{min_others}"


def observations_fingerprint(root: str | Path, observations: pd.DataFrame) -> str:
    """SHA-256 of what the references depend on: per observation (in id order) its id, plant,
    time, image path and the image file's size and modification time (ns)."""
    digest = hashlib.sha256()
    for row in observations.sort_values("obs_id").itertuples(index=False):
        stat = inside(root, row.image).stat()
        digest.update(
            f"{row.obs_id}\t{row.plant_id}\t{row.datetime}\t{row.image}\t{stat.st_size}\t"
            f"{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()


def donors(
    times: pd.Series, shapes: list[tuple[int, ...]], index: int, mode: ReferenceMode
) -> list[int]:
    """Positions of the observations whose median is observation ``index``'s reference: the
    plant's others on the same grid shape (``earlier``: only those with a known time strictly
    before its own)."""
    chosen = [j for j in range(len(shapes)) if j != index and shapes[j] == shapes[index]]
    if mode == "earlier":
        own = times.iat[index]
        chosen = [j for j in chosen if pd.notna(own) and pd.notna(times.iat[j])
                  and times.iat[j] < own]  # fmt: skip
    return chosen


def _compute_plant(
    root: Path, folder: Path, plant: pd.DataFrame, mode: ReferenceMode, min_others: int
) -> dict[str, str | None]:
    """Write the references of one plant's observations; obs_id → file (None: absent)."""
    images, profiles = [], []
    for relative in plant["image"]:
        dn, profile = read_geotiff(inside(root, relative))
        images.append(dn)
        profiles.append(profile)
    shapes = [image.shape for image in images]
    times = pd.to_datetime(plant["datetime"].replace("", None), utc=True, errors="coerce")
    written: dict[str, str | None] = {}
    for i, obs_id in enumerate(plant["obs_id"]):
        chosen = donors(times, shapes, i, mode)
        if len(chosen) < min_others:
            written[obs_id] = None
            continue
        median = np.median(np.stack([images[j] for j in chosen]).astype(np.float32), axis=0)
        name = f"{checked_id(obs_id, 'obs_id', root / layout.OBSERVATIONS_CSV)}.tif"
        profile = profiles[i]
        write_geotiff(folder / name, np.rint(median).astype(np.uint16), profile.get("crs"),
                      profile["transform"])  # fmt: skip
        written[obs_id] = f"{folder.relative_to(root)}/{name}"
    return written


def _stored(manifest: Path) -> dict:
    """A manifest as written (a table obs_id → file or None under ``references``), or {} for
    a missing, unreadable or malformed one, which is then rebuilt."""
    try:
        stored = read_json(manifest, "a reference manifest")
    except UserError:
        return {}
    table = stored.get("references") if isinstance(stored, dict) else None
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in table.items()
    ):
        return {}
    return stored


def ensure_references(
    root: str | Path, mode: ReferenceMode = "others", min_others: int = 5, progress: bool = True
) -> dict[str, str | None]:
    """The reference file of every observation of the canonical dataset at ``root``
    (relative to it; None where fewer than ``min_others`` donors exist), computed and stored
    when missing or stale.

    Raises:
        DatasetError: an unknown mode or ``min_others`` below 1.
    """
    if mode not in REFERENCE_MODES:
        raise DatasetError(f"reference mode {mode!r}: choose one of {list(REFERENCE_MODES)}")
    if min_others < 1:
        raise DatasetError(f"reference min_others {min_others}: at least 1 other observation")
    root = Path(root)
    observations = read_csv(root / layout.OBSERVATIONS_CSV, "an observation table",
                            usecols=["obs_id", "plant_id", "datetime", "image"], dtype=str,
                            keep_default_na=False)  # fmt: skip
    folder = reference_folder(root, mode, min_others)
    with dataset_lock(folder):
        fingerprint = observations_fingerprint(root, observations)
        manifest = folder / MANIFEST
        stored = _stored(manifest)
        if stored.get("fingerprint") == fingerprint:
            return stored["references"]
        if folder.exists():
            shutil.rmtree(folder)  # stale: the observations changed since
        folder.mkdir(parents=True)
        references: dict[str, str | None] = {}
        plants = observations.groupby("plant_id", sort=True)
        for _, plant in tqdm(plants, desc=f"clear-sky references ({mode}, k={min_others})",
                             unit="plant", disable=not progress):  # fmt: skip
            references.update(_compute_plant(root, folder, plant, mode, min_others))
        record = {"mode": mode, "min_others": min_others, "statistic": "median",
                  "fingerprint": fingerprint, "references": references}  # fmt: skip
        write_text_atomic(manifest, json.dumps(record, indent=1))
        return references
