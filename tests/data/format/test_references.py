import json
import os

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch

from plantwatch.data.augmentation.device import DeviceAugmentation
from plantwatch.data.augmentation.transforms import Augmentation
from plantwatch.data.errors import DatasetError
from plantwatch.data.format.references import MANIFEST, ensure_references, reference_folder
from plantwatch.data.packing.reader import PackedDataset
from plantwatch.data.packing.writer import pack_folder
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.errors import UserError
from tests.data.fakes import copy_dataset, edit_observations

BANDS = ["B02", "B03", "B04", "B08"]


def marker(index: int) -> int:
    """The digital number every pixel of observation ``index`` carries."""
    return 1000 + 37 * index


def write_markers(root):
    """Give every observation's image one value of its own; returns obs_id → marker."""
    frame = pd.read_csv(root / "observations.csv", dtype=str)
    markers = {}
    for i, (obs_id, image) in enumerate(zip(frame["obs_id"], frame["image"], strict=True)):
        with rasterio.open(root / image, "r+") as dst:
            dst.write(np.full((dst.count, dst.height, dst.width), marker(i), np.uint16))
        markers[obs_id] = marker(i)
    return frame.assign(marker=frame["obs_id"].map(markers))


@pytest.fixture
def marked(tmp_path, tiny_dataset):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    return root, write_markers(root)


def reference_dn(root, references, obs_id):
    with rasterio.open(root / references[obs_id]) as src:
        return src.read()


def test_a_reference_is_the_median_of_the_plants_others_never_itself(marked):
    root, frame = marked
    references = ensure_references(root, "others", min_others=2, progress=False)
    for plant, own in frame.groupby("plant_id"):
        assert len(own) == 4
        for obs_id, value in zip(own["obs_id"], own["marker"], strict=True):
            others = own.loc[own["obs_id"] != obs_id, "marker"].to_numpy()
            dn = reference_dn(root, references, obs_id)
            assert (dn != value).all(), (plant, obs_id)
            np.testing.assert_array_equal(dn, np.median(others))


def test_fewer_donors_than_k_leave_the_reference_absent(marked):
    root, _ = marked
    dataset = PlantObservations(root, "train", bands=BANDS, modalities=("image", "reference"),
                                reference_min_others=4)  # fmt: skip
    sample = dataset[0]
    assert not sample["has_reference"]
    assert sample["reference"].shape == sample["image"].shape
    assert torch.count_nonzero(sample["reference"]) == 0
    present = PlantObservations(root, "train", bands=BANDS, modalities=("image", "reference"),
                                reference_min_others=3)[0]  # fmt: skip
    assert present["has_reference"] and (present["reference"] > 0).all()


def test_earlier_references_use_only_earlier_overpasses(marked):
    root, frame = marked
    references = ensure_references(root, "earlier", min_others=1, progress=False)
    for _, own in frame.sort_values("datetime").groupby("plant_id"):
        assert references[own["obs_id"].iat[0]] is None
        np.testing.assert_array_equal(
            reference_dn(root, references, own["obs_id"].iat[1]), own["marker"].iat[0]
        )
        np.testing.assert_array_equal(
            reference_dn(root, references, own["obs_id"].iat[3]), own["marker"].iat[1]
        )  # the median of the first three


def test_references_are_computed_once_and_again_when_observations_change(marked):
    root, frame = marked
    references = ensure_references(root, "others", min_others=2, progress=False)
    manifest = reference_folder(root, "others", 2) / MANIFEST
    written = manifest.stat().st_mtime_ns
    assert ensure_references(root, "others", min_others=2, progress=False) == references
    assert manifest.stat().st_mtime_ns == written

    first = frame["obs_id"].iat[0]
    edit_observations(root, lambda f: f[f["obs_id"] != first])
    again = ensure_references(root, "others", min_others=2, progress=False)
    assert first not in again
    plant = frame.loc[frame["obs_id"] == first, "plant_id"].iat[0]
    rest = frame[(frame["plant_id"] == plant) & (frame["obs_id"] != first)]
    second = rest["obs_id"].iat[0]
    expected = np.median(rest.loc[rest["obs_id"] != second, "marker"])
    before = reference_dn(root, again, second)
    np.testing.assert_array_equal(before, np.rint(expected))

    image = root / rest["image"].iat[1]  # an image rewritten in place
    with rasterio.open(image, "r+") as dst:
        dst.write(np.full((dst.count, dst.height, dst.width), 7, np.uint16))
    os.utime(image, ns=(0, 12345))
    changed = ensure_references(root, "others", min_others=2, progress=False)
    assert (reference_dn(root, changed, second) != before).all()


