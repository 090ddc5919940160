"""s2cloudless cloud masks for an L1C dataset without one: a painted cloud is found, the
shares in the table are those of the stored map, the dataset serves the map, a rerun is a
no-op and an L2A dataset is refused with the reason."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plantwatch.cli import main
from plantwatch.data.format.geotiff import read_geotiff, write_geotiff
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.tools.check import check_dataset
from plantwatch.data.tools.cloud_masks import add_cloud_masks, cloud_detector
from plantwatch.errors import UserError
from tests.data.fakes import copy_dataset, make_dataset

# A bright, flat top-of-atmosphere spectrum of a thick cloud, reflectance × 10000 (B01 … B12).
CLOUD_DN = (4500, 4200, 4000, 4000, 4200, 4500, 4600, 4500, 4600, 2000, 300, 3500, 2500)


@pytest.fixture(scope="module")
def l1c(tmp_path_factory: pytest.TempPathFactory):
    try:
        cloud_detector()
    except UserError as error:
        pytest.skip(str(error))
    return make_dataset(tmp_path_factory.mktemp("l1c") / "ds", plants=3, per_plant=2,
                        size=32, product_name="S2L1C")  # fmt: skip


def test_a_painted_cloud_is_masked_and_its_share_counted(l1c, tmp_path, capsys):
    root = copy_dataset(l1c, tmp_path / "ds")
    table = pd.read_csv(root / "observations.csv", dtype=str, keep_default_na=False)
    first = table["obs_id"].iloc[0]
    image, profile = read_geotiff(root / table["image"].iloc[0])
    image[:, 2:14, 2:14] = np.array(CLOUD_DN, np.uint16)[:, None, None]
    write_geotiff(root / table["image"].iloc[0], image, profile["crs"], profile["transform"])
    main(["data", "clouds", str(root), "--quiet"])
    assert f"wrote {len(table)} cloud masks" in capsys.readouterr().out
    classes = read_geotiff(root / "clm" / f"{first}.tif")[0][0]
    assert (classes[2:14, 2:14] == 2).all()  # the painted block is cloud
    masked = pd.read_csv(root / "observations.csv", dtype={"obs_id": str})
    row = masked.set_index("obs_id").loc[first]
    assert row["patch_cloud_pct"] == pytest.approx(100 * (classes == 2).mean(), abs=1e-3)
    assert row["patch_cloud_pct"] >= 100 * 144 / 32**2
    info = json.loads((root / "dataset.json").read_text())
    assert info["class_maps"]["clm"] == ["no_data", "clear", "cloud"]
    assert info["cloud_mask"]["source"] == "s2cloudless"
    assert check_dataset(root, progress=False) == ("canonical", [])
    sample = PlantObservations(root, modalities=("image", "clm"))[0]
    assert sample["clm"].shape == (32, 32) and int(sample["clm"][5, 5]) == 2
    assert add_cloud_masks(root, progress=False) == 0  # it has its mask: nothing to do


def test_a_killed_run_resumes_from_the_masks_it_wrote(l1c, tmp_path):
    root = copy_dataset(l1c, tmp_path / "ds")
    (root / "clm").mkdir()
    first = pd.read_csv(root / "observations.csv", dtype=str)["obs_id"].iloc[0]
    stored = np.full((32, 32), 2, np.uint8)  # a mask an earlier run wrote (all cloud)
    _, profile = read_geotiff(root / "images" / f"{first}.tif")
    write_geotiff(root / "clm" / f"{first}.tif", stored, profile["crs"], profile["transform"])
    made = add_cloud_masks(root, progress=False)
    table = pd.read_csv(root / "observations.csv", dtype={"obs_id": str}).set_index("obs_id")
    assert made == len(table) - 1 and table.at[first, "patch_cloud_pct"] == 100.0


def test_an_l2a_dataset_is_refused_with_the_reason(tiny_dataset):
    with pytest.raises(UserError, match="13 L1C bands"):
        add_cloud_masks(tiny_dataset, progress=False)
