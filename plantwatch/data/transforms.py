"""Augmentations that are safe for multispectral reflectance (2 to 15+ bands).

Geometry: the eight flips/rotations of the dihedral group D4 and random crops, applied to
image and mask together. Radiometry: a small per-band gain and offset (calibration and
atmospheric variation) and sensor noise. Colour transforms that assume RGB (hue,
saturation, CLAHE …) are excluded. Global labels (fuel, MW, t/h) are untouched.

albumentations works on HWC arrays and clips float images to [0, 1]; reflectance can
exceed 1 (snow, clouds), so :class:`SpectralAugmentation` maps reflectance into that range
by a fixed factor and back, and feeds the array in HWC order.
"""

from __future__ import annotations

import albumentations as A
import numpy as np

REFLECTANCE_RANGE = 2.0


class SpectralAugmentation:
    """Apply an albumentations pipeline to reflectance [H, W, C] and its mask [H, W].

    Args:
        pipeline: the albumentations transforms (gain/offset/noise in reflectance units
            must already be divided by ``value_range``; :func:`build_transforms` does that).
        value_range: reflectance that maps to 1.0 inside the pipeline.
    """

    def __init__(self, pipeline: A.Compose, value_range: float = REFLECTANCE_RANGE) -> None:
        self.pipeline = pipeline
        self.value_range = value_range

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """Transform reflectance ``image`` float32 [H, W, C] and ``mask`` [H, W] together."""
        out = self.pipeline(image=np.ascontiguousarray(image) / self.value_range, mask=mask)
        return {"image": out["image"] * self.value_range, "mask": out["mask"]}

    def __repr__(self) -> str:
        return f"SpectralAugmentation(value_range={self.value_range}, pipeline={self.pipeline})"


def build_transforms(
    crop_size: int | None = None,
    flips: bool = True,
    gain: float = 0.05,
    offset: float = 0.01,
    noise_std: float = 0.005,
    p: float = 0.5,
) -> SpectralAugmentation:
    """The training augmentation.

    Args:
        crop_size: side of a random square crop in pixels; None keeps the full image.
        flips: apply one of the eight D4 flips/rotations.
        gain: per-band multiplicative gain drawn from [1 - gain, 1 + gain].
        offset: per-band additive offset drawn from [-offset, offset], reflectance units.
        noise_std: upper bound of the per-pixel Gaussian noise std, reflectance units.
        p: probability of each radiometric transform.
    """
    steps: list[A.BasicTransform] = []
    if crop_size is not None:
        steps.append(A.RandomCrop(crop_size, crop_size))
    if flips:
        steps.append(A.D4(p=1.0))
    if gain > 0:
        steps.append(A.MultiplicativeNoise((1 - gain, 1 + gain), per_channel=True, p=p))
    if offset > 0:
        r = offset / REFLECTANCE_RANGE
        steps.append(A.AdditiveNoise("uniform", "constant", {"ranges": [(-r, r)]}, p=p))
    if noise_std > 0:
        steps.append(A.GaussNoise(std_range=(0.0, noise_std / REFLECTANCE_RANGE), p=p))
    return SpectralAugmentation(A.Compose(steps))
