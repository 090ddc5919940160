import json
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.splits import read_split
from plantwatch.data.loading.contract import SampleDataset
from plantwatch.data.loading.datamodule import DataModule
from plantwatch.data.loading.epoch_loader import SEED_VARIABLE, epoch_seed
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.synthetic.source import SyntheticPlants


def module(root, plants=8, per_plant=3, **overrides) -> DataModule:
    source = SyntheticPlants(plants=plants, per_plant=per_plant, size=32, seed=1, progress=False)
    settings = {"source": source, "batch_size": 4}
    settings.update(overrides)
    return DataModule(root=str(root), **settings)


def test_prepare_data_generates_the_configured_dataset_once(tmp_path):
    dm = module(tmp_path / "ds")
    dm.prepare_data()
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert info["generator"]["plants"] == 8 and info["generator"]["size"] == 32
    stamp = (tmp_path / "ds" / "dataset.json").stat().st_mtime_ns
    dm.prepare_data()
    assert (tmp_path / "ds" / "dataset.json").stat().st_mtime_ns == stamp


def test_loaders_yield_train_val_and_test_batches(tmp_path):
    dm = module(tmp_path / "ds", augmentation=Augmentation(crop_size=24))
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 12, 24, 24)
    val = next(iter(dm.val_dataloader()))
    assert val["image"].shape[1:] == (12, 32, 32)  # no crop outside training
    dm.setup("test")
    seen = [i for b in dm.test_dataloader() for i in b["obs_id"]]
    assert sorted(seen) == sorted(read_split(tmp_path / "ds", "test"))
    assert {"mask", "fuel", "power", "co2", "aux", "has_mask", "crs", "transform"} <= set(batch)
    assert isinstance(dm.datasets["train"], SampleDataset)


def test_a_single_leftover_training_sample_is_dropped_never_a_validation_one(tmp_path):
    dm = module(tmp_path / "ds")
    dm.prepare_data()
    dm.setup("fit")
    train, val = len(dm.datasets["train"]), len(dm.datasets["val"])
    dm.hparams.batch_size = train - 1  # one sample over: batch norm cannot train on it
    assert [len(b["obs_id"]) for b in dm.train_dataloader()] == [train - 1]
    dm.hparams.batch_size = train - 2
    assert [len(b["obs_id"]) for b in dm.train_dataloader()] == [train - 2, 2]
    dm.hparams.batch_size = max(1, val - 1)
    assert sum(len(b["obs_id"]) for b in dm.val_dataloader()) == val


def test_label_fraction_trains_on_the_nested_subset(tmp_path):
    dm = module(tmp_path / "ds", plants=12, per_plant=10, label_fraction=0.1)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.train_split == "train_10pct"
    assert list(dm.datasets["train"].observations.index) == read_split(
        tmp_path / "ds", "train_10pct"
    )


