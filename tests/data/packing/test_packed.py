import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.splits import read_split
from plantwatch.data.loading.contract import SampleDataset
from plantwatch.data.loading.datamodule import DataModule
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.packing.layout import MANIFEST, shard_path
from plantwatch.data.packing.reader import PackedDataset
from plantwatch.data.packing.writer import pack_dataset
from plantwatch.data.readers.benge.dataset import BenGe
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.synthetic.source import SyntheticPlants
from tests.data.benge_fake import write_benge_fake
from tests.data.fakes import make_dataset

REPO = Path(__file__).resolve().parents[3]


def assert_same(a: dict, b: dict) -> None:
    """Same keys, and every value equal in type, dtype and content."""
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == b[key].dtype and torch.equal(value, b[key]), key
        elif isinstance(value, float) and np.isnan(value):
            assert np.isnan(b[key]), key
        else:
            assert type(value) is type(b[key]) and value == b[key], key


def pack_observations(root: Path, out: Path, **settings) -> Path:
    def make(split, split_seed):
        return PlantObservations(root, split, split_seed=split_seed)

    return pack_dataset(make, out, root, progress=False, **settings)


@pytest.fixture(scope="module")
def packed(tiny_dataset, tmp_path_factory) -> Path:
    return pack_observations(tiny_dataset, tmp_path_factory.mktemp("packed") / "p", shard_size=7)


def test_packed_samples_and_batches_equal_the_geotiff_ones(tiny_dataset, packed):
    for split in ("train", "val", "test", "train_50pct"):
        source, copy = PlantObservations(tiny_dataset, split), PackedDataset(packed, split)
        assert isinstance(copy, SampleDataset) and len(copy) == len(source)
        for i in range(len(source)):
            assert_same(source[i], copy[i])
        indices = [3, 0, len(source) - 1]  # across shards, out of order
        batch = copy.__getitems__(indices)
        assert batch["image"].dtype == torch.uint16 and batch["mask"].dtype == torch.uint8
        assert_same(collate_samples([source[i] for i in indices]), copy.decode(batch))
        pd.testing.assert_frame_equal(source.labels(), copy.labels())
    assert copy.statistics.mean == PlantObservations(tiny_dataset).statistics.mean


def test_band_selection_and_cpu_augmentation_match_the_source(tiny_dataset, packed):
    bands = ["B04", "B03", "B02", "B12"]
    source = PlantObservations(tiny_dataset, "train", bands=bands, transforms=Augmentation())
    copy = PackedDataset(packed, "train", bands=bands, transforms=Augmentation())
    assert copy.bands == tuple(bands) and copy.modalities["image"] == tuple(bands)
    source.transforms.set_random_seed(5)
    copy.transforms.set_random_seed(5)
    for i in range(6):
        assert_same(source[i], copy[i])
    batch = copy.__getitems__([0, 1])  # augmented batches are decoded already
    assert batch["image"].dtype == torch.float32 and copy.decode(batch) is batch


def test_ben_ge_packs_every_modality_identically(tmp_path):
    root = write_benge_fake(tmp_path / "benge")
    modalities = ("image", "image_s1", "dem", "lulc")

    def make(split, split_seed):
        return BenGe(root, split, split_seed=split_seed, modalities=modalities)

    out = pack_dataset(make, tmp_path / "packed", root, progress=False)
    source, copy = make(None, None), PackedDataset(out)
    assert copy.modalities == source.modalities
    for i in range(len(source)):
        assert_same(source[i], copy[i])
    assert copy.specs["lulc"]["stored"] == "uint8" and copy.specs["dem"]["stored"] == "float32"
    for split in ("train", "val", "test", "train_50pct"):
        assert list(PackedDataset(out, split).labels()["obs_id"]) == list(
            make(split, None).labels()["obs_id"]
        )
    only_s1 = PackedDataset(out, modalities=["image_s1"])
    assert set(only_s1.modalities) == {"image", "image_s1"} and "dem" not in only_s1[0]


