import json

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from torch.utils.data import DataLoader

from plantwatch import physics
from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.geotiff import read_geotiff, write_geotiff
from plantwatch.data.format.splits import read_split
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.readers.observations import PlantObservations
from tests.data.fakes import copy_dataset, edit_observations, set_cells


@pytest.fixture
def damaged(tmp_path, tiny_dataset):
    """A writable copy of the tiny dataset."""
    return copy_dataset(tiny_dataset, tmp_path / "copy")


def first_image(root):
    frame = pd.read_csv(root / "observations.csv")
    return root / frame["image"].iloc[0]


def test_round_trip_returns_the_written_values(tiny_dataset):
    frame = pd.read_csv(tiny_dataset / "observations.csv", keep_default_na=False)
    raw = PlantObservations(tiny_dataset)
    assert len(raw) == len(frame)
    for i in (0, 5, len(frame) - 1):
        row, sample = frame.iloc[i], raw[i]
        with rasterio.open(tiny_dataset / row["image"]) as src:
            np.testing.assert_allclose(sample["image"].numpy(), src.read() / 10000, rtol=1e-6)
        assert sample["obs_id"] == row["obs_id"] and sample["plant_id"] == row["plant_id"]
        assert sample["power"].item() == pytest.approx(float(row["generation_mw"]))
        assert sample["co2"].item() == pytest.approx(float(row["co2_t_per_h"]))
        assert sample["capacity"].item() == pytest.approx(float(row["capacity_mw"]))
        assert physics.FUEL_NAMES[sample["fuel"]] == row["fuel_type"]
        assert sample["has_mask"].item() == (row["mask"] != "")
        if row["mask"]:
            with rasterio.open(tiny_dataset / row["mask"]) as src:
                np.testing.assert_array_equal(sample["mask"].numpy(), src.read(1))
        else:
            assert (sample["mask"] == 255).all()
        assert sample["aux"].tolist() == pytest.approx(
            [
                float(row[c])
                for c in ("temperature_c", "relative_humidity_pct", "wind_u_ms", "wind_v_ms")
            ]
        )
        assert -180 < sample["lon"] < 180 and 40 < sample["lat"] < 60
        with rasterio.open(tiny_dataset / row["image"]) as src:
            assert sample["crs"] == src.crs.to_string()
            assert tuple(sample["transform"].tolist()) == tuple(src.transform)[:6]


def test_every_split_carries_the_statistics_of_the_training_split(tiny_dataset):
    train = PlantObservations(tiny_dataset, split="train")
    images = torch.stack([train[i]["image"] for i in range(len(train))]).double()
    mean, std = train.statistics.of(train.bands)
    np.testing.assert_allclose(images.mean(dim=(0, 2, 3)).numpy(), mean, rtol=1e-4)
    np.testing.assert_allclose(images.std(dim=(0, 2, 3)).numpy(), std, rtol=1e-3)
    frame = train.observations
    assert train.statistics.mean["power"] == pytest.approx(frame["generation_mw"].mean())
    for split in ("val", "test"):  # never computed from the split being read
        assert PlantObservations(tiny_dataset, split=split).statistics == train.statistics


def test_further_targets_come_from_named_columns(tiny_dataset):
    data = PlantObservations(tiny_dataset, targets={"air_temperature": "temperature_c"})
    sample = data[0]
    assert sample["has_air_temperature"]
    assert sample["air_temperature"].item() == pytest.approx(
        float(data.observations["temperature_c"].iloc[0])
    )
    assert "air_temperature" in data.statistics.mean
    assert {"air_temperature", "has_air_temperature", "has_mask"} <= set(data.labels())


def test_bands_are_selected_by_name(tiny_dataset):
    full = PlantObservations(tiny_dataset)
    rgb = PlantObservations(tiny_dataset, bands=["B04", "B03", "B02"])
    np.testing.assert_array_equal(rgb[0]["image"].numpy(), full[0]["image"].numpy()[[3, 2, 1]])
    with pytest.raises(ValueError, match=r"\['B10'\] not available"):
        PlantObservations(tiny_dataset, bands=["B10"])


def test_splits_select_observations(tiny_dataset):
    test = PlantObservations(tiny_dataset, split="test")
    assert sorted(test.observations.index) == sorted(read_split(tiny_dataset, "test"))
    ids = read_split(tiny_dataset, "train_10pct")[:2]
    assert list(PlantObservations(tiny_dataset, split=ids).observations.index) == ids


def test_batches_collate_with_transforms(tiny_dataset):
    data = PlantObservations(tiny_dataset, split="train", transforms=Augmentation(crop_size=32))
    batch = next(iter(DataLoader(data, batch_size=4, collate_fn=collate_samples)))
    assert batch["image"].shape == (4, 12, 32, 32) and batch["mask"].shape == (4, 32, 32)
    assert batch["mask"].dtype == torch.int64 and batch["fuel"].dtype == torch.int64
    assert batch["has_power"].dtype == torch.bool and len(batch["obs_id"]) == 4


def test_missing_labels_are_flagged_not_invented(damaged):
    set_cells(damaged, 0, generation_mw="", co2_t_per_h="", fuel_type="", capacity_mw="")
    sample = PlantObservations(damaged)[0]
    assert not sample["has_power"] and not sample["has_co2"] and not sample["has_fuel"]
    assert not sample["has_capacity"]
    assert sample["power"] == 0 and sample["co2"] == 0 and sample["fuel"] == -1


