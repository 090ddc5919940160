import pytest
import torch

from plantwatch.data.augmentation.device import DeviceAugmentation, dihedral_indices

SIZE = 12


def pattern_batch(batch: int = 64) -> dict:
    """Every pixel carries its own index: in the image (two bands), in a second modality
    (S1, dB-like floats), in the mask (mod 2, as a plume mask) and in a class map."""
    index = torch.arange(SIZE * SIZE).view(SIZE, SIZE).expand(batch, SIZE, SIZE)
    return {
        "image": torch.stack([index, index + 1000], 1).float(),
        "image_s1": (index.float() - 500)[:, None].repeat(1, 2, 1, 1),
        "mask": index % 2,
        "lulc": index % 7,
        "power": torch.arange(batch).float(),
    }


def geometric(**settings) -> DeviceAugmentation:
    return DeviceAugmentation(gain=0, offset=0, noise_std=0, **settings)


def test_the_eight_elements_are_the_rotations_and_their_mirror_images():
    grid = torch.arange(SIZE * SIZE).view(SIZE, SIZE)
    maps = dihedral_indices(SIZE, torch.device("cpu"))
    expected = [torch.rot90(grid, k, (0, 1)) for k in range(4)]
    expected += [e.flip(-1) for e in expected]
    for k in range(8):
        assert torch.equal(grid.flatten()[maps[k]].view(SIZE, SIZE), expected[k])
    assert len({tuple(m.tolist()) for m in maps}) == 8


@pytest.mark.parametrize("crop_size", [None, 7])
def test_every_spatial_key_moves_with_the_image_under_flips_rotations_and_crops(crop_size):
    augmentation = geometric(crop_size=crop_size)
    augmentation.set_random_seed(0)
    out = augmentation(pattern_batch())
    side = crop_size or SIZE
    moved = out["image"][:, 0].long()  # the source index of every output pixel
    assert out["image"].shape == (64, 2, side, side) and out["mask"].shape == (64, side, side)
    assert torch.equal(out["image"][:, 1], out["image"][:, 0] + 1000)
    assert torch.equal(out["image_s1"][:, 0], moved.float() - 500)
    assert torch.equal(out["mask"], moved % 2) and out["mask"].dtype == torch.int64
    assert torch.equal(out["lulc"], moved % 7)
    assert torch.equal(out["power"], torch.arange(64).float())  # not spatial: untouched
    # each output is a crop of one of the eight D4 images, and every element occurs
    grid = torch.arange(SIZE * SIZE).view(SIZE, SIZE)
    found = set()
    for view in moved:
        for k in range(8):
            turned = torch.rot90(grid, k % 4, (0, 1))
            turned = turned.flip(-1) if k >= 4 else turned
            windows = turned.unfold(0, side, 1).unfold(1, side, 1).reshape(-1, side, side)
            if (windows == view).all(-1).all(-1).any():
                found.add(k)
                break
        else:
            pytest.fail("an output is no crop of a flipped/rotated input")
    assert found == set(range(8))


def test_randomness_is_per_sample_and_repeats_for_a_seed():
    def run(seed: int) -> dict:
        augmentation = DeviceAugmentation(crop_size=8, p=1.0)
        augmentation.set_random_seed(seed)
        return augmentation(pattern_batch(16))

    first, again, other = run(3), run(3), run(4)
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["mask"], again["mask"])
    assert not torch.equal(first["image"], other["image"])
    assert len({tuple(v.flatten().tolist()) for v in first["image"]}) == 16  # per sample
    assert len({tuple(v.flatten().tolist()) for v in first["mask"]}) >= 4  # geometry too


def test_radiometry_varies_only_the_optical_image_within_its_bounds():
    augmentation = DeviceAugmentation(flips=False, gain=0.05, offset=0.01, noise_std=0, p=1.0)
    augmentation.set_random_seed(1)
    batch = pattern_batch(8)
    batch["image"] = torch.full((8, 2, SIZE, SIZE), 0.2)
    out = augmentation(batch)
    assert torch.equal(out["image_s1"], batch["image_s1"]) and torch.equal(
        out["mask"], batch["mask"]
    )
    low, high = 0.2 * 0.95 - 0.01, 0.2 * 1.05 + 0.01
    assert ((out["image"] >= low - 1e-6) & (out["image"] <= high + 1e-6)).all()
    per_band = out["image"].flatten(2)
    assert torch.allclose(per_band, per_band[..., :1].expand_as(per_band))  # gain/offset per band
    assert not torch.allclose(out["image"][:, 0], out["image"][:, 1])


def test_wrong_sizes_are_named():
    with pytest.raises(ValueError, match="crop_size 20 exceeds the images' 12 × 12 px"):
        geometric(crop_size=20)(pattern_batch(2))
    batch = {"image": torch.zeros(2, 1, 8, 12)}
    with pytest.raises(ValueError, match="flips need square images, got 8 × 12 px"):
        geometric()(batch)
