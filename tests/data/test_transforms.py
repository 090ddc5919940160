import numpy as np
import pytest

from plantwatch.data.transforms import build_transforms


def pattern(channels: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """An image whose every band is 0.3 + 0.5 × an asymmetric L-shaped mask (+ a band offset)."""
    mask = np.zeros((size, size), np.uint8)
    mask[4:20, 6:10] = 1
    mask[16:20, 6:26] = 1
    image = 0.3 + 0.5 * mask[..., None] + 0.01 * np.arange(channels)[None, None, :]
    return image.astype(np.float32), mask


@pytest.mark.parametrize("channels", [2, 3, 4, 12, 13, 15])
def test_geometry_moves_image_and_mask_together(channels):
    image, mask = pattern(channels)
    transform = build_transforms(crop_size=24, gain=0.0, offset=0.0, noise_std=0.0)
    seen = set()
    for seed in range(40):
        transform.pipeline.set_random_seed(seed)
        out = transform(image=image, mask=mask)
        assert out["image"].shape == (24, 24, channels) and out["mask"].shape == (24, 24)
        for band in range(channels):
            np.testing.assert_array_equal(
                out["image"][..., band] > 0.55 + 0.01 * band, out["mask"] == 1
            )
        seen.add(out["mask"].tobytes())
    assert len(seen) > 8  # flips, rotations and crops actually vary


def test_the_eight_flips_and_rotations_all_occur():
    image, mask = pattern(4, size=24)
    transform = build_transforms(gain=0.0, offset=0.0, noise_std=0.0)
    outcomes = set()
    for seed in range(200):
        transform.pipeline.set_random_seed(seed)
        outcomes.add(transform(image=image, mask=mask)["mask"].tobytes())
    assert len(outcomes) == 8


def test_radiometric_changes_are_small_per_band_and_keep_bright_pixels():
    image = np.full((16, 16, 12), 1.3, np.float32)  # snow or cloud: reflectance above 1
    image[..., 0] = 0.05
    transform = build_transforms(flips=False, gain=0.05, offset=0.01, noise_std=0.005, p=1.0)
    transform.pipeline.set_random_seed(0)
    out = transform(image=image, mask=np.zeros((16, 16), np.uint8))["image"]
    assert out.dtype == np.float32
    assert abs(out[..., 1:].mean() - 1.3) < 1.3 * 0.05 + 0.02  # not clipped at 1
    assert out[..., 1:].max() > 1.2
    assert (out >= 0).all()
    band_means = out.mean(axis=(0, 1))
    assert np.ptp(band_means[1:]) > 0  # each band gets its own gain/offset