def test_no_dataset_json_says_how_to_create_one(tmp_path):
    with pytest.raises(DatasetError, match="dataset.json: not found.*plantwatch synth plants"):
        PlantObservations(tmp_path)


def test_missing_column_is_named(damaged):
    edit_observations(damaged, lambda f: f.drop(columns=["generation_mw", "wind_u_ms"]))
    with pytest.raises(
        DatasetError, match=r"observations.csv: missing columns \['generation_mw', 'wind_u_ms'\]"
    ):
        PlantObservations(damaged)


def test_unknown_fuel_type_is_named_with_its_observation(damaged):
    set_cells(damaged, 3, fuel_type="Nuclear")
    obs = pd.read_csv(damaged / "observations.csv")["obs_id"][3]
    with pytest.raises(
        DatasetError, match=f"observations.csv: observation {obs}: unknown fuel type 'Nuclear'"
    ):
        PlantObservations(damaged)


def test_non_numeric_and_negative_labels_are_named(damaged):
    set_cells(damaged, 1, generation_mw="lots")
    with pytest.raises(DatasetError, match="'generation_mw' holds non-numbers"):
        PlantObservations(damaged)

    set_cells(damaged, 1, generation_mw="-5")
    with pytest.raises(DatasetError, match="negative generation_mw"):
        PlantObservations(damaged)


def test_missing_weather_is_named(damaged):
    set_cells(damaged, 2, temperature_c="")
    with pytest.raises(DatasetError, match="empty or NaN in .*temperature_c"):
        PlantObservations(damaged)


def test_split_with_unknown_ids_is_named(damaged):
    (damaged / "splits" / "val.txt").write_text("P9999_20300101\n")
    with pytest.raises(
        DatasetError, match=r"splits/val.txt: 1 ids not in observations.csv.*P9999_20300101"
    ):
        PlantObservations(damaged, split="val")


def test_wrong_band_count_is_named(damaged):
    path = first_image(damaged)
    with rasterio.open(path) as src:
        data, crs, transform = src.read(), src.crs, src.transform
    write_geotiff(path, data[:4], crs, transform)
    with pytest.raises(
        DatasetError, match=f"{path.name}: has 4 bands, but dataset.json declares S2L2A with 12"
    ):
        PlantObservations(damaged)[0]


def test_nan_and_negative_reflectance_are_named(damaged):
    path = first_image(damaged)
    with rasterio.open(path) as src:
        data, crs, transform = src.read().astype(np.float32), src.crs, src.transform
    data[2, 5, 5] = np.nan
    write_geotiff(path, data, crs, transform)
    with pytest.raises(DatasetError, match=f"{path.name}: contains NaN"):
        PlantObservations(damaged)[0]
    data[2, 5, 5] = -1000.0
    write_geotiff(path, data, crs, transform)
    with pytest.raises(DatasetError, match=f"{path.name}: negative reflectance.*harmonised"):
        PlantObservations(damaged)[0]


def test_corrupt_geotiff_is_named(damaged):
    path = first_image(damaged)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=f"{path.name}: not a readable GeoTIFF.*corrupt"):
        PlantObservations(damaged)[0]


def test_missing_image_file_is_named(damaged):
    path = first_image(damaged)
    path.unlink()
    with pytest.raises(DatasetError, match=f"{path.name}: file not found"):
        PlantObservations(damaged)[0]


def test_invalid_mask_values_are_named(damaged):
    frame = pd.read_csv(damaged / "observations.csv", keep_default_na=False)
    index = int(np.nonzero(frame["mask"] != "")[0][0])
    path = damaged / frame["mask"].iloc[index]
    with rasterio.open(path) as src:
        mask, crs, transform = src.read(), src.crs, src.transform
    mask[0, 0, 0] = 7
    write_geotiff(path, mask, crs, transform)
    with pytest.raises(DatasetError, match=r"values \[7\]; a mask holds 0, 1 or 255"):
        PlantObservations(damaged)[index]


def test_plants_missing_from_the_registry_are_named(damaged):
    set_cells(damaged, 0, plant_id="X1")
    with pytest.raises(DatasetError, match=r"plant ids \['X1'\] are not in .*plants.geojson"):
        PlantObservations(damaged)


def test_default_statistics_are_used_when_the_dataset_has_none(damaged):
    (damaged / "splits" / "statistics.json").unlink()
    data = PlantObservations(damaged, split="train")
    assert data.statistics.source == "defaults of S2L2A"
    assert data.statistics.mean["B02"] == pytest.approx(430 / 10000)  # the L2A defaults
    assert data.statistics.mean["temperature_c"] == 10.0
    with pytest.raises(DatasetError, match=r"no statistics for \['power'\].*finalise"):
        data.statistics.of(["power"])


def test_l2a_files_with_the_boa_offset_read_as_harmonised_reflectance(damaged, tiny_dataset):
    path = first_image(damaged)
    data, profile = read_geotiff(path)
    write_geotiff(path, data + 1000, profile["crs"], profile["transform"])
    info = json.loads((damaged / "dataset.json").read_text())
    info["boa_add_offset_dn"] = 1000
    (damaged / "dataset.json").write_text(json.dumps(info))
    offset = PlantObservations(damaged)[0]["image"]
    harmonised = PlantObservations(tiny_dataset)[0]["image"]
    torch.testing.assert_close(offset, harmonised)
