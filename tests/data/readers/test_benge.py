import numpy as np
import pytest
import rasterio
import torch

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.errors import DatasetError
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.readers.benge.dataset import BenGe, acquisition
from plantwatch.data.tools.check import check_benge
from tests.data.benge_fake import write_benge_fake


@pytest.fixture(scope="module")
def benge(tmp_path_factory):
    return write_benge_fake(tmp_path_factory.mktemp("benge"))


def _band(root, patch, band):
    path = next(root.rglob(f"{patch}_{band}.tif"))
    with rasterio.open(path) as src:
        return src.read(1)


def test_real_patches_keep_band_order_and_the_10m_grid(benge):
    data = BenGe(benge, split="train", modalities=("image", "image_s1", "dem", "lulc"))
    assert len(data) == 4 and data.modalities["image_s1"] == ("VV", "VH")
    sample = data[0]
    patch = sample["obs_id"]
    image = sample["image"].numpy()
    assert image.shape == (12, 120, 120) and image.dtype == np.float32
    np.testing.assert_allclose(image[L2A_BAND_NAMES.index("B02")], _band(benge, patch, "B02") / 1e4)
    b05 = _band(benge, patch, "B05")  # 20 m: 60 × 60, each pixel covers 2 × 2 on the grid
    assert b05.shape == (60, 60)
    np.testing.assert_allclose(image[L2A_BAND_NAMES.index("B05"), ::2, ::2], b05 / 1e4)
    np.testing.assert_allclose(image[L2A_BAND_NAMES.index("B05"), 1::2, 1::2], b05 / 1e4)
    b01 = _band(benge, patch, "B01")  # 60 m: 20 × 20, 6 × 6 on the grid
    np.testing.assert_allclose(image[0, :6, :6], np.full((6, 6), b01[0, 0] / 1e4), rtol=1e-6)
    assert 0.0 <= image.min() and np.median(image) < 1.0  # reflectance

    vv = _band(benge, data.meta.loc[patch, "patch_id_s1"], "VV")  # paired through the meta
    s1 = sample["image_s1"].numpy()
    np.testing.assert_array_equal(s1[0], vv)
    assert s1.dtype == np.float32 and -40 < np.median(s1) < 5  # dB
    assert sample["dem"].shape == (1, 120, 120) and sample["dem"].dtype == torch.float32
    assert sample["lulc"].dtype == torch.int64
    assert (sample["lulc"][:, :40] == 0).all() and (sample["lulc"][:, 40:] == 3).all()
    assert sample["crs"].startswith("EPSG:") and sample["transform"][0] == 10.0


def test_tables_give_weather_fractions_climate_and_season(benge):
    data = BenGe(benge, modalities=("image",))
    samples = [data[i] for i in range(len(data))]
    assert samples[2]["aux"][0].item() == pytest.approx(282.0 - 273.15, abs=1e-4)  # K → °C
    assert samples[2]["aux"][1].item() == pytest.approx(62.0)
    fractions = samples[0]["lulc_fractions"]
    assert fractions.sum().item() == pytest.approx(1.0) and fractions[0].item() == pytest.approx(
        1 / 3
    )
    assert samples[0]["lulc_multilabel"].tolist() == [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert not samples[0]["has_climate_zone"] and samples[3]["climate_zone"].item() == 2
    assert samples[3]["season"].item() == pytest.approx(0.3)
    labels = data.labels()
    assert labels["has_climate_zone"].tolist() == [False] + [True] * 5
    assert samples[0]["plant_id"] == acquisition(samples[0]["obs_id"])
    assert collate_samples(samples[:2])["image"].shape == (2, 12, 120, 120)


def test_splits_come_from_the_files_or_are_drawn_by_acquisition(benge):
    own = {s: set(BenGe(benge, split=s).meta.index) for s in ("train", "val", "test")}
    assert [len(own[s]) for s in ("train", "val", "test")] == [4, 1, 1]
    drawn = {s: BenGe(benge, split=s, split_seed=1).meta for s in ("train", "val", "test")}
    groups = [set(drawn[s]["plant_id"]) for s in drawn]
    assert sum(len(drawn[s]) for s in drawn) == 6
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert len(BenGe(benge, split="train_50pct").meta) == 2


def test_augmentation_moves_every_modality_together(benge):
    flips = Augmentation(flips=True, gain=0.0, offset=0.0, noise_std=0.0)
    data = BenGe(benge, split="train", modalities=("image", "dem", "lulc"), transforms=flips)
    sample = data[0]
    rows_dem = sample["dem"][0, :, 0]  # elevation grows with the row in the unaugmented patch
    lulc = sample["lulc"]
    # The DEM's gradient direction and the map's class boundary turn together under D4.
    if torch.all(rows_dem[1:] != rows_dem[:-1]):
        assert torch.all(lulc[0] == lulc[-1]) and torch.any(lulc[0] != lulc[0, 0])
    else:
        assert torch.all(lulc[:, 0] == lulc[:, -1]) and torch.any(lulc[:, 0] != lulc[0, 0])


def test_problems_are_listed_and_named(benge, tmp_path):
    bad = write_benge_fake(tmp_path / "bad")
    next(bad.rglob("*_dem.tif")).unlink()
    broken = next(bad.rglob("*_B03.tif"))
    broken.write_bytes(b"not a tiff")
    problems = check_benge(bad, progress=False)
    assert len(problems) == 2, problems
    assert any("_dem.tif" in p for p in problems) and any(broken.name in p for p in problems)
    with pytest.raises(ValueError, match="unknown modalities"):
        BenGe(benge, modalities=("image", "radar"))
    assert check_benge(benge, progress=False) == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no meta table"):
        BenGe(tmp_path / "empty")
