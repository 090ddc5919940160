import json

import pytest
import torch

from plantwatch.data.datamodule import PlantDataModule
from plantwatch.data.errors import DatasetError
from plantwatch.data.splits import read_split


def module(root, **overrides) -> PlantDataModule:
    settings = {"plants": 8, "per_plant": 3, "size": 32, "batch_size": 4, "seed": 1}
    settings.update(overrides)
    return PlantDataModule(root=str(root), **settings)


def test_prepare_data_generates_the_configured_dataset_once(tmp_path):
    dm = module(tmp_path / "ds")
    dm.prepare_data()
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert info["generator"]["plants"] == 8 and info["generator"]["size"] == 32
    stamp = (tmp_path / "ds" / "dataset.json").stat().st_mtime_ns
    dm.prepare_data()
    assert (tmp_path / "ds" / "dataset.json").stat().st_mtime_ns == stamp


def test_loaders_yield_train_val_and_test_batches(tmp_path):
    dm = module(tmp_path / "ds", crop_size=24)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 12, 24, 24)
    val = next(iter(dm.val_dataloader()))
    assert val["image"].shape[1:] == (12, 32, 32)  # no crop outside training
    dm.setup("test")
    seen = [i for b in dm.test_dataloader() for i in b["obs_id"]]
    assert sorted(seen) == sorted(read_split(tmp_path / "ds", "test"))
    assert {"mask", "fuel", "power", "co2", "aux", "has_mask"} <= set(batch)


def test_label_fraction_trains_on_the_nested_subset(tmp_path):
    dm = module(tmp_path / "ds", plants=12, per_plant=10, label_fraction=0.1)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.train_split == "train_10pct"
    assert list(dm.datasets["train"].observations.index) == read_split(
        tmp_path / "ds", "train_10pct"
    )


def test_bands_reach_the_batches(tmp_path):
    dm = module(tmp_path / "ds", bands=["B04", "B03", "B02", "B08"], augment=False)
    dm.prepare_data()
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))["image"].shape[1] == 4


def test_disk_source_without_a_dataset_says_so(tmp_path):
    dm = module(tmp_path / "missing", source="disk")
    with pytest.raises(DatasetError, match="dataset.json: not found.*source=synthetic"):
        dm.prepare_data()


def test_changed_generator_settings_warn_and_keep_the_data(tmp_path):
    module(tmp_path / "ds").prepare_data()
    with pytest.warns(UserWarning, match=r"generated with other settings.*'plants': \(8, 9\)"):
        module(tmp_path / "ds", plants=9).prepare_data()


def test_worker_processes_load_the_same_batches(tmp_path):
    dm = module(tmp_path / "ds", augment=False, num_workers=2)
    dm.prepare_data()
    dm.setup("test")
    parallel = torch.cat([b["image"] for b in dm.test_dataloader()])
    dm.hparams.num_workers = 0
    serial = torch.cat([b["image"] for b in dm.test_dataloader()])
    torch.testing.assert_close(parallel, serial)
