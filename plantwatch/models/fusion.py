"""Data fusion of modalities chosen by name: early fusion (one input tensor) and late fusion
(one encoder per modality, fused at every U-Net skip level).

Inputs are a dict by sample key (``data/loading/sample.py``): spatial modalities [B, C_k, H, W]
(``image``, ``image_s1``, ``dem`` …) and scalar or vector modalities [B, A_k] (``aux``
weather, ``season``, a one-hot ``climate_zone`` …), all normalised.

- `EarlyFusion` stacks the spatial modalities as channels, in the configured order, and
  broadcasts every scalar entry to a constant channel: [B, Σ C_k + Σ A_k, H, W].
- `LateFusionEncoder` runs one smp encoder per spatial modality (separate weights, or one
  shared encoder behind a 1×1 convolution per modality that maps it to a common width) and
  fuses their features at every level, by concatenation + 1×1 convolution back to the
  branch width or by sum. Scalar modalities join the first branch as constant channels. It
  has an smp encoder's ``out_channels``, ``output_stride`` and ``forward`` → list of
  features, so the U-Net decoder and the heads take it as they take any encoder; each
  branch is a plain smp encoder that `export_branch` hands out (e.g. the S2 branch for an
  S2-only model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import segmentation_models_pytorch as smp
import torch
from torch import nn

FusionOperator = Literal["concat", "sum"]


def _broadcast(values: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[B, A] → [B, A, H, W] constant channels."""
    return values[:, :, None, None].expand(-1, -1, height, width)


class EarlyFusion(nn.Module):
    """Stack modalities into one input.

    Args:
        spatial: channels by spatial modality key, in stacking order (first: the reference
            grid, e.g. ``{"image": 12, "image_s1": 2, "dem": 1}``).
        scalars: length by scalar/vector modality key (``{"aux": 4}``), broadcast after them.
    """

    def __init__(
        self, spatial: Mapping[str, int], scalars: Mapping[str, int] | None = None
    ) -> None:
        super().__init__()
        if not spatial:
            raise ValueError("early fusion needs at least one spatial modality")
        self.spatial, self.scalars = dict(spatial), dict(scalars or {})

    @property
    def out_channels(self) -> int:
        """Channels of the fused input."""
        return sum(self.spatial.values()) + sum(self.scalars.values())

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The fused input [B, ``out_channels``, H, W] (the first spatial modality's H, W)."""
        missing = [k for k in (*self.spatial, *self.scalars) if k not in inputs]
        if missing:
            raise KeyError(f"early fusion: modalities {missing} missing from the batch")
        first = inputs[next(iter(self.spatial))]
        height, width = first.shape[-2:]
        parts = []
        for key, channels in self.spatial.items():
            value = inputs[key]
            if value.shape[1] != channels or value.shape[-2:] != (height, width):
                raise ValueError(
                    f"early fusion: {key} is {tuple(value.shape)}, expected [B, {channels}, "
                    f"{height}, {width}]"
                )
            parts.append(value)
        for key, length in self.scalars.items():
            value = inputs[key].reshape(len(first), -1).to(first.dtype)
            if value.shape[1] != length:
                raise ValueError(
                    f"early fusion: {key} has {value.shape[1]} entries, expected {length}"
                )
            parts.append(_broadcast(value, height, width))
        return torch.cat(parts, dim=1)


class LateFusionEncoder(nn.Module):
    """One encoder per spatial modality, fused at every feature level.

    Args:
        spatial: channels by spatial modality key (first: the reference grid).
        scalars: length by scalar modality key, joined to the first branch's input.
        encoder: smp encoder name (built with ``weights=None``).
        fusion: ``concat`` (concatenate, then a 1×1 convolution to the branch width) or
            ``sum``.
        shared_weights: one encoder for all modalities, each behind a 1×1 convolution to
            ``shared_channels`` input channels.
        shared_channels: input width of the shared encoder.
    """

    def __init__(
        self,
        spatial: Mapping[str, int],
        scalars: Mapping[str, int] | None = None,
        encoder: str = "resnet18",
        fusion: FusionOperator = "concat",
        shared_weights: bool = False,
        shared_channels: int = 8,
    ) -> None:
        super().__init__()
        if not spatial:
            raise ValueError("late fusion needs at least one spatial modality")
        self.spatial, self.scalars = dict(spatial), dict(scalars or {})
        self.fusion, self.shared_weights = fusion, shared_weights
        first = next(iter(self.spatial))
        widths = {k: c + (sum(self.scalars.values()) if k == first else 0)
                  for k, c in self.spatial.items()}  # fmt: skip
        if shared_weights:
            self.adapters = nn.ModuleDict(
                {k: nn.Conv2d(c, shared_channels, 1) for k, c in widths.items()}
            )
            shared = smp.encoders.get_encoder(encoder, in_channels=shared_channels, weights=None)
            self.branches = nn.ModuleDict({k: shared for k in widths})
        else:
            self.adapters = nn.ModuleDict()
            self.branches = nn.ModuleDict(
                {
                    k: smp.encoders.get_encoder(encoder, in_channels=c, weights=None)
                    for k, c in widths.items()
                }
            )
        branch_channels = self.branches[first].out_channels
        self.output_stride = self.branches[first].output_stride
        self.out_channels = (sum(widths.values()), *branch_channels[1:])
        n = len(widths)
        self.fuse = nn.ModuleList(
            nn.Conv2d(c * n, c, 1) if fusion == "concat" and n > 1 else nn.Identity()
            for c in branch_channels[1:]
        )

    def _branch_inputs(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        first = next(iter(self.spatial))
        height, width = inputs[first].shape[-2:]
        extra = [_broadcast(inputs[k].reshape(len(inputs[first]), -1).to(inputs[first].dtype),
                            height, width) for k in self.scalars]  # fmt: skip
        return {k: torch.cat([inputs[k], *extra], 1) if k == first and extra else inputs[k]
                for k in self.spatial}  # fmt: skip

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """Features like an smp encoder's: [fused input, level 1 … level 5], [B, C_l, H_l, W_l]."""
        branch_inputs = self._branch_inputs(inputs)
        features = {}
        for key, value in branch_inputs.items():
            if key in self.adapters:
                value = self.adapters[key](value)
            features[key] = self.branches[key](value)
        fused = [torch.cat(list(branch_inputs.values()), 1)]
        for level, fuse in enumerate(self.fuse, start=1):
            stack = [f[level] for f in features.values()]
            fused.append(fuse(torch.cat(stack, 1)) if self.fusion == "concat" else sum(stack))
        return fused

    def export_branch(self, key: str) -> dict[str, torch.Tensor]:
        """The state dict of modality ``key``'s encoder: a plain smp encoder of its channels
        (the first branch's also of the scalar channels, when there are scalars; with shared
        weights, the 1×1 adapter is not included)."""
        if key not in self.branches:
            raise KeyError(f"no branch {key!r}; branches: {list(self.branches)}")
        return {k: v.detach().clone() for k, v in self.branches[key].state_dict().items()}
