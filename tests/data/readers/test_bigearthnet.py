"""The reader and transforms on real Sentinel-2 patches (BigEarthNet examples)."""

import numpy as np
import pytest
import rasterio
import torch

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.format.geotiff import read_geotiff
from plantwatch.data.format.statistics import default_statistics
from plantwatch.data.readers.observations import PlantObservations
from tests.data.bigearthnet import s2_patches, stack_s2_patch, write_bigearthnet_dataset


@pytest.fixture(scope="module")
def real_dataset(bigearthnet, tmp_path_factory):
    return write_bigearthnet_dataset(bigearthnet["S2"], tmp_path_factory.mktemp("ben"))


def test_real_band_files_read_with_their_georeference(bigearthnet):
    patch = s2_patches(bigearthnet["S2"])[0]
    data, profile = read_geotiff(patch / f"{patch.name}_B05.tif")
    assert data.shape == (1, 60, 60) and data.dtype == np.uint16  # a 20 m band
    assert profile["crs"].to_epsg() // 100 == 326 and profile["transform"].a == 20.0


def test_real_patches_stack_into_the_canonical_l2a_order(bigearthnet):
    image, profile = stack_s2_patch(s2_patches(bigearthnet["S2"])[0])
    assert image.shape == (len(L2A_BAND_NAMES), 120, 120) and profile["transform"].a == 10.0


def test_the_reader_serves_real_patches_with_default_statistics(real_dataset):
    data = PlantObservations(real_dataset)
    assert len(data) == 6
    assert data.statistics.source == "defaults of S2L2A"
    mean, std = data.statistics.of(L2A_BAND_NAMES)
    reflectance = torch.stack([data[i]["image"] for i in range(len(data))])
    images = (reflectance - torch.from_numpy(mean)[:, None, None]) / torch.from_numpy(std)[
        :, None, None
    ]
    assert torch.isfinite(images).all() and images.shape == (6, 12, 120, 120)
    # The L2A defaults fit real European patches: typical pixels lie within a std or so of
    # the mean; only the snow-covered patch (1 of 6) reaches far out.
    assert images.abs().median() < 1.5
    assert (images.abs() < 4).float().mean() > 0.9
    sample = data[0]
    assert not sample["has_power"] and not sample["has_fuel"] and not sample["has_mask"]
    assert sample["aux"].shape == (4,)


def test_vegetation_in_real_patches_has_a_red_edge(real_dataset):
    data = PlantObservations(real_dataset, bands=["B04", "B08"])
    ndvi = []
    for i in range(len(data)):
        red, nir = data[i]["image"].numpy()
        ndvi.append(np.median((nir - red) / (nir + red + 1e-6)))
    assert max(ndvi) > 0.4  # at least one summer patch is green


def test_snow_reflectance_above_one_survives_augmentation(real_dataset):
    data = PlantObservations(real_dataset)
    brightest = max(range(len(data)), key=lambda i: data[i]["image"].max().item())
    image = data[brightest]["image"].numpy()
    assert image.max() > 1.0  # the snow-covered scene
    transform = Augmentation(crop_size=96, gain=0.0, offset=0.0, noise_std=0.0)
    out = transform({"image": image, "mask": np.zeros(image.shape[1:], np.uint8)})["image"]
    assert out.max() == pytest.approx(image[:, 12:108, 12:108].max(), rel=0.3)
    assert out.max() > 1.0


def test_default_l2a_means_match_real_patches_in_order_of_magnitude(bigearthnet):
    means = np.stack(
        [stack_s2_patch(p)[0].mean(axis=(1, 2)) for p in s2_patches(bigearthnet["S2"])]
    ).mean(0)
    default_mean, _ = default_statistics("S2L2A", 10_000).of(L2A_BAND_NAMES)
    ratio = means / (default_mean * 10_000)
    assert (ratio > 0.3).all() and (ratio < 3.5).all(), ratio


def test_sentinel1_patches_are_backscatter_in_db(bigearthnet):
    patch = sorted(p for p in bigearthnet["S1"].iterdir() if p.is_dir())[0]
    with rasterio.open(patch / f"{patch.name}_VV.tif") as src:
        vv = src.read(1)
    assert vv.dtype == np.float32 and -40 < np.median(vv) < 5
