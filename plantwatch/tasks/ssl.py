"""Self-supervised pretraining on the task base: `SimCLRTask` (two views of one image),
`SamePlantTask` (two scenes of one plant on different dates) and `CrossModalTask`
(Sentinel-2 and Sentinel-1 of one place), run like any task::

    plantwatch fit --config experiments/ssl/simclr_plants.yaml

All log, per stage, the contrastive loss, the top-1 matching accuracy of positive pairs and
the per-dimension embedding standard deviation (``contrastive_losses.py``), and on the
validation split, where the data has labels of ``knn_label``, a k-nearest-neighbour accuracy
of the encoder's pooled features: each sample is classified by its k most similar
validation samples *of other plants* (or acquisitions), so several views of one plant
cannot vote for each other; beside it ``val/knn_chance``, the same probe on random
features, the level an encoder must beat (``knn_probe.py``). The encoder is what transfer
takes: a checkpoint of any of these tasks is an ``encoder_checkpoint`` of `MultiTaskTask`
(the cross-modal one gives its Sentinel-2 branch). Views are made on the device
(``data/augmentation/views.py``); run the data without the CPU augmentation
(``augmentation: null``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from lightly.models.modules import SimCLRProjectionHead
from torch import nn

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.augmentation.views import MultispectralViews
from plantwatch.models.encoders import build_encoder
from plantwatch.tasks.base import BaseTask
from plantwatch.tasks.contrastive_losses import embedding_std, info_nce, nt_xent, pair_accuracy
from plantwatch.tasks.knn_probe import KnnProbe

__all__ = ["CrossModalTask", "SamePlantTask", "SimCLRTask", "info_nce", "nt_xent"]


class ContrastiveTask(BaseTask):
    """What both contrastive tasks share (see the module docstring).

    Args:
        bands: optical input bands in order (None: the 12 L2A bands).
        encoder: smp encoder name (random init, built offline).
        extra_modalities: further spatial inputs with their channel names.
        projection_dim: width of the embeddings the loss compares.
        hidden_dim: width of the projection head's hidden layer.
        temperature: softmax temperature of the loss (None: the method's default, SimCLR 0.5,
            cross-modal 0.07).
        augment: make random views on the device (``MultispectralViews``).
        view_size: side of the views in pixels (None: the input's; smaller is faster).
        crop_scale, gain, offset, noise_std, blur_probability: of the views.
        knn_label: sample key of the label of the validation k-NN probe (None: no probe).
        knn_k: neighbours of the probe.
        optimizer, lr, weight_decay, momentum, scheduler, lr_multipliers, freeze: see
            `BaseTask`.
    """

    monitor = "val/loss"
    mode = "min"
    default_temperature = 0.5

    def __init__(
        self,
        bands: Sequence[str] | None = None,
        encoder: str = "resnet18",
        extra_modalities: dict[str, list[str]] | None = None,
        projection_dim: int = 128,
        hidden_dim: int = 512,
        temperature: float | None = None,
        augment: bool = True,
        view_size: int | None = None,
        crop_scale: tuple[float, float] = (0.35, 1.0),
        gain: float = 0.1,
        offset: float = 0.1,
        noise_std: float = 0.05,
        blur_probability: float = 0.5,
        knn_label: str | None = "fuel",
        knn_k: int = 5,
        optimizer: Literal["adamw", "sgd"] = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        scheduler: Literal["cosine", "none"] = "cosine",
        lr_multipliers: dict[str, float] | None = None,
        freeze: list[str] | None = None,
    ) -> None:
        super().__init__(
            bands=tuple(bands) if bands is not None else L2A_BAND_NAMES,
            extra_modalities=extra_modalities,
            optimizer=optimizer, lr=lr, weight_decay=weight_decay, momentum=momentum,
            scheduler=scheduler, lr_multipliers=lr_multipliers, freeze=freeze,
        )  # fmt: skip
        self.temperature = temperature if temperature is not None else self.default_temperature
        self.probe = KnnProbe(knn_label, knn_k)

    def _branch(self, channels: int) -> tuple[nn.Module, nn.Module]:
        h = self.hparams
        encoder = build_encoder(h.encoder, channels)
        head = SimCLRProjectionHead(encoder.out_channels[-1], h.hidden_dim, h.projection_dim)
        return encoder, head

    def configure_models(self) -> None:
        h = self.hparams
        self.views = MultispectralViews(h.view_size, h.crop_scale, h.gain, h.offset, h.noise_std,
                                        h.blur_probability)  # fmt: skip

    def view(self, images: torch.Tensor) -> torch.Tensor:
        """A random view of a normalised batch (the batch itself without augmentation)."""
        return self.views(images) if self.hparams.augment else images

    @staticmethod
    def pooled(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled deepest features [B, F] of ``encoder``."""
        return encoder(images)[-1].mean(dim=(2, 3))

    # ------------------------------------------------------------------ subclass hooks
    def pairs(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """The two embeddings [B, projection_dim] of each sample's positive pair."""
        raise NotImplementedError

    def loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """The contrastive loss of a batch of pairs."""
        raise NotImplementedError

    def probe_features(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """Pooled encoder features [B, F] of the unaugmented batch, for the k-NN probe."""
        raise NotImplementedError

    # ------------------------------------------------------------------ steps
    def _step(self, batch: Mapping[str, Any], stage: str) -> torch.Tensor:
        z1, z2 = self.pairs(batch)
        loss = self.loss(z1, z2)
        training = stage == "train"
        size = len(z1)
        self.log(f"{stage}/loss", loss, prog_bar=True, on_step=training, on_epoch=True,
                 batch_size=size, sync_dist=True)  # fmt: skip
        for name, value in (("pair_accuracy", pair_accuracy(z1, z2)),
                            ("embedding_std", embedding_std(torch.cat([z1, z2])))):  # fmt: skip
            self.log(f"{stage}/{name}", value, on_step=False, on_epoch=True, batch_size=size,
                     sync_dist=True)  # fmt: skip
        return loss

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        self._step(batch, "val")
        if self.probe.wants(batch):
            self.probe.add(self.probe_features(batch), batch)

    def on_validation_epoch_end(self) -> None:
        self.probe.log_epoch(self)


class SimCLRTask(ContrastiveTask):
    """SimCLR (Chen et al. 2020): two random views of each optical image, one encoder, a
    projection head, NT-Xent over all 2N anchors. Arguments: see `ContrastiveTask`."""

    def configure_models(self) -> None:
        super().configure_models()
        self.encoder, self.projection = self._branch(len(self.bands))

    def pairs(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        image, _, _ = self.normalize(batch)
        return tuple(self.projection(self.pooled(self.encoder, self.view(image)))
                     for _ in range(2))  # fmt: skip

    def loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return nt_xent(z1, z2, self.temperature, self._trainer is not None and
                       self.trainer.world_size > 1)  # fmt: skip

    def probe_features(self, batch: Mapping[str, Any]) -> torch.Tensor:
        image, _, _ = self.normalize(batch)
        return self.pooled(self.encoder, image)


class SamePlantTask(SimCLRTask):
    """Same-plant contrastive learning in the manner of Seasonal Contrast (Mañas et al.
    2021): two scenes of one plant on different dates are the positive pair, the other
    plants' scenes of the batch the negatives, NT-Xent over all 2N anchors. What stays the
    same at a plant (its layout, cooling towers, coal yard: its fuel) is what the encoder
    must keep; weather, season, plume and the view's augmentation (``augment``) change.
    Needs the data's same-plant batches (``data.init_args.batches: plant_pairs``).
    Arguments: see `ContrastiveTask`."""

    def pairs(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        plants = [str(p) for p in batch.get("plant_id", [])]
        if len(plants) < 2 or len(plants) % 2 or plants[0::2] != plants[1::2]:
            raise ValueError(
                "SamePlantTask trains on same-plant pairs: set data.init_args.batches: "
                "plant_pairs (batches of two scenes of each plant)"
            )
        image, _, _ = self.normalize(batch)
        z = self.projection(self.pooled(self.encoder, self.view(image)))
        return z[0::2], z[1::2]


class CrossModalTask(ContrastiveTask):
    """Cross-modal contrastive learning: an encoder and a projection head per modality, the
    optical image and the one modality of ``extra_modalities`` (e.g. ``{image_s1: [VV,
    VH]}``) of the same place as the positive pair, symmetric InfoNCE (default temperature
    0.07). Arguments: see `ContrastiveTask`; ``branches["image"]`` is the S2 encoder."""

    default_temperature = 0.07

    def configure_models(self) -> None:
        super().configure_models()
        if len(self.extra_modalities) != 1:
            raise ValueError(
                "cross-modal pretraining pairs the image with one modality: give "
                f"extra_modalities one key (e.g. {{image_s1: [VV, VH]}}), got "
                f"{list(self.extra_modalities)}"
            )
        channels = {"image": len(self.bands)}
        channels.update({k: len(v) for k, v in self.extra_modalities.items()})
        branches = {k: self._branch(c) for k, c in channels.items()}
        self.branches = nn.ModuleDict({k: encoder for k, (encoder, _) in branches.items()})
        self.projections = nn.ModuleDict({k: head for k, (_, head) in branches.items()})

    def pairs(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        image, _, extras = self.normalize(batch)
        inputs = {"image": image, **extras}
        return tuple(self.projections[k](self.pooled(self.branches[k], self.view(inputs[k])))
                     for k in self.branches)  # fmt: skip

    def loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return info_nce(z1, z2, self.temperature)

    def probe_features(self, batch: Mapping[str, Any]) -> torch.Tensor:
        image, _, _ = self.normalize(batch)
        return self.pooled(self.branches["image"], image)
