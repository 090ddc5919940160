"""The built-in generators as dataset sources: produced on first use, never into a folder
that holds another source's data."""

import json

import numpy as np
import pytest
from rasterio.transform import from_origin

from plantwatch.data.format.writer import DatasetWriter
from plantwatch.data.synthetic.source import SyntheticPlants
from plantwatch.errors import UserError


def test_a_generator_never_writes_into_a_partial_download(tmp_path):
    root = tmp_path / "downloaded"
    with DatasetWriter(root, {"source": "download", "product": "S2L2A"}) as writer:
        origin = from_origin(500_000, 5_600_000, 10, 10)
        writer.add({"obs_id": "P1_20210601", "plant_id": "P1"},
                   np.ones((12, 8, 8), np.uint16), "EPSG:32634", origin)  # fmt: skip
    before = sorted(p.name for p in root.rglob("*"))
    source = SyntheticPlants(plants=3, per_plant=1, size=16, progress=False)
    with pytest.raises(UserError, match=r"holds part of a dataset written with other settings"):
        source.prepare(root)
    assert sorted(p.name for p in root.rglob("*")) == before
    assert json.loads((root / "writer_settings.json").read_text())["source"] == "download"


def test_a_generator_fills_an_empty_folder_once(tmp_path):
    source = SyntheticPlants(plants=3, per_plant=1, size=16, progress=False)
    root = source.prepare(tmp_path / "synthetic")
    info = json.loads((root / "dataset.json").read_text())
    assert info["source"] == "synthetic" and info["generator"]["size"] == 16
    stamp = (root / "dataset.json").stat().st_mtime_ns
    source.prepare(root)
    assert (root / "dataset.json").stat().st_mtime_ns == stamp
