"""`MaskedImageTask`: masked image modelling with the U-Net, the second family of
self-supervised pretraining beside the contrastive tasks (``ssl.py``)::

    plantwatch fit --config experiments/ssl/masked_plants.yaml

In the manner of SimMIM (Xie et al. 2022) on a convolutional network: square patches of
``mask_patch_px`` pixels covering ``mask_ratio`` of each normalised scene are replaced by a
learned value per band, an smp U-Net (the encoder that transfer takes, a decoder that it
leaves behind) predicts every band of every pixel, and the loss is the L1 (or squared) error
on the masked pixels only, in units of each band's training standard deviation. To fill a
hidden patch the encoder must know what a scene holds around it: fields, towns, water, and
at a plant its buildings, towers and yards. Training masks are drawn anew every step;
validation masks are fixed per batch, so the validation loss compares epochs. The
validation split's k-NN probe (``knn_probe.py``) scores the pooled encoder features of the
unmasked scenes. A checkpoint is an ``encoder_checkpoint`` of `MultiTaskTask` (its
``network.encoder.`` weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.tasks.base import BaseTask
from plantwatch.tasks.knn_probe import KnnProbe


def patch_mask(
    batch: int, height: int, width: int, patch_px: int, ratio: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:  # fmt: skip
    """Random square patches of ``patch_px`` covering ``round(ratio × patches)`` of each image's
    patch grid (the last row and column may be cut by the border): bool [B, H, W], True =
    hidden. Drawn on the CPU (with ``generator`` where given)."""
    rows, cols = -(-height // patch_px), -(-width // patch_px)
    hidden = round(ratio * rows * cols)
    order = torch.rand(batch, rows * cols, generator=generator).argsort(dim=1)
    grid = order < hidden  # exactly ``hidden`` patches of each image: ranks below the count
    grid = grid.view(batch, rows, cols).repeat_interleave(patch_px, 1)
    return grid.repeat_interleave(patch_px, 2)[:, :height, :width]


class MaskedImageTask(BaseTask):
    """Masked image modelling (see the module docstring).

    Args:
        bands: input bands in order (None: the 12 L2A bands); all are reconstructed.
        encoder: smp encoder name of the U-Net (random init, built offline).
        mask_ratio: share of each scene's patches that are hidden, (0, 1).
        mask_patch_px: side of a hidden patch in pixels.
        loss: ``l1`` or ``mse`` on the masked pixels, in standard deviations of each band.
        knn_label: sample key of the label of the validation k-NN probe (None: no probe).
        knn_k: neighbours of the probe.
        optimizer, lr, weight_decay, momentum, scheduler, lr_multipliers, freeze: see
            `BaseTask`.
    """

    monitor = "val/loss"
    mode = "min"

    def __init__(
        self,
        bands: Sequence[str] | None = None,
        encoder: str = "resnet18",
        mask_ratio: float = 0.6,
        mask_patch_px: int = 8,
        loss: Literal["l1", "mse"] = "l1",
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
        if not 0 < mask_ratio < 1 or mask_patch_px < 1:
            raise ValueError(f"mask_ratio {mask_ratio} must lie in (0, 1) and mask_patch_px "
                             f"{mask_patch_px} be at least 1")  # fmt: skip
        super().__init__(
            bands=tuple(bands) if bands is not None else L2A_BAND_NAMES,
            optimizer=optimizer, lr=lr, weight_decay=weight_decay, momentum=momentum,
            scheduler=scheduler, lr_multipliers=lr_multipliers, freeze=freeze,
        )  # fmt: skip
        self.probe = KnnProbe(knn_label, knn_k)

    def configure_models(self) -> None:
        channels = len(self.bands)
        self.network = smp.Unet(self.hparams.encoder, encoder_weights=None,
                                in_channels=channels, classes=channels)  # fmt: skip
        head = self.network.segmentation_head[0]  # starts predicting the band means
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        self.mask_value = nn.Parameter(torch.zeros(channels))

    def reconstruct(self, image: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Every band of every pixel [B, C, H, W] predicted from the normalised ``image``
        [B, C, H, W] whose ``hidden`` pixels (bool [B, H, W]) are replaced by the learned
        value of each band (sides that the encoder's stride does not divide are padded by
        reflection, and the padding cut from the prediction)."""
        value = self.mask_value.to(image.dtype)[None, :, None, None]
        masked = torch.where(hidden[:, None], value, image)
        height, width = image.shape[-2:]
        stride = self.network.encoder.output_stride
        masked = F.pad(masked, (0, -width % stride, 0, -height % stride), mode="reflect")
        return self.network(masked)[..., :height, :width]

    def masked_error(self, image: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """The loss: mean error over the hidden pixels and all bands (standard deviations)."""
        error = self.reconstruct(image, hidden).float() - image.float()
        error = error.abs() if self.hparams.loss == "l1" else error.square()
        return error.mean(dim=1)[hidden].mean()

    def _step(self, image: torch.Tensor, stage: str, index: int) -> torch.Tensor:
        """The loss of a normalised batch [B, C, H, W], logged."""
        size, _, height, width = image.shape
        fixed = torch.Generator().manual_seed(index) if stage != "train" else None
        hidden = patch_mask(size, height, width, self.hparams.mask_patch_px,
                            self.hparams.mask_ratio, fixed).to(image.device)  # fmt: skip
        loss = self.masked_error(image, hidden)
        self.log(f"{stage}/loss", loss, prog_bar=True, on_step=stage == "train", on_epoch=True,
                 batch_size=size, sync_dist=True)  # fmt: skip
        return loss

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(self.normalize(batch)[0], "train", batch_idx)

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        image = self.normalize(batch)[0]
        self._step(image, "val", batch_idx)
        if self.probe.wants(batch):
            self.probe.add(self.network.encoder(image)[-1].mean(dim=(2, 3)), batch)

    def on_validation_epoch_end(self) -> None:
        self.probe.log_epoch(self)
