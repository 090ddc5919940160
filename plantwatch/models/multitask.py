"""`MultiTaskUNet`: one shared encoder for plume segmentation, fuel, power and CO₂.

The encoder (any segmentation-models-pytorch encoder) feeds a U-Net decoder that returns
plume logits at input resolution, and global heads that read the pooled encoder features
(optionally also the pooled decoder output) concatenated with the ``aux`` vector
(normalised weather):

- fuel: logits over the fuel classes;
- power: non-negative MW. Where the plant's capacity is known the head predicts the load
  factor, so power = capacity × sigmoid(·) ∈ [0, capacity]; elsewhere softplus(·) × scale;
- CO₂ (t/h): its own head (``co2_mode="head"``), or physics-guided (``"physics"``):
  co2 = power × Σ_f p(f)·EF_f, optionally times a learned correction bounded to ±20 %
  (``"physics_corrected"``).

Only the heads of the selected ``tasks`` are built; a single-task baseline is the same
class with one task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

from plantwatch import physics

TASKS: tuple[str, ...] = ("plume", "fuel", "power", "co2")
DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)
CO2_CORRECTION = 0.2

CO2Mode = Literal["head", "physics", "physics_corrected"]


def check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    """Validate a task selection; returns it in canonical order."""
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f"tasks must be a non-empty subset of {list(TASKS)}, got {list(tasks)}")
    return tuple(t for t in TASKS if t in tasks)


def _mlp(inputs: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, outputs),
    )


class MultiTaskUNet(nn.Module):
    """U-Net with a shared encoder and per-task heads.

    Args:
        in_channels: input bands.
        tasks: any subset of ``plume``, ``fuel``, ``power``, ``co2``.
        encoder: smp encoder name (``resnet18``, ``resnet50``, ``efficientnet-b0``, ``tu-…``).
        aux_features: length of the ``aux`` vector fed to the global heads (0: none).
        num_fuels: fuel classes.
        co2_mode: ``head``, ``physics`` or ``physics_corrected`` (the latter two need the
            fuel and power tasks).
        decoder_features: also pool the decoder output for the global heads (needs plume).
        hidden: width of the heads' hidden layer.
        dropout: dropout in the heads.
        power_scale_mw: MW of one unit of the power head's softplus output.
        co2_scale_t_per_h: t/h of one unit of the CO₂ head's softplus output.
    """

    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[str] = TASKS,
        encoder: str = "resnet18",
        aux_features: int = 0,
        num_fuels: int = physics.NUM_FUELS,
        co2_mode: CO2Mode = "physics_corrected",
        decoder_features: bool = False,
        hidden: int = 128,
        dropout: float = 0.1,
        power_scale_mw: float = 1000.0,
        co2_scale_t_per_h: float = 1000.0,
    ) -> None:
        super().__init__()
        self.tasks = check_tasks(tasks)
        if "co2" in self.tasks and co2_mode != "head" and not {"fuel", "power"} <= set(self.tasks):
            raise ValueError(
                f"co2_mode={co2_mode!r} needs the fuel and power tasks; use co2_mode='head'"
            )
        if decoder_features and "plume" not in self.tasks:
            raise ValueError("decoder_features needs the plume task (its decoder)")
        self.co2_mode = co2_mode
        self.decoder_features = decoder_features
        self.aux_features = aux_features
        self.power_scale_mw = power_scale_mw
        self.co2_scale_t_per_h = co2_scale_t_per_h

        if "plume" in self.tasks:
            unet = smp.Unet(
                encoder,
                encoder_weights=None,
                in_channels=in_channels,
                classes=1,
                decoder_channels=DECODER_CHANNELS,
            )
            self.encoder, self.decoder, self.segmentation_head = (
                unet.encoder,
                unet.decoder,
                unet.segmentation_head,
            )
            self._divisible = unet.requires_divisible_input_shape
        else:
            self.encoder = smp.encoders.get_encoder(encoder, in_channels=in_channels, weights=None)
            self._divisible = False
        pooled = self.encoder.out_channels[-1] + aux_features
        if decoder_features:
            pooled += DECODER_CHANNELS[-1]
        self.heads = nn.ModuleDict()
        if "fuel" in self.tasks:
            self.heads["fuel"] = _mlp(pooled, hidden, num_fuels, dropout)
        if "power" in self.tasks:
            self.heads["power"] = _mlp(pooled, hidden, 1, dropout)
        if "co2" in self.tasks and co2_mode != "physics":
            self.heads["co2"] = _mlp(pooled, hidden, 1, dropout)
        self.register_buffer(
            "emission_factors", torch.as_tensor(physics.emission_factors(), dtype=torch.float32)
        )

    def _pad(self, image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if not self._divisible:
            return image, (0, 0)
        stride = self.encoder.output_stride
        h, w = image.shape[-2:]
        pad_h, pad_w = (-h) % stride, (-w) % stride
        return F.pad(image, (0, pad_w, 0, pad_h), mode="reflect"), (pad_h, pad_w)

    def forward(
        self,
        image: torch.Tensor,
        aux: torch.Tensor | None = None,
        capacity_mw: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Predict the selected tasks.

        Args:
            image: float [B, C, H, W], normalised.
            aux: float [B, A] with A = ``aux_features``; ignored when ``aux_features`` is 0.
            capacity_mw: float [B], installed capacity in MW; NaN or ≤ 0 where unknown.

        Returns:
            ``plume``: logits [B, H, W]; ``fuel``: logits [B, F]; ``power``: MW [B];
            ``co2``: t/h [B] — for the selected tasks.
        """
        height, width = image.shape[-2:]
        padded, _ = self._pad(image)
        features = self.encoder(padded)
        out: dict[str, torch.Tensor] = {}
        pooled = [features[-1].mean(dim=(2, 3))]
        if "plume" in self.tasks:
            decoded = self.decoder(features)
            out["plume"] = self.segmentation_head(decoded)[:, 0, :height, :width]
            if self.decoder_features:
                pooled.append(decoded.mean(dim=(2, 3)))
        if self.aux_features:
            if aux is None or aux.shape[-1] != self.aux_features:
                got = None if aux is None else tuple(aux.shape)
                raise ValueError(f"aux must be [B, {self.aux_features}], got {got}")
            pooled.append(aux.to(pooled[0].dtype))
        shared = torch.cat(pooled, dim=1)

        if "fuel" in self.tasks:
            out["fuel"] = self.heads["fuel"](shared)
        if "power" in self.tasks:
            raw = self.heads["power"](shared)[:, 0].float()
            power = F.softplus(raw) * self.power_scale_mw
            if capacity_mw is not None:
                known = torch.nan_to_num(capacity_mw.float(), nan=0.0)
                power = torch.where(known > 0, known * torch.sigmoid(raw), power)
            out["power"] = power
        if "co2" in self.tasks:
            if self.co2_mode == "head":
                out["co2"] = (
                    F.softplus(self.heads["co2"](shared)[:, 0].float()) * self.co2_scale_t_per_h
                )
            else:
                probs = out["fuel"].float().softmax(dim=1)
                co2 = out["power"] * (probs @ self.emission_factors)
                if self.co2_mode == "physics_corrected":
                    co2 = co2 * (
                        1 + CO2_CORRECTION * torch.tanh(self.heads["co2"](shared)[:, 0].float())
                    )
                out["co2"] = co2
        return out
