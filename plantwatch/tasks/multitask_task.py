"""`MultiTaskTask`: trains `MultiTaskUNet` on any selection of registered tasks, partially
labelled.

One step computes every selected task's loss on the samples that carry its label (presence
flags), combines them with fixed or learned uncertainty weights, and logs each term and
weight. Losses and metrics are accumulated per epoch under ``train/``, ``val/`` and
``test/``. Model selection monitors ``val/selection_loss``: the per-task validation losses
without any learned weight, averaged with each task's number of validation labels as its
weight — unlike the training objective it cannot go negative under uncertainty weighting
and is not dominated by the task with the largest loss scale. Validation and test also log
figures (examples of several plants in true colour with true and predicted plumes,
confusion matrices, predicted-vs-true scatter plots) and HPARAMS with the final metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import nn
from torchmetrics import MeanMetric

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.format.statistics import Statistics
from plantwatch.models.encoders import input_channels, load_encoder_weights
from plantwatch.models.multitask_unet import CO2Mode, MultiTaskUNet
from plantwatch.models.reference_fusion import ReferenceFusion, SiameseEncoder
from plantwatch.scalar_modalities import SCALAR_MODALITIES
from plantwatch.task_registry import PLANT_TASKS, get_tasks
from plantwatch.tasks.base import BaseTask
from plantwatch.tasks.class_weights import ClassWeighting
from plantwatch.tasks.intervals import RegressionIntervals
from plantwatch.tasks.losses import LossWeighting, RegressionLoss, SegmentationLoss, Uncertainty
from plantwatch.tasks.metrics import TaskMetrics
from plantwatch.tasks.plots import ExampleCollector, epoch_figures
from plantwatch.tasks.task_losses import TaskLosses

STAGES = ("train", "val", "test")


class MultiTaskTask(BaseTask):
    """Train, validate, test and predict any selection of tasks with one U-Net.

    Args:
        tasks: names of registered tasks (``plume``, ``fuel``, ``power``, ``co2`` …).
        bands: input band names in order (must match the data); None for the 12 L2A bands.
        encoder: smp encoder name.
        encoder_checkpoint: local encoder weights (state dict, Lightning ``.ckpt`` or zoo
            folder, by path or zoo name); adapted by channel name when its channels differ.
            None: random init.
        use_encoder_statistics: normalise the channels that the encoder checkpoint records
            (a zoo card, a Lightning checkpoint) with its statistics, not the data's.
        use_aux: feed the ``aux`` vector (weather) to the global heads.
        aux_features: length of ``aux``.
        co2_mode: ``head``, ``physics`` or ``physics_corrected`` (see MultiTaskUNet).
        bound_power_by_capacity: predict power as capacity × load factor where known.
        decoder_features: also pool decoder features for the global heads.
        plume_pooling: the global heads also read the predicted plume: plume-weighted decoder
            features, its brightness contrast and area (see MultiTaskUNet).
        detach_plume_features: the power and CO₂ losses do not train the decoder through
            the plume-weighted features (see MultiTaskUNet).
        use_image: feed the optical image (false: only ``extra_modalities``, e.g. Sentinel-1
            alone; the data still serves ``bands``).
        extra_modalities: further spatial inputs by sample key with their channel names
            (``{"image_s1": ["VV", "VH"], "dem": ["DEM"]}``), fused with the image.
        scalar_modalities: scalar modalities fused as constant input channels: ``aux``
            (weather), ``season``, ``climate_zone`` (none may be a target of ``tasks``).
        fusion: ``early`` (stacked channels) or ``late`` (an encoder per modality).
        fusion_operator: late fusion per level: ``concat`` or ``sum``.
        shared_weights: late fusion with one encoder for every modality.
        reference_fusion: how the plant's clear-sky reference enters (the data must serve the
            ``reference`` modality): ``none``, ``early`` (stacked channels), ``difference``
            (scene − reference channels) or ``siamese`` (one encoder over both, features
            fused per level); ``models/reference_fusion.py``.
        hidden: width of the heads.
        dropout: dropout in the heads.
        loss_weighting: ``fixed`` or ``uncertainty`` (Kendall et al. 2018).
        loss_weights: fixed weight per task (default 1 each).
        dice_weight: weight of the soft Dice term added to the binary segmentation loss.
        segmentation_loss: per segmentation task, ``cross_entropy`` (default), ``focal`` or
            ``lovasz`` (cross-entropy + Lovász; ``tasks/losses.py``).
        class_weighting: per segmentation task, ``none`` (default), ``inverse_frequency`` or
            ``sqrt_inverse_frequency``: class weights counted on the training split before
            training, kept in the checkpoint (``tasks/class_weights.py``).
        max_class_weight_ratio: no class weighs more than this times the most common class
            (None: unbounded).
        focal_gamma: γ of the focal loss.
        regression_loss: ``huber`` (Huber/δ: L1 beyond δ, quadratic within) or ``l1``, on
            errors divided by the training split's standard deviation of the target; either
            way an error of one standard deviation costs about 1, as a nat of cross-entropy.
        huber_delta: Huber δ in those normalised units (0.1 = a tenth of a standard deviation).
        uncertainty: ``gaussian`` or ``laplace``: each regression task also predicts its
            spread, trained by that negative log-likelihood of the (detached) mean's error,
            added to the task's loss; ``none``: no spread (conformal intervals of constant
            width).
        interval_level: nominal coverage of the conformal intervals (calibrated on the
            validation split; ``tasks/intervals.py``) in test metrics and predictions.
        optimizer, lr, weight_decay, momentum, scheduler, lr_multipliers, freeze: see
            `BaseTask` (``freeze: [model.encoder]`` = frozen encoder).
        channels_last: run the network in channels-last memory format (faster on CPU/GPU).
        compile: compile the network with ``torch.compile`` (in place: checkpoints keep their
            keys); pays off on GPUs for long runs, costs minutes of compilation first.
        detection_min_pixels: plume pixels that make an image hold a plume (truth and
            prediction alike).
        figure_examples: images in the validation/test example figure (0: no figures).
    """

    monitor = "val/selection_loss"
    mode = "min"

    def __init__(
        self,
        tasks: Sequence[str] = PLANT_TASKS,
        bands: Sequence[str] | None = None,
        encoder: str = "resnet18",
        encoder_checkpoint: str | None = None,
        use_encoder_statistics: bool = True,
        use_aux: bool = True,
        aux_features: int = 4,
        co2_mode: CO2Mode = "physics_corrected",
        bound_power_by_capacity: bool = True,
        decoder_features: bool = False,
        plume_pooling: bool = False,
        detach_plume_features: bool = False,
        use_image: bool = True,
        extra_modalities: dict[str, list[str]] | None = None,
        scalar_modalities: list[str] | None = None,
        fusion: Literal["early", "late"] = "early",
        fusion_operator: Literal["concat", "sum"] = "concat",
        shared_weights: bool = False,
        reference_fusion: ReferenceFusion = "none",
        hidden: int = 128,
        dropout: float = 0.1,
        loss_weighting: Literal["fixed", "uncertainty"] = "fixed",
        loss_weights: dict[str, float] | None = None,
        dice_weight: float = 0.5,
        segmentation_loss: dict[str, SegmentationLoss] | None = None,
        class_weighting: dict[str, ClassWeighting] | None = None,
        max_class_weight_ratio: float | None = None,
        focal_gamma: float = 2.0,
        regression_loss: RegressionLoss = "huber",
        huber_delta: float = 0.1,
        uncertainty: Uncertainty = "none",
        interval_level: float = 0.9,
        optimizer: Literal["adamw", "sgd"] = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        scheduler: Literal["cosine", "none"] = "cosine",
        lr_multipliers: dict[str, float] | None = None,
        freeze: list[str] | None = None,
        channels_last: bool = False,
        compile: bool = False,
        detection_min_pixels: int = 10,
        figure_examples: int = 8,
    ) -> None:
        self.specs = get_tasks(tasks)
        self.tasks = tuple(s.name for s in self.specs)
        leaked = sorted({s.target for s in self.specs} & set(scalar_modalities or ()))
        if leaked:
            raise ValueError(f"scalar_modalities {leaked} are targets of the selected tasks")
        fuses_aux = "aux" in (scalar_modalities or ())
        super().__init__(
            bands=tuple(bands) if bands is not None else L2A_BAND_NAMES,
            aux_features=aux_features if use_aux or fuses_aux else 0,
            extra_modalities=extra_modalities, scalar_modalities=scalar_modalities,
            optimizer=optimizer, lr=lr, weight_decay=weight_decay, momentum=momentum,
            scheduler=scheduler, lr_multipliers=lr_multipliers, freeze=freeze,
        )  # fmt: skip

    # ------------------------------------------------------------------ configuration
    def configure_models(self) -> None:
        h = self.hparams
        scalars = {k: SCALAR_MODALITIES[k] or h.aux_features for k in self.scalar_modalities}
        self.model = MultiTaskUNet(
            in_channels=len(self.bands) if h.use_image else 0, tasks=self.tasks,
            encoder=h.encoder,
            aux_features=h.aux_features if h.use_aux else 0, co2_mode=h.co2_mode,
            decoder_features=h.decoder_features,
            plume_pooling=h.plume_pooling, detach_plume_features=h.detach_plume_features,
            extra_inputs={k: len(v) for k, v in self.extra_modalities.items()},
            scalar_inputs=scalars, fusion=h.fusion, fusion_operator=h.fusion_operator,
            shared_weights=h.shared_weights, reference=h.reference_fusion,
            hidden=h.hidden, dropout=h.dropout, uncertainty=h.uncertainty != "none",
        )  # fmt: skip
        if h.encoder_checkpoint and (self.model.fusion == "late" or not h.use_image):
            raise ValueError("encoder_checkpoint with late fusion or without the image: load "
                             "each branch instead")  # fmt: skip
        if h.encoder_checkpoint and h.reference_fusion in ("early", "difference"):
            raise ValueError(f"encoder_checkpoint with reference_fusion={h.reference_fusion}: "
                             "its input has no channel names; use reference_fusion=siamese")
        if h.encoder_checkpoint:
            channels = input_channels(h)  # early fusion: the bands, S1, DEM … by name
            encoder = self.model.encoder
            encoder = encoder.encoder if isinstance(encoder, SiameseEncoder) else encoder
            statistics = load_encoder_weights(encoder, h.encoder_checkpoint, channels)
            if h.use_encoder_statistics:
                self.encoder_statistics = statistics
        if h.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if h.compile:
            self.model.compile()

    def configure_losses(self) -> None:
        h = self.hparams
        self.weighting = LossWeighting(self.tasks, h.loss_weighting, h.loss_weights)
        self.losses = TaskLosses(self.specs, h.dice_weight, h.segmentation_loss,
                                 h.class_weighting, h.max_class_weight_ratio, h.focal_gamma,
                                 h.regression_loss, h.huber_delta, h.uncertainty)  # fmt: skip

    def configure_metrics(self) -> None:
        # ModuleDict keys may not shadow nn.Module attributes such as ``train``.
        pixels = self.hparams.detection_min_pixels
        self.stage_metrics = nn.ModuleDict(
            {f"{s}_": TaskMetrics(self.specs, pixels) for s in STAGES}
        )
        self.stage_losses = nn.ModuleDict(
            {
                f"{s}_": nn.ModuleDict({t: MeanMetric(nan_strategy="ignore") for t in self.tasks})
                for s in STAGES
            }
        )
        self.examples = {s: ExampleCollector(self.hparams.figure_examples) for s in STAGES}
        regression = [s for s in self.specs if s.kind == "regression"]
        self.intervals = RegressionIntervals(regression, self.hparams.interval_level)
        self.final_metrics: dict[str, float] = {}

    def configure_statistics(self, statistics: Statistics) -> None:
        self.losses.set_scales(statistics)

    def setup(self, stage: str) -> None:
        """Before a fit: the class weights from the training split (a checkpoint's prevail)."""
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if stage == "fit" and datamodule is not None and not self.losses.counted:
            training_set = getattr(datamodule, "training_set", None)
            train = training_set(augment=False) if training_set else datamodule.datasets["train"]
            self.losses.count_classes(train, self.trainer.progress_bar_callback is not None)

    # ------------------------------------------------------------------ forward and loss
    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Model outputs for a batch (raw units in, see MultiTaskUNet.forward for the outputs)."""
        image, aux, extras = self.normalize(batch)
        if self.hparams.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        capacity = None
        if self.hparams.bound_power_by_capacity and "capacity" in batch:
            capacity = torch.where(batch["has_capacity"], batch["capacity"], torch.nan)
        return self.model(image, aux if self.hparams.use_aux else None, capacity, extras)

    def _step(self, batch: Mapping[str, Any], stage: str) -> tuple[torch.Tensor, dict]:
        outputs = self(batch)
        losses = self.losses(outputs, batch)
        labelled = {s.name: int(batch[s.flag].sum()) for s in self.specs}
        total = self.weighting(losses, {t: n > 0 for t, n in labelled.items()})
        training = stage == "train"
        self.log(f"{stage}/loss", total, on_step=training, on_epoch=True,
                 batch_size=len(batch["image"]), sync_dist=True, prog_bar=True)  # fmt: skip
        for task, loss in losses.items():
            self.stage_losses[f"{stage}_"][task].update(loss.detach(), weight=labelled[task])
        self.stage_metrics[f"{stage}_"].update(outputs, batch)
        if stage != "train":
            self.intervals.update(outputs, batch)
        return total, outputs

    # ------------------------------------------------------------------ Lightning hooks
    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        total, _ = self._step(batch, "train")
        for task, weight in self.weighting.effective_weights().items():
            self.log(f"train/weight_{task}", weight, on_step=True, on_epoch=False, batch_size=1)
        return total

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        _, outputs = self._step(batch, "val")
        self.examples["val"].add(self.specs, outputs, batch)

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        _, outputs = self._step(batch, "test")
        self.examples["test"].add(self.specs, outputs, batch)

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        """Per observation: the outputs in physical units and probabilities, with the
        metadata and georeference of the batch."""
        outputs = self(batch)
        result: dict[str, Any] = {k: batch[k] for k in ("obs_id", "crs", "transform") if k in batch}
        result["image_size"] = tuple(batch["image"].shape[-2:])  # (H, W) of the georeference
        for spec in self.specs:
            value = outputs[spec.name].float()
            if spec.kind in ("binary_segmentation", "multilabel"):
                value = torch.sigmoid(value)
            elif spec.kind in ("multiclass", "multiclass_segmentation", "composition"):
                value = value.softmax(dim=1)
            result[spec.name] = value
            if spec.kind == "regression":
                result[f"{spec.name}_low"], result[f"{spec.name}_high"] = self.intervals.bounds(
                    outputs, spec
                )
        for key in ("plant_id", "datetime"):
            if key in batch:
                result[key] = batch[key]
        if "capacity" in batch:
            result["capacity"] = torch.where(batch["has_capacity"], batch["capacity"], torch.nan)
        return result

    def on_train_epoch_end(self) -> None:
        self._epoch_end("train")

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    def on_fit_start(self) -> None:
        super().on_fit_start()
        # A validate or test run before fit leaves metric states created in inference mode,
        # which fit's validation (no_grad only) cannot update in place: start afresh.
        for stage in STAGES:
            self._reset(stage)
        self._write_hparams()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Checkpoints written before the conformal intervals existed load uncalibrated;
        before `TaskLosses`, the target scales were the task's own buffer."""
        state = checkpoint["state_dict"]
        state.setdefault("intervals.quantiles", self.intervals.quantiles)
        if "target_scales" in state:
            state["losses.target_scales"] = state.pop("target_scales")

    def on_test_start(self) -> None:
        self._write_hparams()

    def _write_hparams(self) -> None:
        names = [*self.stage_metrics["val_"].names(), *(f"loss_{t}" for t in self.tasks),
                 "selection_loss"]  # fmt: skip
        self.write_hparams([f"{stage}/{name}" for stage in ("val", "test") for name in names])

    # ------------------------------------------------------------------ epoch summaries
    def _epoch_end(self, stage: str) -> None:
        metrics = self.stage_metrics[f"{stage}_"]
        if self.trainer.sanity_checking:  # a few batches before training: no record
            self._reset(stage)
            return
        values = metrics.compute()
        counts = metrics.labelled_counts()
        weighted, labels = 0.0, 0
        for task, mean in self.stage_losses[f"{stage}_"].items():
            loss = mean.compute()
            if torch.isfinite(loss) and counts[task] > 0:
                values[f"loss_{task}"] = loss
                weighted, labels = weighted + counts[task] * float(loss), labels + counts[task]
        if labels:
            values["selection_loss"] = torch.tensor(weighted / labels)
        if stage != "train" and self.intervals.specs:
            cases = {t: self.gather(self.intervals.collected(t))[0] for t in self.intervals.cases}
            if stage == "val":  # the checkpoint chosen on validation keeps this calibration
                self.intervals.calibrate(cases)
            else:
                values.update({k: torch.tensor(v) for k, v in self.intervals.scores(cases).items()})
                self._log_interval_figures(cases)
        for name, value in values.items():
            self.log(f"{stage}/{name}", value, sync_dist=True)  # equal on all ranks
        if stage != "train":
            self.final_metrics.update({f"{stage}/{k}": float(v) for k, v in values.items()})
            self._log_figures(stage, metrics.confusion_matrices())  # synchronises: every rank
        self._reset(stage)

    def _reset(self, stage: str) -> None:
        self.stage_metrics[f"{stage}_"].reset()
        for mean in self.stage_losses[f"{stage}_"].values():
            mean.reset()
        self.examples[stage].reset()
        if stage != "train":
            self.intervals.reset()

    def _log_interval_figures(self, cases: Mapping[str, torch.Tensor]) -> None:
        if self.tensorboard() is not None and self.hparams.figure_examples:
            for tag, figure in self.intervals.figures(cases).items():
                self.log_figure(f"test/{tag}", figure)

    def _log_figures(self, stage: str, confusions: Mapping[str, torch.Tensor]) -> None:
        if self.tensorboard() is None or not self.hparams.figure_examples:
            return
        for tag, figure in epoch_figures(self.specs, confusions, self.examples[stage],
                                         self.bands).items():  # fmt: skip
            self.log_figure(f"{stage}/{tag}", figure)
