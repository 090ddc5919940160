"""Honest metrics per task, accumulated over an epoch with torchmetrics.

Plume: IoU and F1 over *all labelled pixels of all labelled images* — images without a
plume count, so false alarms on empty scenes are punished; image-level detection precision
and recall (an image is detected when at least ``detection_min_pixels`` pixels are
predicted); and, under its own name, the optimistic IoU of the earlier papers, averaged only
over images where prediction and truth are both non-empty. Fuel: accuracy, macro-F1 and the
confusion matrix. Power and CO₂: MAE, RMSE and R² in MW and t/h.

Only samples that carry a label update that task's metrics; a metric without any labelled
sample in the epoch is not reported (rather than reported as 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score

from plantwatch.data.sample import MASK_UNLABELLED, TASK_FLAGS, TASK_TARGETS

# Reported metrics: name → (label with unit, whether higher is better).
METRIC_LABELS: dict[str, tuple[str, bool]] = {
    "plume_iou": ("plume IoU (all pixels)", True),
    "plume_f1": ("plume F1 (all pixels)", True),
    "plume_detection_precision": ("plume detection precision (images)", True),
    "plume_detection_recall": ("plume detection recall (images)", True),
    "plume_iou_both_nonempty": ("plume IoU per image, both non-empty (earlier papers)", True),
    "fuel_accuracy": ("fuel accuracy", True),
    "fuel_macro_f1": ("fuel macro-F1", True),
    "power_mae_mw": ("power MAE (MW)", False),
    "power_rmse_mw": ("power RMSE (MW)", False),
    "power_r2": ("power R²", True),
    "co2_mae_t_per_h": ("CO₂ MAE (t/h)", False),
    "co2_rmse_t_per_h": ("CO₂ RMSE (t/h)", False),
    "co2_r2": ("CO₂ R²", True),
}


class BothNonEmptyIoU(Metric):
    """Mean per-image IoU over images whose prediction and truth both hold plume pixels.

    This is how earlier plume papers averaged IoU; it ignores every false alarm on an empty
    scene and every missed plume, so it is optimistic. Reported for comparison only.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("iou_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("images", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, predicted: torch.Tensor, mask: torch.Tensor) -> None:
        """predicted: bool [B, H, W]; mask: [B, H, W] with 0/1/255."""
        valid = mask != MASK_UNLABELLED
        truth = (mask == 1) & valid
        predicted = predicted & valid
        intersection = (predicted & truth).sum(dim=(1, 2))
        union = (predicted | truth).sum(dim=(1, 2))
        both = predicted.any(dim=(1, 2)) & truth.any(dim=(1, 2))
        self.iou_sum += (intersection[both] / union[both]).sum().double()
        self.images += both.sum()

    def compute(self) -> torch.Tensor:
        if self.images == 0:
            return torch.tensor(float("nan"))
        return (self.iou_sum / self.images).float()


def _regression(unit: str) -> MetricCollection:
    return MetricCollection(
        {
            f"mae_{unit}": MeanAbsoluteError(),
            f"rmse_{unit}": MeanSquaredError(squared=False),
            "r2": R2Score(),
        }
    )


class TaskMetrics(nn.Module):
    """The metrics of the selected tasks for one stage (train, val or test).

    Args:
        tasks: task names.
        num_fuels: fuel classes.
        detection_min_pixels: predicted plume pixels that make an image a detection.
    """

    def __init__(
        self, tasks: Sequence[str], num_fuels: int, detection_min_pixels: int = 10
    ) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        self.detection_min_pixels = detection_min_pixels
        self.collections = nn.ModuleDict()
        if "plume" in tasks:
            self.collections["plume"] = MetricCollection(
                {
                    "iou": BinaryJaccardIndex(ignore_index=MASK_UNLABELLED),
                    "f1": BinaryF1Score(ignore_index=MASK_UNLABELLED),
                    "iou_both_nonempty": BothNonEmptyIoU(),
                },
                compute_groups=False,
            )
            self.collections["detection"] = MetricCollection(
                {"detection_precision": BinaryPrecision(), "detection_recall": BinaryRecall()}
            )
        if "fuel" in tasks:
            self.collections["fuel"] = MetricCollection(
                {
                    "accuracy": MulticlassAccuracy(num_fuels, average="micro"),
                    "macro_f1": MulticlassF1Score(num_fuels, average="macro"),
                }
            )
            self.confusion = MulticlassConfusionMatrix(num_fuels)
        if "power" in tasks:
            self.collections["power"] = _regression("mw")
        if "co2" in tasks:
            self.collections["co2"] = _regression("t_per_h")
        self.counts = dict.fromkeys(self.tasks, 0)

    def names(self) -> list[str]:
        """Names of all metrics this object can report (``plume_iou``, ``power_r2`` …)."""
        names = []
        for task in self.tasks:
            groups = ("plume", "detection") if task == "plume" else (task,)
            names += [f"{task}_{name}" for group in groups for name in self.collections[group]]
        return names

    def update(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> None:
        """Add a batch: model ``outputs`` (logits, MW, t/h) and the batch's targets and flags."""
        for task in self.tasks:
            present = batch[TASK_FLAGS[task]]
            if not present.any():
                continue
            self.counts[task] += int(present.sum())
            prediction = outputs[task][present].detach().float()
            target = batch[TASK_TARGETS[task]][present]
            if task == "plume":
                predicted = prediction > 0
                self.collections["plume"]["iou"].update(predicted.long(), target)
                self.collections["plume"]["f1"].update(predicted.long(), target)
                self.collections["plume"]["iou_both_nonempty"].update(predicted, target)
                valid = target != MASK_UNLABELLED
                detected = (predicted & valid).sum(dim=(1, 2)) >= self.detection_min_pixels
                self.collections["detection"].update(
                    detected.long(), ((target == 1) & valid).any(dim=(1, 2)).long()
                )
            elif task == "fuel":
                self.collections["fuel"].update(prediction, target)
                self.confusion.update(prediction, target)
            else:
                self.collections[task].update(prediction, target.float())

    def _labelled_counts(self) -> dict[str, int]:
        """Labelled samples per task, summed over all processes (so all ranks agree)."""
        counts = torch.tensor([self.counts[t] for t in self.tasks], dtype=torch.long)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            if torch.distributed.get_backend() == "nccl":
                counts = counts.cuda()
            torch.distributed.all_reduce(counts)
        return dict(zip(self.tasks, counts.tolist(), strict=True))

    def compute(self) -> dict[str, torch.Tensor]:
        """Metric values by name (``plume_iou``, ``power_mae_mw`` …) of tasks with labels."""
        values: dict[str, torch.Tensor] = {}
        counts = self._labelled_counts()
        for task in self.tasks:
            if counts[task] == 0:
                continue
            groups = ("plume", "detection") if task == "plume" else (task,)
            for group in groups:
                for name, metric in self.collections[group].items():
                    if name == "r2" and counts[task] < 2:
                        continue
                    values[f"{task}_{name}"] = metric.compute()
        return values

    def confusion_matrix(self) -> torch.Tensor | None:
        """Fuel confusion matrix [F, F] (rows: truth), or None without fuel labels."""
        if "fuel" not in self.tasks or self._labelled_counts()["fuel"] == 0:
            return None
        return self.confusion.compute()

    def reset(self) -> None:
        """Start a new epoch."""
        for collection in self.collections.values():
            collection.reset()
        if "fuel" in self.tasks:
            self.confusion.reset()
        self.counts = dict.fromkeys(self.tasks, 0)
