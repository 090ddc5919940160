"""Random views of a batch of normalised multispectral images, made on the batch's device.

`MultispectralViews` draws, per sample: one of the eight flips/rotations (the symmetries of
a nadir image), a random resized crop back to the input size, a gain and an offset per band,
Gaussian noise and, sometimes, a Gaussian blur — kornia's channel-agnostic augmentations
for the geometry, noise and blur. Nothing here assumes RGB: no colour jitter, no greyscale
(hue and saturation do not exist for 12 bands). Inputs are in units of the training
standard deviation, so the offset and the noise are too.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn


class MultispectralViews(nn.Module):
    """Augment [B, C, H, W] (H = W) with per-sample randomness from torch's generator.

    Args:
        size: side of the views in pixels (None: the input's).
        crop_scale: range of the crop's area as a share of the image.
        gain: per-band multiplicative gain drawn from 1 ± ``gain``.
        offset: per-band additive offset drawn from ± ``offset`` (standard deviations).
        noise_std: standard deviation of the Gaussian noise (standard deviations; 0: none).
        blur_probability: share of samples blurred.
        blur_sigma: range of the blur's σ in pixels.
    """

    def __init__(
        self,
        size: int | None = None,
        crop_scale: tuple[float, float] = (0.35, 1.0),
        gain: float = 0.1,
        offset: float = 0.1,
        noise_std: float = 0.05,
        blur_probability: float = 0.5,
        blur_sigma: tuple[float, float] = (0.1, 1.5),
    ) -> None:
        super().__init__()
        self.size, self.crop_scale = size, crop_scale
        self.gain, self.offset, self.noise_std = gain, offset, noise_std
        self.symmetries = nn.Sequential(
            K.RandomHorizontalFlip(p=0.5),
            K.RandomRotation90(times=(0, 3), p=1.0),  # with the flip: all eight
        )
        self.blur = K.RandomGaussianBlur((5, 5), blur_sigma, p=blur_probability)
        self.crops: dict[int, nn.Module] = {}

    def _crop(self, size: int) -> nn.Module:
        if size not in self.crops:
            self.crops[size] = K.RandomResizedCrop((size, size), scale=self.crop_scale)
        return self.crops[size]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """A random view [B, C, S, S] of each image [B, C, H, W] (S: ``size`` or H)."""
        if images.shape[-1] != images.shape[-2]:
            raise ValueError(f"views need square images, got {tuple(images.shape[-2:])}")
        views = self._crop(self.size or images.shape[-1])(self.symmetries(images.float()))
        batch, channels = views.shape[:2]
        shape = (batch, channels, 1, 1)
        gain = 1 + (torch.rand(shape, device=views.device) * 2 - 1) * self.gain
        offset = (torch.rand(shape, device=views.device) * 2 - 1) * self.offset
        views = views * gain + offset
        if self.noise_std > 0:
            views = views + torch.randn_like(views) * self.noise_std
        return self.blur(views)
