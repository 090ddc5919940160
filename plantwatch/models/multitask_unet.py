"""`MultiTaskUNet`: one shared encoder for any selection of registered tasks.

The encoder (any segmentation-models-pytorch encoder, built offline) feeds a U-Net decoder
when a dense task (plume, land-cover map …) is selected; each dense task has its own 3×3
head on the decoder's last feature map and comes out at input resolution. Global tasks
(fuel, power, CO₂, climate zone …) have an MLP on the pooled encoder features (optionally
also the pooled decoder output) concatenated with ``aux``. Heads follow the task's kind
(``task_registry.py``); the plant tasks' outputs pass through their physics hooks
(``models/plant_physics.py``):

- power (MW): capacity × a load factor clamped to [0, 1] (straight-through, so a plant
  predicted at full load still learns) where the capacity is known, softplus(·) × scale else;
- CO₂ (t/h): its own head (``co2_mode="head"``), or power × Σ_f p(f)·EF_f (``"physics"``),
  optionally × a learned correction within ±20 % (``"physics_corrected"``).

With ``plume_pooling`` the global heads also read what the plume head segments: the decoder
features pooled with the predicted plume probability as weights (attention pooling), the
plume's brightness contrast per input band (probability-weighted mean minus the image
mean) and the predicted plume area (mean probability and log(1 + Σ probability)). The
probability is detached there: the plume is learned from its own labels. With
``detach_plume_features`` the pooled decoder features are detached too, so the power and
CO₂ losses train their heads and the shared encoder but not the decoder that the plume head
reads. A plant that is off shows no plume, so its heads can learn a load factor near 0.

Further spatial modalities (``extra_inputs``: ``image_s1``, ``dem`` …) enter by early
fusion (stacked with the image as channels before the encoder) or late fusion (one encoder
per modality, features fused at every skip level; ``models/fusion.py``); scalar and vector
modalities (``scalar_inputs``: weather, season, climate zone) enter the encoder as constant
channels. With ``in_channels=0`` the optical image is no input (e.g. Sentinel-1 alone).

With ``reference`` the encoder also reads the plant's clear-sky reference
(``models/reference_fusion.py``): stacked with the scene (``early``), as the change scene −
reference (``difference``) or through the same encoder with features fused per level
(``siamese``).

Only the selected tasks' heads are built; a single-task baseline is the same class with one
task. The network sees normalised inputs; normalisation lives in the task module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder
from torch import nn

from plantwatch.models.fusion import EarlyFusion, FusionOperator, LateFusionEncoder
from plantwatch.models.heads import dense_head, global_head
from plantwatch.models.plant_physics import physics_co2, power_from_load_factor
from plantwatch.models.reference_fusion import (
    ReferenceFusion,
    SiameseEncoder,
    reference_channels,
    reference_input,
)
from plantwatch.task_registry import PLANT_TASKS, get_tasks

DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)

CO2Mode = Literal["head", "physics", "physics_corrected"]


class MultiTaskUNet(nn.Module):
    """U-Net with a shared encoder and one head per selected task.

    Args:
        in_channels: channels of the optical image (0: the image is no input; then
            ``extra_inputs`` must hold a spatial modality).
        tasks: names of registered tasks (``task_registry.py``).
        encoder: smp encoder name (``resnet18``, ``resnet50``, ``efficientnet-b0``, ``tu-…``).
        aux_features: length of the ``aux`` vector fed to the global heads (0: none).
        co2_mode: ``head``, ``physics`` or ``physics_corrected`` (the latter two need the
            fuel and power tasks).
        decoder_features: also pool the decoder output for the global heads (needs a dense
            task).
        plume_pooling: also feed the global heads plume-weighted decoder features, the
            plume's brightness contrast and its predicted area (needs a binary segmentation
            task, the plume).
        detach_plume_features: stop the global heads' gradients at the plume-weighted decoder
            features (only with ``plume_pooling``).
        extra_inputs: channels of further spatial modalities by sample key (none: the image
            only).
        scalar_inputs: length of scalar or vector modalities by key (``{"aux": 4,
            "season": 1}``), broadcast to constant channels of the encoder input.
        fusion: ``early`` or ``late`` fusion of the image with ``extra_inputs``.
        fusion_operator: late fusion per level: ``concat`` (+ 1×1 convolution) or ``sum``.
        shared_weights: late fusion with one encoder for every modality.
        hidden: width of the global heads' hidden layer.
        dropout: dropout in the global heads.
        uncertainty: give each regression task a spread head: ``<task>_log_sigma`` [B],
            log σ in units of the task's scale (clamped to [−7, 7]).
        reference: how the encoder reads the plant's clear-sky reference: ``none``,
            ``early``, ``difference`` or ``siamese`` (the last without other fused inputs).
    """

    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[str] = PLANT_TASKS,
        encoder: str = "resnet18",
        aux_features: int = 0,
        co2_mode: CO2Mode = "physics_corrected",
        decoder_features: bool = False,
        plume_pooling: bool = False,
        detach_plume_features: bool = False,
        extra_inputs: Mapping[str, int] | None = None,
        scalar_inputs: Mapping[str, int] | None = None,
        fusion: Literal["early", "late"] = "early",
        fusion_operator: FusionOperator = "concat",
        shared_weights: bool = False,
        hidden: int = 128,
        dropout: float = 0.1,
        uncertainty: bool = False,
        reference: ReferenceFusion = "none",
    ) -> None:
        super().__init__()
        self.specs = get_tasks(tasks)
        names = {s.name for s in self.specs}
        uses_physics_co2 = any(s.hook == "physics_co2" for s in self.specs) and co2_mode != "head"
        if uses_physics_co2 and not {"fuel", "power"} <= names:
            raise ValueError(
                f"co2_mode={co2_mode!r} needs the fuel and power tasks; use co2_mode='head'"
            )
        dense = [s for s in self.specs if s.dense]
        if decoder_features and not dense:
            raise ValueError("decoder_features needs a segmentation task (its decoder)")
        plumes = [s.name for s in dense if s.kind == "binary_segmentation"]
        if plume_pooling and not plumes:
            raise ValueError("plume_pooling needs a binary segmentation task such as plume")
        if detach_plume_features and not plume_pooling:
            raise ValueError("detach_plume_features needs plume_pooling")
        if plume_pooling and not in_channels:
            raise ValueError("plume_pooling reads the image: it needs in_channels > 0")
        self.plume_task = plumes[0] if plume_pooling else None
        self.detach_plume_features = detach_plume_features
        self.co2_mode = co2_mode
        if reference != "none" and not in_channels:
            raise ValueError("a reference is compared with the image: it needs in_channels > 0")
        self.reference = reference
        image_channels = reference_channels(in_channels, reference)
        self.inputs = {"image": image_channels, **(extra_inputs or {})}
        self.inputs = {k: c for k, c in self.inputs.items() if c > 0}
        if not self.inputs:
            raise ValueError("no spatial input: in_channels is 0 and extra_inputs is empty")
        self.scalars = dict(scalar_inputs or {})
        self.decoder_features = decoder_features
        self.aux_features = aux_features

        fused = len(self.inputs) > 1 or self.scalars or "image" not in self.inputs
        self.fusion = fusion if fused else None
        if reference == "siamese" and self.fusion is not None:
            raise ValueError("a siamese reference reads the image alone: drop extra_inputs and "
                             "scalar_inputs, or use reference early or difference")  # fmt: skip
        self.early = EarlyFusion(self.inputs, self.scalars) if self.fusion == "early" else None
        encoder_channels = self.early.out_channels if self.early else image_channels
        if self.fusion == "late":
            self.encoder = LateFusionEncoder(self.inputs, self.scalars, encoder=encoder,
                                             fusion=fusion_operator,
                                             shared_weights=shared_weights)  # fmt: skip
            self.decoder = (
                UnetDecoder(self.encoder.out_channels, DECODER_CHANNELS) if dense else None
            )
            self._divisible = True
        elif dense:
            unet = smp.Unet(encoder, encoder_weights=None, in_channels=encoder_channels,
                            classes=1, decoder_channels=DECODER_CHANNELS)  # fmt: skip
            self.encoder, self.decoder = unet.encoder, unet.decoder
            self._divisible = unet.requires_divisible_input_shape
        else:
            self.encoder = smp.encoders.get_encoder(encoder, in_channels=encoder_channels,
                                                    weights=None)  # fmt: skip
            self._divisible = False
        if reference == "siamese":
            self.encoder = SiameseEncoder(self.encoder)
        self.dense_heads = nn.ModuleDict(
            {s.name: dense_head(s, DECODER_CHANNELS[-1]) for s in dense}
        )
        pooled = self.encoder.out_channels[-1] + aux_features
        if decoder_features:
            pooled += DECODER_CHANNELS[-1]
        if plume_pooling:
            pooled += DECODER_CHANNELS[-1] + in_channels + 2
        self.heads = nn.ModuleDict(
            {
                s.name: global_head(s, pooled, hidden, dropout)
                for s in self.specs
                if not s.dense and not (s.hook == "physics_co2" and co2_mode == "physics")
            }
        )
        self.spread_heads = nn.ModuleDict(
            {
                s.name: global_head(s, pooled, hidden, dropout)
                for s in self.specs
                if uncertainty and s.kind == "regression"
            }
        )

    def _pad(self, image: torch.Tensor) -> torch.Tensor:
        if not self._divisible:
            return image
        stride = self.encoder.output_stride
        h, w = image.shape[-2:]
        return F.pad(image, (0, (-w) % stride, 0, (-h) % stride), mode="reflect")

    def _plume_pooled(
        self, logits: torch.Tensor, decoded: torch.Tensor, image: torch.Tensor
    ) -> list[torch.Tensor]:
        """What the plume head sees, for the global heads: plume-weighted decoder features
        [B, D], per-band brightness contrast [B, C], area (mean probability) [B, 1] and
        log(1 + Σ probability) [B, 1]. ``logits``: [B, H, W]; ``decoded``: [B, D, H', W']
        with H' ≥ H; ``image``: [B, C, H, W]."""
        height, width = logits.shape[-2:]
        weights = torch.sigmoid(logits.detach().float())[:, None]
        total = weights.sum(dim=(2, 3))
        norm = total.clamp_min(1e-6)
        features = decoded[..., :height, :width].float()
        if self.detach_plume_features:
            features = features.detach()
        image = image.float()
        return [
            (features * weights).sum(dim=(2, 3)) / norm,
            (image * weights).sum(dim=(2, 3)) / norm - image.mean(dim=(2, 3)),
            weights.mean(dim=(2, 3)),
            torch.log1p(total),
        ]

    def forward(
        self,
        image: torch.Tensor,
        aux: torch.Tensor | None = None,
        capacity_mw: torch.Tensor | None = None,
        extras: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Predict the selected tasks.

        Args:
            image: float [B, C, H, W], normalised (ignored when ``in_channels`` is 0).
            aux: float [B, A] with A = ``aux_features``; ignored when ``aux_features`` is 0.
            capacity_mw: float [B], installed capacity in MW; NaN or ≤ 0 where unknown.
            extras: the ``extra_inputs`` by key, float [B, C_k, H, W], and the
                ``scalar_inputs``, float [B, A_k], normalised; with ``reference`` also
                ``reference`` float [B, C, H, W] (normalised as the image) and
                ``has_reference`` bool [B].

        Returns:
            by task name: binary segmentation logits [B, H, W]; multiclass segmentation
            logits [B, C, H, W]; classification logits [B, C]; regression values in the
            task's unit [B] (``power`` MW, ``co2`` t/h); with ``uncertainty`` also
            ``<task>_log_sigma`` [B] per regression task.
        """
        encoded = image
        if self.reference != "none":
            if extras is None or "reference" not in extras:
                raise ValueError("the model compares the image with its reference, which the "
                                 "batch does not hold")  # fmt: skip
            encoded = reference_input(image, extras["reference"], extras["has_reference"],
                                      self.reference)  # fmt: skip
        if self.fusion is None:
            height, width = image.shape[-2:]
            features = self.encoder(self._pad(encoded))
        else:
            given = {**(extras or {}), "image": encoded}
            missing = [k for k in (*self.inputs, *self.scalars) if k not in given]
            if missing:
                raise ValueError(f"the model fuses {missing}, which the batch does not hold")
            height, width = given[next(iter(self.inputs))].shape[-2:]
            inputs = {k: self._pad(given[k]) for k in self.inputs}
            inputs.update({k: given[k] for k in self.scalars})
            features = self.encoder(self.early(inputs) if self.early else inputs)
        out: dict[str, torch.Tensor] = {}
        pooled = [features[-1].mean(dim=(2, 3))]
        if self.dense_heads:
            decoded = self.decoder(features)
            for spec in self.specs:
                if spec.dense:
                    logits = self.dense_heads[spec.name](decoded)[..., :height, :width]
                    out[spec.name] = logits[:, 0] if spec.kind == "binary_segmentation" else logits
            if self.decoder_features:
                pooled.append(decoded.mean(dim=(2, 3)))
            if self.plume_task is not None:
                pooled += self._plume_pooled(out[self.plume_task], decoded, image)
        if self.aux_features:
            if aux is None or aux.shape[-1] != self.aux_features:
                got = None if aux is None else tuple(aux.shape)
                raise ValueError(f"aux must be [B, {self.aux_features}], got {got}")
            pooled.append(aux)
        shared = torch.cat([p.float() for p in pooled], dim=1)

        raw = {name: head(shared) for name, head in self.heads.items()}
        for spec in self.specs:
            if spec.dense:
                continue
            if spec.kind != "regression":
                out[spec.name] = raw[spec.name]
                continue
            value = raw[spec.name][:, 0].float() if spec.name in raw else None
            if spec.hook == "capacity_load_factor":
                out[spec.name] = power_from_load_factor(value, capacity_mw, spec.scale)
            elif spec.hook == "physics_co2" and self.co2_mode != "head":
                out[spec.name] = physics_co2(out["power"], out["fuel"], value)
            elif spec.nonnegative:
                out[spec.name] = F.softplus(value) * spec.scale
            else:
                out[spec.name] = value * spec.scale
        for name, head in self.spread_heads.items():
            out[f"{name}_log_sigma"] = head(shared)[:, 0].float().clamp(-7.0, 7.0)
        return out
