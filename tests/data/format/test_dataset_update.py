"""Adding observations to a complete dataset: splits grow without moving anything, the
training statistics are computed again only when the training split grew."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from plantwatch.data.format.dataset_update import close_update
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.data.format.splits import read_split
from plantwatch.data.format.writer import DatasetWriter
from plantwatch.errors import UserError
from tests.data.fakes import copy_dataset


def add_copy(writer: DatasetWriter, root: Path, obs_id: str, new_id: str) -> None:
    """Write a copy of observation ``obs_id`` as ``new_id`` (a later overpass of its plant)."""
    row = {k: v for k, v in writer.existing[obs_id].items() if k not in ("image", "mask")}
    image, profile = read_geotiff(root / writer.existing[obs_id]["image"])
    writer.add({**row, "obs_id": new_id}, image, profile["crs"], profile["transform"])


def plants_of(root: Path) -> list[dict]:
    return gpd.read_file(root / "plants.geojson").to_dict("records")


def test_new_overpasses_join_their_plants_split_and_statistics_follow_train(
    tiny_dataset, tmp_path
):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    statistics = (root / "splits" / "statistics.json").read_bytes()
    before = {n: read_split(root, n) for n in ("train", "val", "test")}
    info = json.loads((root / "dataset.json").read_text())
    val_obs = before["val"][0]
    with DatasetWriter(root, info, update=True) as writer:
        add_copy(writer, root, val_obs, f"{val_obs[:5]}_20991231")
        close_update(writer, plants_of(root), {"end": "2099-12-31"}, progress=False)
    assert f"{val_obs[:5]}_20991231" in read_split(root, "val")
    assert (root / "splits" / "statistics.json").read_bytes() == statistics  # train unchanged
    assert all(set(ids) <= set(read_split(root, n)) for n, ids in before.items())
    train_obs = before["train"][0]
    info = json.loads((root / "dataset.json").read_text())
    with DatasetWriter(root, info, update=True) as writer:
        add_copy(writer, root, train_obs, f"{train_obs[:5]}_20991231")
        close_update(writer, plants_of(root), {"end": "2099-12-31"}, progress=False)
    assert f"{train_obs[:5]}_20991231" in read_split(root, "train")
    grown = json.loads((root / "splits" / "statistics.json").read_text())
    assert grown["count"] == len(before["train"]) + 1
    record = json.loads((root / "dataset.json").read_text())["updates"]
    assert [u["observations_added"] for u in record] == [1, 1]
    table = pd.read_csv(root / "observations.csv")
    assert table["obs_id"].is_unique and len(table) == sum(map(len, before.values())) + 2


def test_only_a_complete_dataset_can_be_updated(tmp_path):
    with pytest.raises(UserError, match="no complete dataset to add to"):
        DatasetWriter(tmp_path / "empty", {"bands": []}, update=True)
