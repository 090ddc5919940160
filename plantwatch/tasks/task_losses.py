"""`TaskLosses`: every selected task's loss on a batch, with what each loss learns from the
training split before a fit — the standard deviation of each regression target (the
loss's scale) and the class weights of the weighted segmentation tasks — in buffers, so a
checkpoint computes the losses it was trained with. The loss functions are those of
``losses.py``; combining the terms is `LossWeighting`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from plantwatch.data.format.statistics import Statistics
from plantwatch.data.loading.contract import SampleDataset
from plantwatch.task_registry import TaskSpec
from plantwatch.tasks.class_weights import ClassWeighting, ClassWeights
from plantwatch.tasks.intervals import sigma_key
from plantwatch.tasks.losses import (
    RegressionLoss,
    SegmentationLoss,
    Uncertainty,
    spread_loss,
    task_loss,
)


class TaskLosses(nn.Module):
    """Per-task losses (arguments: see `MultiTaskTask`, which takes them as its own).

    Args:
        specs: the trained tasks.
        dice_weight, segmentation_loss, class_weighting, max_class_weight_ratio, focal_gamma:
            of the segmentation tasks.
        regression_loss, huber_delta, uncertainty: of the regression tasks.
    """

    def __init__(
        self,
        specs: Sequence[TaskSpec],
        dice_weight: float = 0.5,
        segmentation_loss: Mapping[str, SegmentationLoss] | None = None,
        class_weighting: Mapping[str, ClassWeighting] | None = None,
        max_class_weight_ratio: float | None = None,
        focal_gamma: float = 2.0,
        regression_loss: RegressionLoss = "huber",
        huber_delta: float = 0.1,
        uncertainty: Uncertainty = "none",
    ) -> None:
        super().__init__()
        self.specs = tuple(specs)
        dense = {s.name for s in self.specs if s.dense}
        wrong = sorted(set(segmentation_loss or {}) - dense)
        if wrong:
            raise ValueError(f"segmentation_loss for {wrong}: not a trained segmentation task "
                             f"({sorted(dense)})")  # fmt: skip
        self.segmentation = dict(segmentation_loss or {})
        self.dice_weight, self.focal_gamma = dice_weight, focal_gamma
        self.regression, self.huber_delta, self.uncertainty = (
            regression_loss, huber_delta, uncertainty)  # fmt: skip
        regression = [s for s in self.specs if s.kind == "regression"]
        self.regression_tasks = tuple(s.name for s in regression)
        self.register_buffer("target_scales", torch.tensor([s.scale for s in regression]))
        self.class_weights = ClassWeights(self.specs, class_weighting or {}, max_class_weight_ratio)

    def set_scales(self, statistics: Statistics) -> None:
        """Regression losses in units of the training split's standard deviation."""
        for i, name in enumerate(self.regression_tasks):
            target = next(s.target for s in self.specs if s.name == name)
            if target in statistics.std and statistics.std[target] > 0:
                self.target_scales[i] = float(statistics.std[target])

    def scale(self, task: str) -> float:
        """Divisor of a regression task's errors in its loss (training std, in its unit)."""
        return float(self.target_scales[self.regression_tasks.index(task)])

    @property
    def counted(self) -> bool:
        """Whether the class weights are known (counted, from a checkpoint, or none)."""
        return bool(self.class_weights.counted)

    def count_classes(self, train: SampleDataset, progress: bool = True) -> None:
        """The class weights from the (unaugmented) training split."""
        self.class_weights.count(train, progress)

    def forward(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Each task's loss over the samples that carry its label (zero when none do), its
        spread's negative log-likelihood added where the model predicts one."""
        losses = {
            s.name: task_loss(
                s, outputs[s.name], batch,
                scale=self.scale(s.name) if s.kind == "regression" else 1.0,
                dice_weight=self.dice_weight, regression=self.regression,
                huber_delta=self.huber_delta,
                segmentation=self.segmentation.get(s.name, "cross_entropy"),
                class_weights=self.class_weights.get(s.name), focal_gamma=self.focal_gamma,
            )
            for s in self.specs
        }  # fmt: skip
        for s in self.specs:
            if sigma_key(s.name) in outputs:
                losses[s.name] = losses[s.name] + spread_loss(
                    outputs[sigma_key(s.name)], outputs[s.name], batch[s.target], batch[s.flag],
                    self.scale(s.name), self.uncertainty,
                )  # fmt: skip
        return losses
