"""The scene classification as a class map: read, moved with the image by augmentation,
packed, checked, and used to leave cloudy plume pixels out of the labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.geotiff import write_geotiff
from plantwatch.data.format.scene_classes import class_fractions, obscured_codes
from plantwatch.data.loading.sample import MASK_UNLABELLED
from plantwatch.data.packing.reader import PackedDataset
from plantwatch.data.packing.writer import pack_folder
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.tools.check import check_dataset
from tests.data.fakes import copy_dataset, with_scene_classes


@pytest.fixture(scope="module")
def classified(tiny_dataset, tmp_path_factory):
    return with_scene_classes(copy_dataset(tiny_dataset, tmp_path_factory.mktemp("scl") / "ds"))


def labelled_index(dataset: PlantObservations) -> int:
    return next(i for i in range(len(dataset)) if bool(dataset[i]["has_mask"]))


def test_the_class_map_is_read_as_classes_and_hides_cloudy_plume_pixels(classified):
    plain = PlantObservations(classified, modalities=("image", "scl"))
    index = labelled_index(plain)
    sample = plain[index]
    assert sample["scl"].dtype == torch.int64 and sample["scl"].shape == sample["mask"].shape
    h, w = sample["scl"].shape
    assert (sample["scl"][: h // 2, : w // 2] == 9).all() and (sample["scl"][h // 2 :] == 4).all()
    hidden = PlantObservations(classified, mask_obscured=True)[index]["mask"]
    cloudy = np.isin(sample["scl"].numpy(), obscured_codes("scl"))
    assert (hidden.numpy()[cloudy] == MASK_UNLABELLED).all()
    assert torch.equal(hidden[~torch.from_numpy(cloudy)], sample["mask"][~torch.from_numpy(cloudy)])


def test_augmentation_moves_the_class_map_with_the_mask(classified):
    dataset = PlantObservations(classified, modalities=("image", "scl"), mask_obscured=True,
                                transforms=Augmentation(crop_size=32, flips=True))  # fmt: skip
    dataset.transforms.set_random_seed(3)
    for index in range(4):
        sample = dataset[index]
        cloudy = np.isin(sample["scl"].numpy(), obscured_codes("scl"))
        assert (sample["mask"].numpy()[cloudy] == MASK_UNLABELLED).all()  # moved together
        assert set(np.unique(sample["scl"].numpy())) <= {4, 9}  # classes, never blended


def test_the_class_map_is_packed_and_checked(classified, tmp_path):
    out = pack_folder(classified, tmp_path / "packed", progress=False)
    packed = PackedDataset(out, split="train")
    direct = PlantObservations(classified, split="train", modalities=("image", "scl"))
    assert torch.equal(packed[0]["scl"], direct[0]["scl"])
    assert check_dataset(classified, progress=False) == ("canonical", [])
    broken = copy_dataset(classified, tmp_path / "broken")
    first = sorted((broken / "scl").glob("*.tif"))[0]
    write_geotiff(first, np.full((8, 8), 12, np.uint8), "EPSG:32633", (10, 0, 0, 0, -10, 0))
    _, problems = check_dataset(broken, progress=False)
    assert len(problems) == 1 and first.name in problems[0]


def test_mask_obscured_needs_a_scene_classification(tiny_dataset):
    with pytest.raises(DatasetError, match="mask_obscured needs a cloud class map"):
        PlantObservations(tiny_dataset, mask_obscured=True)


def test_fractions_count_classified_pixels_only():
    scl = np.array([[0, 0, 9, 9], [4, 4, 3, 10], [4, 4, 11, 4], [4, 4, 4, 4]], np.uint8)
    fractions = class_fractions(scl, "scl", radius_px=0.8)  # the centre 2 × 2: 4, 3, 4, 11
    assert fractions["patch_cloud_pct"] == pytest.approx(100 * 2 / 14)
    assert fractions["plant_shadow_pct"] == 25 and fractions["plant_snow_pct"] == 25