def test_validation_labels_are_cut_to_the_label_fraction_with_a_floor(tmp_path):
    dm = module(tmp_path / "ds", plants=12, per_plant=10, label_fraction=0.1,
                cut_val_labels=True, min_val_labels=3, augmentation=None)  # fmt: skip
    dm.prepare_data()
    dm.setup("validate")
    val = dm.datasets["val"]
    full = val.labels()
    keys = ("has_power", "has_mask", "has_capacity")
    flags = torch.stack([torch.stack([val[i][k] for k in keys]) for i in range(len(val))])
    assert flags[:, 0].sum() == max(3, -(-full["has_power"].sum() * 1 // 10))
    assert flags[:, 1].sum() == max(3, -(-full["has_mask"].sum() * 1 // 10))
    assert flags[:, 2].all()  # capacity is an input, never cut
    uncut = module(tmp_path / "ds", plants=12, per_plant=10, label_fraction=0.1)
    uncut.setup("validate")
    assert sum(bool(s["has_power"]) for s in uncut.datasets["val"]) == full["has_power"].sum()


def test_a_split_seed_draws_another_split_on_first_use(tmp_path):
    dm = module(tmp_path / "ds", plants=12, per_plant=2, split_seed=4)
    dm.prepare_data()
    dm.setup("fit")
    assert (tmp_path / "ds" / "splits" / "seed4" / "statistics.json").is_file()
    ids = list(dm.datasets["train"].observations.index)
    assert ids == read_split(tmp_path / "ds", "train", 4) != read_split(tmp_path / "ds", "train")
    assert dm.statistics.count == len(ids)


def test_bands_reach_the_batches(tmp_path):
    dm = module(tmp_path / "ds", bands=["B04", "B03", "B02", "B08"], augmentation=None)
    dm.prepare_data()
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))["image"].shape[1] == 4


def test_a_dataset_class_is_chosen_with_its_own_arguments(tmp_path):
    class Temperatures(PlantObservations):
        def __init__(self, root, split=None, celsius_column: str = "temperature_c", **kwargs):
            super().__init__(root, split, targets={"air_temperature": celsius_column}, **kwargs)

    dm = module(tmp_path / "ds", dataset=Temperatures, augmentation=None)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["has_air_temperature"].all() and batch["air_temperature"].dtype == torch.float32


def test_without_a_source_a_missing_dataset_says_so(tmp_path):
    dm = DataModule(root=str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match="missing: not found.*source"):
        dm.prepare_data()


def test_changed_generator_settings_warn_and_keep_the_data(tmp_path):
    module(tmp_path / "ds").prepare_data()
    with pytest.warns(UserWarning, match=r"generated with other settings.*'plants': \(8, 9\)"):
        module(tmp_path / "ds", plants=9).prepare_data()


def test_worker_processes_load_the_same_batches(tmp_path):
    dm = module(tmp_path / "ds", augmentation=None, num_workers=2)
    dm.prepare_data()
    dm.setup("test")
    parallel = torch.cat([b["image"] for b in dm.test_dataloader()])
    dm.hparams.num_workers = 0
    serial = torch.cat([b["image"] for b in dm.test_dataloader()])
    torch.testing.assert_close(parallel, serial)


@pytest.mark.parametrize("workers", [0, 2])
def test_augmented_batches_repeat_for_the_same_seed(tmp_path, workers, monkeypatch):
    dm = module(tmp_path / "ds", num_workers=workers, augmentation=Augmentation(crop_size=24))
    dm.prepare_data()
    dm.setup("fit")

    def first_epoch(seed: int) -> torch.Tensor:
        monkeypatch.setenv(SEED_VARIABLE, str(seed))  # the run's seed (seed_everything)
        torch.manual_seed(seed + 1)  # whatever the global state: the run's seed decides
        return torch.cat([b["image"] for b in dm.train_dataloader()])

    torch.testing.assert_close(first_epoch(123), first_epoch(123))
    assert not torch.equal(first_epoch(123), first_epoch(124))  # the seed decides them


def test_an_unseeded_run_draws_its_augmentation_from_torch(tmp_path, monkeypatch):
    monkeypatch.delenv(SEED_VARIABLE, raising=False)
    dm = module(tmp_path / "ds", num_workers=0, augmentation=Augmentation(crop_size=24))
    dm.prepare_data()
    dm.setup("fit")

    def first_epoch(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return torch.cat([b["image"] for b in dm.train_dataloader()])

    torch.testing.assert_close(first_epoch(5), first_epoch(5))
    assert not torch.equal(first_epoch(5), first_epoch(6))


def test_a_resumed_fit_trains_its_first_epoch_as_the_uninterrupted_run(tmp_path, monkeypatch):
    """The resumed first epoch's iterator is made before the trainer restores its epoch:
    the checkpoint's datamodule state says which epoch it is."""
    monkeypatch.setenv(SEED_VARIABLE, "7")
    assert epoch_seed(0, 1) != epoch_seed(0, 0) != epoch_seed(1, 0)
    assert 0 <= epoch_seed(2**40, 3) < 2**31
    dm = module(tmp_path / "ds", num_workers=0, augmentation=Augmentation(crop_size=24))
    dm.prepare_data()
    dm.setup("fit")

    def epoch() -> torch.Tensor:
        return torch.cat([b["image"] for b in dm.train_dataloader()])

    dm.trainer = SimpleNamespace(current_epoch=4, global_rank=0)
    uninterrupted = epoch()
    dm.trainer = SimpleNamespace(current_epoch=0, global_rank=0)  # not restored yet
    first = epoch()
    dm.load_state_dict({"next_epoch": 4})  # a checkpoint written at the end of epoch 3
    torch.testing.assert_close(epoch(), uninterrupted)
    assert not torch.equal(first, uninterrupted)


class NoFuel(Dataset):
    """Another dataset's samples: no fuel, no plume mask, no power; a capacity."""

    def __init__(self, like: dict) -> None:
        self.like = like

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict:
        return {"image": torch.zeros_like(self.like["image"]), "aux": self.like["aux"],
                "capacity": torch.tensor(300.0), "has_capacity": torch.tensor(True),
                "obs_id": f"other{index}"}  # fmt: skip


def test_samples_of_mixed_datasets_collate_with_absent_labels_flagged(tiny_dataset):
    plants = PlantObservations(tiny_dataset, split="test")
    mixed = ConcatDataset([NoFuel(plants[0]), plants])
    batch = next(iter(DataLoader(mixed, batch_size=4, collate_fn=collate_samples)))
    assert batch["image"].shape[0] == 4
    assert batch["has_fuel"].tolist()[:2] == [False, False] and batch["fuel"][:2].tolist() == [
        -1,
        -1,
    ]
    assert (batch["mask"][:2] == 255).all() and not batch["has_mask"][:2].any()
    assert not batch["has_power"][:2].any() and batch["has_fuel"][2:].all()
    assert batch["plant_id"][:2] == ["", ""]
