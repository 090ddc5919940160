"""`MultiTaskTask`: the LightningModule that trains `MultiTaskUNet` on partially labelled data.

One step computes every selected task's loss on the samples that carry its label (presence
flags), combines them with fixed or learned uncertainty weights, and logs each term and
weight. Metrics and losses are accumulated per epoch under ``train/``, ``val/`` and
``test/``; validation and test also log figures (examples with true and predicted plumes,
fuel confusion matrix, predicted-vs-true MW and t/h) and, at the end, HPARAMS with the
final metrics, so runs line up in TensorBoard's HPARAMS tab.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import nn
from torch.utils.tensorboard.summary import hparams
from torchmetrics import MeanMetric

from plantwatch import physics
from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.preview import rgb_composite
from plantwatch.data.sample import TASK_FLAGS
from plantwatch.models.encoders import load_encoder_weights
from plantwatch.models.multitask import TASKS, CO2Mode, MultiTaskUNet, check_tasks
from plantwatch.tasks.losses import LossWeighting, fuel_loss, plume_loss, regression_loss
from plantwatch.tasks.metrics import TaskMetrics
from plantwatch.tasks.plots import confusion_figure, examples_figure, scatter_figure

STAGES = ("train", "val", "test")


class MultiTaskTask(L.LightningModule):
    """Train, validate, test and predict plumes, fuel, power and CO₂ with one U-Net.

    Args:
        tasks: any subset of ``plume``, ``fuel``, ``power``, ``co2``.
        bands: input band names in order (must match the data); None for the 12 L2A bands.
        encoder: smp encoder name.
        encoder_checkpoint: local encoder weights (state dict, Lightning ``.ckpt`` or zoo
            folder); adapted by band name when its bands differ. None: random init.
        freeze_encoder: keep the encoder fixed (linear-probe / frozen fine-tuning).
        use_aux: feed the ``aux`` vector (weather) to the global heads.
        aux_features: length of ``aux``.
        co2_mode: ``head``, ``physics`` or ``physics_corrected`` (see MultiTaskUNet).
        bound_power_by_capacity: predict power as capacity × load factor where known.
        decoder_features: also pool decoder features for the global heads.
        hidden: width of the heads.
        dropout: dropout in the heads.
        power_scale_mw: MW per normalised unit (loss and head scale).
        co2_scale_t_per_h: t/h per normalised unit (loss and head scale).
        loss_weighting: ``fixed`` or ``uncertainty`` (Kendall et al. 2018).
        loss_weights: fixed weight per task (default 1 each).
        dice_weight: weight of the soft Dice term added to the plume BCE.
        regression_loss: ``huber`` or ``l1`` on normalised units.
        optimizer: ``adamw`` or ``sgd`` (with momentum, as in Hanna et al.).
        lr: learning rate.
        weight_decay: weight decay.
        momentum: SGD momentum.
        scheduler: ``cosine`` (per step, to zero at the end of training) or ``none``.
        channels_last: run the network in channels-last memory format (faster on CPU/GPU).
        detection_min_pixels: predicted plume pixels that make an image a detection.
        figure_examples: images in the validation/test example figure (0: no figures).
    """

    def __init__(
        self,
        tasks: Sequence[str] = TASKS,
        bands: Sequence[str] | None = None,
        encoder: str = "resnet18",
        encoder_checkpoint: str | None = None,
        freeze_encoder: bool = False,
        use_aux: bool = True,
        aux_features: int = 4,
        co2_mode: CO2Mode = "physics_corrected",
        bound_power_by_capacity: bool = True,
        decoder_features: bool = False,
        hidden: int = 128,
        dropout: float = 0.1,
        power_scale_mw: float = 1000.0,
        co2_scale_t_per_h: float = 1000.0,
        loss_weighting: Literal["fixed", "uncertainty"] = "fixed",
        loss_weights: dict[str, float] | None = None,
        dice_weight: float = 0.5,
        regression_loss: Literal["huber", "l1"] = "huber",
        optimizer: Literal["adamw", "sgd"] = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        scheduler: Literal["cosine", "none"] = "cosine",
        channels_last: bool = False,
        detection_min_pixels: int = 10,
        figure_examples: int = 8,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.tasks = check_tasks(tasks)
        self.bands = tuple(bands) if bands is not None else L2A_BAND_NAMES
        self.model = MultiTaskUNet(
            in_channels=len(self.bands),
            tasks=self.tasks,
            encoder=encoder,
            aux_features=aux_features if use_aux else 0,
            co2_mode=co2_mode,
            decoder_features=decoder_features,
            hidden=hidden,
            dropout=dropout,
            power_scale_mw=power_scale_mw,
            co2_scale_t_per_h=co2_scale_t_per_h,
        )
        if encoder_checkpoint:
            load_encoder_weights(self.model.encoder, encoder_checkpoint, self.bands)
        if freeze_encoder:
            self.model.encoder.requires_grad_(False)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.weighting = LossWeighting(self.tasks, loss_weighting, loss_weights)
        # ModuleDict keys may not shadow nn.Module attributes such as ``train``.
        self.stage_metrics = nn.ModuleDict(
            {
                f"{s}_": TaskMetrics(self.tasks, physics.NUM_FUELS, detection_min_pixels)
                for s in STAGES
            }
        )
        self.stage_losses = nn.ModuleDict(
            {
                f"{s}_": nn.ModuleDict({t: MeanMetric(nan_strategy="ignore") for t in self.tasks})
                for s in STAGES
            }
        )
        self._collected: dict[str, list[dict[str, np.ndarray]]] = {s: [] for s in STAGES}
        self._examples: dict[str, dict[str, Any]] = {}
        self.final_metrics: dict[str, float] = {}
        self._hparams_written = False

    # ------------------------------------------------------------------ forward and loss
    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Model outputs for a batch: plume logits [B,H,W], fuel logits [B,F], MW [B], t/h [B]."""
        image = batch["image"]
        if self.hparams.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        capacity = None
        if self.hparams.bound_power_by_capacity and "capacity" in batch:
            capacity = torch.where(batch["has_capacity"], batch["capacity"], torch.nan)
        return self.model(image, batch.get("aux") if self.hparams.use_aux else None, capacity)

    def task_losses(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Each task's loss over the samples that carry its label (zero when none do)."""
        h = self.hparams
        losses: dict[str, torch.Tensor] = {}
        if "plume" in self.tasks:
            losses["plume"] = plume_loss(
                outputs["plume"], batch["mask"], batch["has_mask"], h.dice_weight
            )
        if "fuel" in self.tasks:
            losses["fuel"] = fuel_loss(outputs["fuel"], batch["fuel"], batch["has_fuel"])
        for task, scale in (("power", h.power_scale_mw), ("co2", h.co2_scale_t_per_h)):
            if task in self.tasks:
                losses[task] = regression_loss(
                    outputs[task], batch[task], batch[TASK_FLAGS[task]], scale, h.regression_loss
                )
        return losses

    def _step(self, batch: Mapping[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, dict]:
        outputs = self(batch)
        losses = self.task_losses(outputs, batch)
        labelled = {t: int(batch[TASK_FLAGS[t]].sum()) for t in self.tasks}
        total = self.weighting(losses, {t: n > 0 for t, n in labelled.items()})
        batch_size = len(batch["image"])
        training = stage == "train"
        self.log(f"{stage}/loss", total, on_step=training, on_epoch=True, batch_size=batch_size,
                 sync_dist=not training, prog_bar=True)  # fmt: skip
        for task, loss in losses.items():
            self.stage_losses[f"{stage}_"][task].update(loss.detach(), weight=labelled[task])
        self.stage_metrics[f"{stage}_"].update(outputs, batch)
        return total, outputs

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str) -> None:
        """Check that the data serves the bands and aux length the model was built for."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        for name, dataset in getattr(datamodule, "datasets", {}).items():
            if tuple(dataset.bands) != self.bands:
                raise ValueError(
                    f"the {name} data serves bands {list(dataset.bands)} but the model was built "
                    f"for {list(self.bands)}; set model.bands and data.bands alike"
                )
            if self.hparams.use_aux and len(dataset.aux_columns) != self.hparams.aux_features:
                raise ValueError(
                    f"the {name} data has {len(dataset.aux_columns)} aux columns, "
                    f"model.aux_features is {self.hparams.aux_features}"
                )

    def on_train_epoch_start(self) -> None:
        if self.hparams.freeze_encoder:
            self.model.encoder.eval()  # frozen batch-norm statistics too

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        total, _ = self._step(batch, "train")
        for task, weight in self.weighting.effective_weights().items():
            self.log(f"train/weight_{task}", weight, on_step=True, on_epoch=False, batch_size=1)
        return total

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        _, outputs = self._step(batch, "val")
        self._collect("val", outputs, batch, batch_idx)

    def test_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        _, outputs = self._step(batch, "test")
        self._collect("test", outputs, batch, batch_idx)

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        """Per observation: MW, t/h, fuel probabilities, plume probability [H, W]."""
        outputs = self(batch)
        result: dict[str, Any] = {"obs_id": list(batch["obs_id"])}
        if "plume" in outputs:
            result["plume_probability"] = torch.sigmoid(outputs["plume"].float())
        if "fuel" in outputs:
            result["fuel_probability"] = outputs["fuel"].float().softmax(dim=1)
        for task in ("power", "co2"):
            if task in outputs:
                result[task] = outputs[task].float()
        return result

    def on_train_epoch_end(self) -> None:
        self._epoch_end("train")

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    def on_fit_start(self) -> None:
        self._write_hparams()

    def on_test_start(self) -> None:
        self._write_hparams()

    def configure_optimizers(self) -> dict[str, Any]:
        h = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        if h.optimizer == "adamw":
            optimizer = torch.optim.AdamW(params, lr=h.lr, weight_decay=h.weight_decay)
        else:
            optimizer = torch.optim.SGD(
                params, lr=h.lr, momentum=h.momentum, weight_decay=h.weight_decay
            )
        if h.scheduler == "none":
            return {"optimizer": optimizer}
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # ------------------------------------------------------------------ epoch summaries
    def _collect(
        self, stage: str, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, Any], index: int
    ) -> None:
        """Keep regression pairs for scatter plots and the first batch for the example figure."""
        rows = {}
        for task in ("power", "co2"):
            if task in outputs:
                present = batch[TASK_FLAGS[task]]
                rows[task] = np.stack(
                    [
                        outputs[task][present].detach().float().cpu().numpy(),
                        batch[task][present].float().cpu().numpy(),
                    ]
                )
        self._collected[stage].append(rows)
        if index == 0 and self.hparams.figure_examples:
            n = self.hparams.figure_examples
            self._examples[stage] = {
                "image": batch["image"][:n].float().cpu().numpy(),
                "batch": {k: v[:n] for k, v in batch.items() if k != "image"},
                "outputs": {k: v[:n].detach().float().cpu() for k, v in outputs.items()},
            }

    def _epoch_end(self, stage: str) -> None:
        if self.trainer.sanity_checking:  # a few batches before training: no record
            self._reset(stage)
            return
        values = self.stage_metrics[f"{stage}_"].compute()
        for task, mean in self.stage_losses[f"{stage}_"].items():
            loss = mean.compute()
            if torch.isfinite(loss):
                values[f"loss_{task}"] = loss
        for name, value in values.items():
            self.log(f"{stage}/{name}", value, sync_dist=True)  # equal on all ranks
        if stage != "train":
            self.final_metrics.update({f"{stage}/{k}": float(v) for k, v in values.items()})
            # computed on every rank (it synchronises), drawn on rank 0
            self._log_figures(stage, self.stage_metrics[f"{stage}_"].confusion_matrix())
        self._reset(stage)

    def _reset(self, stage: str) -> None:
        self.stage_metrics[f"{stage}_"].reset()
        for mean in self.stage_losses[f"{stage}_"].values():
            mean.reset()
        self._collected[stage] = []
        self._examples.pop(stage, None)

    def _tensorboard(self) -> TensorBoardLogger | None:
        for logger in self.loggers:
            if isinstance(logger, TensorBoardLogger):
                return logger
        return None

    def _log_figures(self, stage: str, confusion: torch.Tensor | None) -> None:
        logger = self._tensorboard()
        if logger is None or not self.trainer.is_global_zero or not self.hparams.figure_examples:
            return
        writer, step = logger.experiment, self.global_step
        if confusion is not None:
            writer.add_figure(
                f"{stage}/fuel_confusion",
                confusion_figure(confusion.cpu().numpy(), physics.FUEL_NAMES),
                step,
            )
        for task, unit in (("power", "MW"), ("co2", "t/h")):
            pairs = [rows[task] for rows in self._collected[stage] if task in rows]
            if pairs:
                predicted, true = np.concatenate(pairs, axis=1)
                writer.add_figure(
                    f"{stage}/{task}_scatter", scatter_figure(predicted, true, task, unit), step
                )
        if stage in self._examples:
            writer.add_figure(
                f"{stage}/examples", self._examples_figure(self._examples[stage]), step
            )

    def _examples_figure(self, examples: Mapping[str, Any]) -> Figure:
        batch, outputs = examples["batch"], examples["outputs"]
        rgb, truth, predicted, titles = [], [], [], []
        for i, image in enumerate(examples["image"]):
            rgb.append(rgb_composite(image, self.bands))
            truth.append(batch["mask"][i].cpu().numpy() if batch["has_mask"][i] else None)
            predicted.append(
                (outputs["plume"][i] > 0).numpy().astype(np.uint8) if "plume" in outputs else None
            )
            parts = [str(batch["obs_id"][i])]
            if "fuel" in outputs:
                true_fuel = (
                    physics.FUEL_NAMES[int(batch["fuel"][i])] if batch["has_fuel"][i] else "?"
                )
                parts.append(
                    f"{true_fuel} → {physics.FUEL_NAMES[int(outputs['fuel'][i].argmax())]}"
                )
            for task, unit in (("power", "MW"), ("co2", "t/h")):
                if task in outputs:
                    true = f"{float(batch[task][i]):.0f}" if batch[TASK_FLAGS[task]][i] else "?"
                    parts.append(f"{true} → {float(outputs[task][i]):.0f} {unit}")
            titles.append("\n".join(parts))
        return examples_figure(rgb, truth, predicted, titles)

    def _write_hparams(self) -> None:
        """Record the hyperparameters and the metric tags for TensorBoard's HPARAMS tab.

        Written once per run, before training or testing: HPARAMS shows the last value of
        each listed scalar tag, so the final validation and test metrics appear there as
        they are logged (a run that is never tested shows empty test columns).
        """
        logger = self._tensorboard()
        if self._hparams_written or logger is None or not self.trainer.is_global_zero:
            return
        names = self.stage_metrics["val_"].names() + [f"loss_{t}" for t in self.tasks]
        metrics = {f"{stage}/{name}": float("nan") for stage in ("val", "test") for name in names}
        params = dict(self.hparams)
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            params.update({f"data/{k}": v for k, v in datamodule.hparams.items()})
        params["seed"] = int(os.environ.get("PL_GLOBAL_SEED", -1))
        params["run"] = f"{logger.name}/{logger.version}"
        params = {
            k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in params.items()
        }
        writer = logger.experiment._get_file_writer()
        for summary in hparams(params, metrics):
            writer.add_summary(summary)
        self._hparams_written = True
