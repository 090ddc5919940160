"""`DeviceAugmentation`: the training augmentation of ``data.augmentation.transforms.Augmentation``,
applied to whole batches on the device after transfer (``DataModule.on_after_batch_transfer``).

Geometry — one of the eight flips/rotations of D4 and a random crop per sample — is a single
gather of pixel indices per key, so the image, the plume mask, further modalities
(``image_s1``, ``dem``) and class maps (``lulc``) move together and masks are never
interpolated; it needs no host synchronisation. Radiometry — per-band gain and offset and
Gaussian noise, each with probability ``p`` per sample — touches only the optical
reflectance, in reflectance units, as the CPU augmentation does. Randomness comes from the
module's own generator on the batch's device, seeded with :meth:`set_random_seed` (the
datamodule draws the seed from the run's seed, distinct per process).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from plantwatch.data.augmentation.transforms import CATEGORICAL_KEYS
from plantwatch.data.loading.sample import MODALITIES, OPTICAL_KEY


def dihedral_indices(size: int, device: torch.device) -> torch.Tensor:
    """Source pixel of every output pixel under the eight D4 elements, long [8, size²]:
    element k rotates by k mod 4 quarter turns, then flips left–right when k ≥ 4."""
    grid = torch.arange(size * size, device=device).view(size, size)
    turns = [torch.rot90(grid, k, (0, 1)) for k in range(4)]
    return torch.stack([*turns, *(t.flip(-1) for t in turns)]).flatten(1)


class DeviceAugmentation(nn.Module):
    """Augment a batch dict on its device (same arguments as ``Augmentation``).

    Args:
        crop_size: side of a random square crop in pixels; None keeps the full image.
        flips: apply one of the eight D4 flips/rotations per sample (square images).
        gain: per-band multiplicative gain of reflectance drawn from [1 − gain, 1 + gain].
        offset: per-band additive offset drawn from [−offset, offset], reflectance units.
        noise_std: upper bound of the per-pixel Gaussian noise std, reflectance units.
        p: probability of each radiometric transform per sample.
    """

    def __init__(
        self,
        crop_size: int | None = None,
        flips: bool = True,
        gain: float = 0.05,
        offset: float = 0.01,
        noise_std: float = 0.005,
        p: float = 0.5,
    ) -> None:
        super().__init__()
        self.crop_size, self.flips = crop_size, flips
        self.gain, self.offset, self.noise_std, self.p = gain, offset, noise_std, p
        self.seed = 0
        self._generator: torch.Generator | None = None

    def set_random_seed(self, seed: int) -> None:
        """Seed the generator (created on the batch's device at the next batch)."""
        self.seed, self._generator = int(seed), None

    def _rng(self, device: torch.device) -> torch.Generator:
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device).manual_seed(self.seed)
        return self._generator

    def _source_pixels(self, batch: int, size: tuple[int, int], device: torch.device,
                       rng: torch.Generator) -> torch.Tensor:  # fmt: skip
        """Flat source index of every output pixel per sample, long [B, S²]."""
        height, width = size
        side = self.crop_size or height
        if side > min(height, width):
            raise ValueError(f"crop_size {side} exceeds the images' {height} × {width} px")
        if self.flips:
            if height != width:
                raise ValueError(f"flips need square images, got {height} × {width} px")
            element = torch.randint(8, (batch,), device=device, generator=rng)
            flat = dihedral_indices(height, device)[element]
        else:
            flat = torch.arange(height * width, device=device).expand(batch, -1)
        if self.crop_size is None and width == side:
            return flat
        top = torch.randint(height - side + 1, (batch, 1), device=device, generator=rng)
        left = torch.randint(width - side + 1, (batch, 1), device=device, generator=rng)
        offsets = torch.arange(side, device=device)
        rows, cols = top + offsets, left + offsets  # [B, S] each
        picked = (rows[:, :, None] * width + cols[:, None, :]).flatten(1)
        return torch.gather(flat, 1, picked)

    def _radiometry(self, image: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        batch, channels = image.shape[:2]
        device = image.device

        def drawn(*shape: int) -> torch.Tensor:
            return torch.rand(shape, device=device, generator=rng)

        def chosen() -> torch.Tensor:
            return (drawn(batch) < self.p)[:, None, None, None]

        if self.gain > 0:
            factor = 1 + (drawn(batch, channels) * 2 - 1)[..., None, None] * self.gain
            image = torch.where(chosen(), image * factor, image)
        if self.offset > 0:
            shift = (drawn(batch, channels) * 2 - 1)[..., None, None] * self.offset
            image = torch.where(chosen(), image + shift, image)
        if self.noise_std > 0:
            std = drawn(batch)[:, None, None, None] * self.noise_std
            noise = torch.randn(image.shape, device=device, generator=rng) * std
            image = torch.where(chosen(), image + noise, image)
        return image

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch with its spatial keys ([B, C, H, W] or [B, H, W]) moved alike and its
        optical ``image`` radiometrically varied; other keys as they are."""
        image = batch[OPTICAL_KEY]
        size = tuple(image.shape[-2:])
        rng = self._rng(image.device)
        source = self._source_pixels(len(image), size, image.device, rng)
        side = int(source.shape[1] ** 0.5)
        out = dict(batch)
        for key in dict.fromkeys((*MODALITIES, *CATEGORICAL_KEYS)):
            value = batch.get(key)
            if not isinstance(value, torch.Tensor) or tuple(value.shape[-2:]) != size:
                continue
            flat = value.flatten(-2)
            index = source.view(len(value), *([1] * (flat.ndim - 2)), -1)
            moved = torch.gather(flat, -1, index.expand(*flat.shape[:-1], -1))
            out[key] = moved.view(*value.shape[:-2], side, side)
        out[OPTICAL_KEY] = self._radiometry(out[OPTICAL_KEY], rng)
        return out