def test_a_hostile_manifest_cannot_point_outside_the_dataset(marked, tmp_path):
    root, frame = marked
    references = ensure_references(root, "others", min_others=2, progress=False)
    manifest = reference_folder(root, "others", 2) / MANIFEST
    record = json.loads(manifest.read_text())
    obs_id = frame["obs_id"].iat[0]
    record["references"][obs_id] = "../../outside.tif"
    manifest.write_text(json.dumps(record))
    dataset = PlantObservations(root, [obs_id], modalities=("image", "reference"),
                                reference_min_others=2)  # fmt: skip
    assert dataset.references[obs_id] != references[obs_id]
    with pytest.raises(UserError, match="outside"):
        dataset[0]
    malformed = json.dumps({"fingerprint": record["fingerprint"], "references": "x"})
    for damaged in (malformed, "{"):
        manifest.write_text(damaged)  # malformed or truncated: rebuilt, not trusted
        assert ensure_references(root, "others", min_others=2, progress=False) == references


def test_bad_reference_settings_say_what_to_choose(marked):
    root, _ = marked
    with pytest.raises(DatasetError, match="choose one of"):
        ensure_references(root, "latest", 2)
    with pytest.raises(DatasetError, match="at least 1"):
        ensure_references(root, "others", 0)


def test_references_read_from_geotiffs_and_from_packed_shards_are_identical(tmp_path, tiny_dataset):
    root = copy_dataset(tiny_dataset, tmp_path / "ds")
    ensure_references(root, "others", min_others=3, progress=False)  # all present
    ensure_references(root, "others", min_others=5, progress=False)
    packed = pack_folder(root, tmp_path / "packed", modalities=["image", "reference"],
                         progress=False)  # fmt: skip
    direct = PlantObservations(root, "test", bands=BANDS, modalities=("image", "reference"))
    shards = PackedDataset(packed, "test", bands=BANDS)
    assert shards.modalities["reference"] == tuple(BANDS)
    for i in range(len(direct)):
        a, b = direct[i], shards[i]
        assert a["obs_id"] == b["obs_id"]
        assert torch.equal(a["reference"], b["reference"])
        assert bool(a["has_reference"]) == bool(b["has_reference"])
    batch = shards.decode(shards.__getitems__([0, 1]))
    assert torch.equal(batch["reference"][1], direct[1]["reference"])
    keys = json.loads((packed / "packed.json").read_text())["keys"]
    assert keys["reference"]["stored"] == "uint16"


def test_the_reference_moves_with_the_image_under_every_augmentation(tiny_dataset):
    dataset = PlantObservations(tiny_dataset, "train", bands=BANDS)
    image = dataset[0]["image"].numpy()
    steady = {"gain": 0.0, "offset": 0.0, "noise_std": 0.0}
    for seed in range(16):
        augmentation = Augmentation(crop_size=32, **steady)
        augmentation.set_random_seed(seed)
        moved = augmentation({"image": image, "reference": image.copy(),
                              "mask": np.zeros(image.shape[1:], np.uint8)})  # fmt: skip
        np.testing.assert_array_equal(moved["reference"], moved["image"])
    noisy = Augmentation(gain=0.1, offset=0.02, noise_std=0.01, p=1.0)
    noisy.set_random_seed(0)
    moved = noisy({"image": image, "reference": image.copy()})
    assert not np.array_equal(moved["image"], moved["reference"])  # radiometry: image only
    assert np.allclose(moved["image"], moved["reference"], atol=0.2)

    batch = torch.from_numpy(np.stack([image, image[:, ::-1].copy()]))
    device = DeviceAugmentation(crop_size=32, **steady)
    for seed in range(8):
        device.set_random_seed(seed)
        out = device({"image": batch.clone(), "reference": batch.clone(),
                      "mask": torch.zeros(2, *image.shape[1:], dtype=torch.int64)})  # fmt: skip
        assert torch.equal(out["reference"], out["image"])
