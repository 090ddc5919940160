"""Inputs that compare a scene with its plant's clear-sky reference (``data/format/references.py``).

A plume, a cloud or smoke is in one scene; the plant's cooling towers, coal yard and bright
roofs are in every scene and so in the reference. Three ways to let the network compare:

- ``early``: scene and reference stacked as channels, [B, 2C + 1, H, W];
- ``difference``: the scene and the per-band change scene − reference, [B, 2C + 1, H, W];
- ``siamese``: one encoder (the same weights) reads the scene and the reference; at every
  level their features are fused as [f_scene, f_scene − f_reference] by a 1×1 convolution
  back to the encoder's width (`SiameseEncoder`).

Both inputs are normalised with the image's statistics. Where an observation has no reference
(``has_reference`` false: too few other overpasses), the scene stands in for it, so the network
sees no change there; the stacked inputs carry the presence flag as their last channel.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

ReferenceFusion = Literal["none", "early", "difference", "siamese"]


def reference_channels(in_channels: int, mode: ReferenceFusion) -> int:
    """Channels of the encoder's image input for ``mode`` (``in_channels``: the scene's)."""
    return 2 * in_channels + 1 if mode in ("early", "difference") else in_channels


def reference_input(
    image: torch.Tensor, reference: torch.Tensor, present: torch.Tensor, mode: ReferenceFusion
) -> torch.Tensor:
    """The encoder's image input: ``image`` and ``reference`` [B, C, H, W] (normalised),
    ``present`` bool [B]. ``early``/``difference``: [B, 2C + 1, H, W]; ``siamese``: scene and
    reference as [B, 2C, H, W], which `SiameseEncoder` splits; ``none``: the image."""
    if mode == "none":
        return image
    present = present.to(torch.bool)
    reference = torch.where(present[:, None, None, None], reference.to(image.dtype), image)
    if mode == "siamese":
        return torch.cat([image, reference], dim=1)
    second = reference if mode == "early" else image - reference
    flag = present[:, None, None, None].to(image.dtype).expand(-1, 1, *image.shape[-2:])
    return torch.cat([image, second, flag], dim=1)


class SiameseEncoder(nn.Module):
    """One smp encoder over a scene and its reference, fused per level.

    Args:
        encoder: an smp encoder of the scene's C channels; its input here is [B, 2C, H, W]
            (scene, then reference), run as one batch of 2B.

    Has an smp encoder's ``out_channels`` (level 0: the 2C input channels), ``output_stride``
    and ``forward`` → list of features, so the U-Net decoder takes it as any encoder.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        channels = tuple(encoder.out_channels)
        self.out_channels = (2 * channels[0], *channels[1:])
        self.output_stride = encoder.output_stride
        self.fuse = nn.ModuleList(nn.Conv2d(2 * c, c, 1) for c in channels[1:])

    def forward(self, pair: torch.Tensor) -> list[torch.Tensor]:
        """Features [B, C_l, H_l, W_l] per level, the first being ``pair`` itself."""
        scene, reference = pair.chunk(2, dim=1)
        features = self.encoder(torch.cat([scene, reference], dim=0))
        fused = [pair]
        for level, fuse in enumerate(self.fuse, start=1):
            own, other = features[level].chunk(2, dim=0)
            fused.append(fuse(torch.cat([own, own - other], dim=1)))
        return fused
