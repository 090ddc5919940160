"""Training augmentation of a sample's spatial keys, safe for any number of bands.

Geometry — the eight flips/rotations of the dihedral group D4 and random crops — moves every
spatial key of the sample together: the optical ``image``, the other modalities
(``image_s1`` in dB, ``dem`` in metres), and the per-pixel targets (plume ``mask``,
``lulc`` class map), which are never interpolated. Radiometry — a small per-band gain and
offset (calibration and atmospheric variation) and sensor noise — touches only the optical
reflectance; nothing that is not reflectance is scaled or clipped. Colour transforms that
assume RGB (hue, saturation, CLAHE …) are excluded. Global labels (fuel, MW, t/h) are
untouched.

albumentations works on HWC arrays and clips float images to [0, 1] in its radiometric
transforms; reflectance can exceed 1 (snow, clouds), so the radiometric part sees
reflectance divided by a fixed ``value_range`` and the result is multiplied back.
albumentations keeps its own random state, which ``seed_everything`` does not reach: the
datamodule seeds it per loader worker with :meth:`Augmentation.set_random_seed`.
"""

from __future__ import annotations

import albumentations as A
import numpy as np

from plantwatch.data.loading.sample import MODALITIES, OPTICAL_KEY, SPATIAL_TARGETS

# Per-pixel class maps and labels: moved like masks (nearest neighbour, never blended).
CATEGORICAL_KEYS: tuple[str, ...] = (*SPATIAL_TARGETS, "lulc", "scl", "clm")


class Augmentation:
    """Augment a sample dict of numpy arrays (``image`` [C, H, W], ``mask`` [H, W], …).

    Args:
        crop_size: side of a random square crop in pixels; None keeps the full image.
        flips: apply one of the eight D4 flips/rotations.
        gain: per-band multiplicative gain of reflectance drawn from [1 − gain, 1 + gain].
        offset: per-band additive offset drawn from [−offset, offset], reflectance units.
        noise_std: upper bound of the per-pixel Gaussian noise std, reflectance units.
        p: probability of each radiometric transform.
        value_range: reflectance that maps to 1.0 inside the radiometric transforms.
    """

    def __init__(
        self,
        crop_size: int | None = None,
        flips: bool = True,
        gain: float = 0.05,
        offset: float = 0.01,
        noise_std: float = 0.005,
        p: float = 0.5,
        value_range: float = 2.0,
    ) -> None:
        self.value_range = value_range
        geometric: list[A.BasicTransform] = []
        if crop_size is not None:
            geometric.append(A.RandomCrop(crop_size, crop_size))
        if flips:
            geometric.append(A.D4(p=1.0))
        targets = {k: "image" for k in MODALITIES if k != OPTICAL_KEY}
        targets.update({k: "mask" for k in CATEGORICAL_KEYS if k != "mask"})
        self.geometric = A.Compose(geometric, additional_targets=targets)
        radiometric: list[A.BasicTransform] = []
        if gain > 0:
            radiometric.append(A.MultiplicativeNoise((1 - gain, 1 + gain), per_channel=True, p=p))
        if offset > 0:
            r = offset / value_range
            radiometric.append(A.AdditiveNoise("uniform", "constant", {"ranges": [(-r, r)]}, p=p))
        if noise_std > 0:
            radiometric.append(A.GaussNoise(std_range=(0.0, noise_std / value_range), p=p))
        self.radiometric = A.Compose(radiometric)

    def set_random_seed(self, seed: int) -> None:
        """Seed albumentations' own random state (per worker, from the run seed)."""
        self.geometric.set_random_seed(seed)
        self.radiometric.set_random_seed(seed + 1)

    def __call__(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Augmented copies of the spatial keys of ``sample`` ([C, H, W] or [H, W] each)."""
        channels_first = {k: v.ndim == 3 for k, v in sample.items()}
        hwc = {
            k: np.ascontiguousarray(v.transpose(1, 2, 0) if channels_first[k] else v)
            for k, v in sample.items()
        }
        moved = self.geometric(**hwc)
        optical = np.ascontiguousarray(moved[OPTICAL_KEY]) / self.value_range
        moved[OPTICAL_KEY] = self.radiometric(image=optical)["image"] * self.value_range
        return {k: (moved[k].transpose(2, 0, 1) if channels_first[k] else moved[k]) for k in sample}

    def __repr__(self) -> str:
        return f"Augmentation(geometric={self.geometric}, radiometric={self.radiometric})"
