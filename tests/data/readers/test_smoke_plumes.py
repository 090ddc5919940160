import shutil

import numpy as np
import pytest
import rasterio

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.geotiff import write_geotiff
from plantwatch.data.loading.sample import MASK_UNLABELLED
from plantwatch.data.readers.native import datetime_from_name, safe_id
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.readers.smoke_plumes import convert_smoke_plumes
from tests.data.scene_fakes import add_second_subset, write_smoke_plume_fake


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    src = write_smoke_plume_fake(root / "src", sites=3)
    return convert_smoke_plumes(src, root / "canonical", progress=False)


def test_conversion_keeps_masks_absent_labels_and_sites(converted):
    data = PlantObservations(converted, bands=L2A_BAND_NAMES, aux_columns=[])
    table = data.observations.set_index("obs_id")
    assert len(data) == 8 and table["plant_id"].nunique() == 3
    site0 = {"plume_2019-03-04", "plume_small", "plume_unlabelled", "clear_0"}
    assert table.loc[sorted(site0), "plant_id"].nunique() == 1
    labels = data.labels().set_index(data.observations.index)
    assert not labels.loc["plume_unlabelled", "has_mask"] and labels["has_mask"].sum() == 7
    assert not labels[["has_fuel", "has_power", "has_co2", "has_capacity"]].any().any()
    assert table.loc["plume_2019-03-04", "datetime"] == "2019-03-04T00:00:00Z"
    assert table.loc["plume_small", "source"] == "images/subset1/positive/plume_small.tif"

    sample = data[list(data.observations.index).index("plume_small")]
    assert sample["image"].shape == (12, 120, 120) and sample["aux"].shape == (0,)
    mask = sample["mask"].numpy()
    assert (mask[100:] == MASK_UNLABELLED).all()  # padding is unlabelled
    assert mask[50:75, 30:60].all() and mask[:100].sum() <= 27 * 32  # 25–75 % of 100 px
    assert table.loc["plume_small", "padded_pixels"] == 20 * 120
    with rasterio.open(converted / "images" / "plume_small.tif") as image:
        assert image.count == 13 and image.crs.to_string() == "EPSG:32632"
    clear = data[list(data.observations.index).index("clear_0")]
    assert not clear["mask"].any() and clear["has_mask"]


def test_splits_never_cut_a_site(converted):
    frame = PlantObservations(converted, aux_columns=[]).observations
    owners = {}
    for split in ("train", "val", "test"):
        for obs_id in (converted / "splits" / f"{split}.txt").read_text().split():
            owners.setdefault(frame.loc[obs_id, "plant_id"], set()).add(split)
    assert all(len(splits) == 1 for splits in owners.values())


def test_a_bad_image_or_layout_is_named(tmp_path):
    with pytest.raises(DatasetError, match="no images"):
        convert_smoke_plumes(tmp_path, tmp_path / "out", progress=False)
    src = write_smoke_plume_fake(tmp_path / "src")
    bad = src / "images" / "subset1" / "negative" / "clear_0.tif"
    with rasterio.open(bad) as image:
        crs, transform = image.crs, image.transform
    write_geotiff(bad, np.zeros((12, 120, 120), np.uint16), crs, transform)
    with pytest.raises(DatasetError, match="clear_0.tif: has 12 bands, expected 13"):
        convert_smoke_plumes(src, tmp_path / "out2", progress=False)


def test_images_of_one_name_in_two_subsets_keep_their_own_masks(tmp_path):
    src = add_second_subset(write_smoke_plume_fake(tmp_path / "src"))
    root = convert_smoke_plumes(src, tmp_path / "out", progress=False)
    data = PlantObservations(root, aux_columns=[])
    ids = list(data.observations.index)
    first = data[ids.index("subset1_positive_plume_small")]["mask"].numpy()
    second = data[ids.index("subset2_positive_plume_small")]["mask"].numpy()
    assert first[50:75, 30:60].all() and not first[:20, :20].any()  # its square only
    assert second[:24, :24].all() and second[30:].sum() == 0  # its corner only


def test_a_flat_label_folder_cannot_serve_two_images_of_one_name(tmp_path):
    src = add_second_subset(write_smoke_plume_fake(tmp_path / "src"), flat_labels=True)
    with pytest.raises(DatasetError, match=r"labels plume_small.tif, and images/subset1/positive"
                       r"/plume_small.tif and images/subset2/positive/plume_small.tif"):
        convert_smoke_plumes(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_names_that_become_the_same_id_are_both_named(tmp_path):
    src = write_smoke_plume_fake(tmp_path / "src")
    negative = src / "images" / "subset1" / "negative"
    (negative / "clear_0.tif").rename(negative / "a b.tif")
    shutil.copy(negative / "a b.tif", negative / "a-b.tif")
    with pytest.raises(DatasetError, match=r"a b.tif and .*a-b.tif: both become observation id"):
        convert_smoke_plumes(src, tmp_path / "out", progress=False)


def test_names_become_safe_ids_and_times():
    assert safe_id("1234_2019-01-01T10:30:00") == "1234_2019-01-01T10-30-00"
    assert datetime_from_name("1234_2019-01-01T10:30:00") == "2019-01-01T10:30:00Z"
    assert datetime_from_name("S2B_20190501_x") == "2019-05-01T00:00:00Z"
    assert datetime_from_name("scene") == ""