def test_a_kill_during_packing_leaves_nothing_a_reader_accepts(tiny_dataset, tmp_path):
    out = tmp_path / "packed"
    command = [sys.executable, "-m", "tests.data.packing_fakes", str(tiny_dataset), str(out)]
    killed = subprocess.run([*command, "13", "5"], cwd=REPO, capture_output=True, timeout=120)
    assert killed.returncode == -9  # SIGKILL while writing shard 2 (samples 10–14)
    assert not (out / MANIFEST).is_file()
    assert shard_path(out, "image", 1).is_file() and not shard_path(out, "image", 2).is_file()
    assert shard_path(out, "image", 2).with_suffix(".npy.partial").is_file()  # the half shard
    with pytest.raises(DatasetError, match="interrupted.*rerun"):
        PackedDataset(out)
    kept = shard_path(out, "image", 0).stat().st_mtime_ns
    done = subprocess.run([*command, "-1", "5"], cwd=REPO, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shard_path(out, "image", 0).stat().st_mtime_ns == kept  # resumed, not redone
    source, copy = PlantObservations(tiny_dataset), PackedDataset(out)
    for i in range(len(source)):
        assert_same(source[i], copy[i])


def test_packing_leaves_the_global_random_state_alone(tiny_dataset, tmp_path):
    """A run that packs on first use shuffles and augments as one that finds the pack."""
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    pack_observations(tiny_dataset, tmp_path / "packed", workers=1)
    assert torch.equal(torch.rand(3), expected)


def test_a_new_pack_at_the_same_place_is_read_anew_in_the_same_process(tiny_dataset, tmp_path):
    out = pack_observations(tiny_dataset, tmp_path / "packed")
    assert len(PackedDataset(out)) == len(PlantObservations(tiny_dataset))
    shutil.rmtree(out)
    other = make_dataset(tmp_path / "other", plants=3, per_plant=2, size=48, seed=3)
    pack_observations(other, out)
    source, copy = PlantObservations(other), PackedDataset(out)
    assert len(copy) == len(source) == 6
    assert_same(source[5], copy[5])


def test_a_truncated_shard_is_refused_by_name(tiny_dataset, tmp_path):
    out = pack_observations(tiny_dataset, tmp_path / "packed", shard_size=16)
    path = shard_path(out, "image", 1)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DatasetError, match=f"{path}.*pack the dataset again"):
        PackedDataset(out)


def test_a_folder_that_holds_something_else_is_not_packed_into(tiny_dataset):
    with pytest.raises(DatasetError, match="not empty and holds no pack"):
        pack_observations(tiny_dataset, tiny_dataset)


def test_samples_of_another_shape_are_refused_by_name(tiny_dataset, tmp_path):
    class Uneven(PlantObservations):
        def __getitem__(self, index):
            sample = super().__getitem__(index)
            if index == 5:
                sample["image"] = sample["image"][:, :32, :32]
            return sample

    with pytest.raises(DatasetError, match=r"sample \S+: image has shape \[12, 32, 32\]"):
        pack_dataset(lambda s, k: Uneven(tiny_dataset, s, split_seed=k), tmp_path / "p",
                     tiny_dataset, progress=False)  # fmt: skip


def module(root: Path, **overrides) -> DataModule:
    source = SyntheticPlants(plants=8, per_plant=3, size=32, seed=1, progress=False)
    settings = {"source": source, "batch_size": 4, "augmentation": Augmentation()}
    return DataModule(root=str(root), **{**settings, **overrides})


def epoch(dm: DataModule, name: str) -> list[dict]:
    torch.manual_seed(11)
    loader = getattr(dm, f"{name}_dataloader")()
    return [dm.decode(batch, name) for batch in loader]


def test_the_datamodule_serves_the_same_batches_from_the_packed_copy(tmp_path):
    plain, packed = module(tmp_path / "ds"), module(tmp_path / "ds", pack=True)
    for dm in (plain, packed):
        dm.prepare_data()
        dm.setup("fit")
    assert isinstance(packed.datasets["train"], PackedDataset)
    assert (tmp_path / "ds" / "packed" / MANIFEST).is_file()
    for name in ("train", "val"):
        for a, b in zip(epoch(plain, name), epoch(packed, name), strict=True):
            assert_same(a, b)


def test_a_packed_split_seed_and_cut_validation_labels_carry_over(tmp_path):
    settings = {"split_seed": 2, "label_fraction": 0.1, "cut_val_labels": True,
                "min_val_labels": 2}  # fmt: skip
    plain, packed = module(tmp_path / "ds", **settings), module(tmp_path / "ds", pack=True,
                                                               **settings)  # fmt: skip
    for dm in (plain, packed):
        dm.prepare_data()
        dm.setup("fit")
    ids = read_split(tmp_path / "ds" / "packed", "train_10pct", 2)
    assert ids == read_split(tmp_path / "ds", "train_10pct", 2)
    for a, b in zip(epoch(plain, "val"), epoch(packed, "val"), strict=True):
        assert_same(a, b)
    assert sum(int(b["has_power"].sum()) for b in epoch(packed, "val")) == 2


def test_a_pack_of_an_older_source_is_refused(tmp_path):
    dm = module(tmp_path / "ds", pack=True)
    dm.prepare_data()
    info = tmp_path / "ds" / "dataset.json"
    info.write_text(info.read_text().replace("{", '{"edited": true, ', 1))
    with pytest.raises(DatasetError, match="another version.*delete it"):
        module(tmp_path / "ds", pack=True).prepare_data()
