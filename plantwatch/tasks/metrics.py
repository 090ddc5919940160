"""Honest metrics per task, by the task's kind, accumulated over an epoch with torchmetrics.

Binary segmentation (plume): IoU and F1 over *all labelled pixels of all labelled images* —
images without a plume count, so false alarms on empty scenes are punished; image-level
detection precision and recall, where truth and prediction follow one rule (an image holds a
plume when at least ``detection_min_pixels`` of its labelled pixels are plume: fewer is
below what a 10 m sensor resolves as a plume, for the label as for the model); and, under
its own name, the optimistic IoU of the earlier papers, averaged only over images where
prediction and truth are both non-empty. Multiclass segmentation: IoU per class and mIoU
over the classes that occur (in the truth or the prediction: a class absent from both has no
IoU, and is not averaged in as 0 or 1), and pixel accuracy, all from one confusion matrix.
Classification: accuracy, macro-F1 and the confusion matrix; for a class that is the plant's
(``TaskSpec.per_plant``: fuel) also per plant, from the probabilities pooled over all the
plant's observations in the split (``tasks/plant_metrics.py``). Multilabel: macro- and
micro-F1, and mean average precision over the classes with a positive sample. Composition:
MAE and RMSE of the fractions in percentage points, R² (variance-weighted over classes).
Regression: MAE, RMSE and R² in the task's unit.

Only samples that carry a label update that task's metrics; a metric without any labelled
sample in the epoch is not reported (rather than reported as 0).
"""

from __future__ import annotations

import warnings
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
    MultilabelAveragePrecision,
    MultilabelF1Score,
)
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score

from plantwatch.task_registry import SEGMENTATION_IGNORE, TASKS, TaskSpec
from plantwatch.tasks.plant_metrics import PlantPooledClassification

# Metric suffix → (label, higher is better); regression suffixes carry the unit tag.
_SUFFIXES: dict[str, tuple[str, bool]] = {
    "iou": ("IoU (all pixels)", True),
    "f1": ("F1 (all pixels)", True),
    "detection_precision": ("detection precision (images)", True),
    "detection_recall": ("detection recall (images)", True),
    "iou_both_nonempty": ("IoU per image, both non-empty (earlier papers)", True),
    "miou": ("mIoU (classes that occur)", True),
    "pixel_accuracy": ("pixel accuracy", True),
    "accuracy": ("accuracy", True),
    "macro_f1": ("macro-F1", True),
    "plant_accuracy": ("accuracy per plant (pooled over its images)", True),
    "plant_macro_f1": ("macro-F1 per plant (pooled over its images)", True),
    "micro_f1": ("micro-F1", True),
    "map": ("mean average precision (classes that occur)", True),
    "r2": ("R²", True),
}

# Per-plant annual and monthly totals of a run's test plants (``estimates/report.py``):
# suffix after ``annual_``/``monthly_`` → (label, higher is better).
_PERIODIC: dict[str, tuple[str, bool]] = {
    "rmse_twh": ("RMSE (TWh)", False),
    "mae_twh": ("MAE (TWh)", False),
    "bias_twh": ("bias (TWh)", False),
    "rmse_mt": ("RMSE (Mt)", False),
    "mae_mt": ("MAE (Mt)", False),
    "bias_mt": ("bias (Mt)", False),
    "median_rel_error": ("median relative error", False),
    "mean_rel_difference": ("mean relative difference", False),
    "sd_rel_difference": ("std of the relative difference", False),
    "coverage": ("interval coverage", True),
    "interval_width_twh": ("mean interval width (TWh)", False),
    "interval_width_mt": ("mean interval width (Mt)", False),
}


def task_of(metric: str) -> str:
    """The registered task a metric belongs to (the longest matching name):
    ``land_cover_iou_cropland`` → ``land_cover``; "" for none."""
    return max((t for t in TASKS if metric.startswith(f"{t}_")), key=len, default="")


# The metrics that the commands print (the rest, per class, per period and of the
# intervals, are in TensorBoard): suffixes after ``<task>_``, besides ``mae_<unit>``.
_HEADLINE = ("iou", "f1", "detection_precision", "detection_recall", "miou", "pixel_accuracy",
             "accuracy", "macro_f1", "plant_accuracy", "map", "r2")  # fmt: skip


def is_headline_metric(name: str) -> bool:
    """Whether a command prints the metric ``name`` (``plume_iou``, ``power_mae_mw``)."""
    task = task_of(name)
    suffix = name[len(task) + 1 :]
    return bool(task) and (suffix in _HEADLINE or suffix == f"mae_{TASKS[task].unit_tag}")


def describe_metric(name: str) -> tuple[str, bool]:
    """Label with unit and direction of a reported metric: ``power_mae_mw`` → (``power MAE
    (MW)``, False). Raises KeyError for a name of no registered task."""
    task = task_of(name)
    if task:
        spec = TASKS[task]
        suffix = name[len(spec.name) + 1 :]
        for error in ("mae", "rmse"):
            if suffix == f"{error}_{spec.unit_tag}":
                return f"{spec.display} {error.upper()} ({spec.unit})", False
        word, _, rest = suffix.partition("_")
        if word in ("annual", "monthly") and rest in _PERIODIC:
            label, higher = _PERIODIC[rest]
            return f"{spec.display} {word} {label}", higher
        if suffix == f"interval_width_{spec.unit_tag}":
            return f"{spec.display} conformal interval width ({spec.unit})", False
        if suffix.startswith("coverage"):  # closer to the nominal level is better
            level = suffix.removeprefix("coverage").lstrip("_")
            return (
                f"{spec.display} interval coverage ({f'{level} %' if level else 'nominal'} level)",
                True,
            )
        if suffix in _SUFFIXES:
            label, higher = _SUFFIXES[suffix]
            return f"{spec.display} {label}", higher
        if suffix.startswith("iou_") and suffix[4:] in spec.classes:
            return f"{spec.display} IoU of {suffix[4:].replace('_', ' ')}", True
    raise KeyError(f"no registered task reports a metric named {name!r}")


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
        valid = mask != SEGMENTATION_IGNORE
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


class PresentClassMeanAP(MultilabelAveragePrecision):
    """Multi-label mean average precision over the classes with at least one positive
    sample: torchmetrics scores a class without positives as 0, which is no measurement."""

    def __init__(self, num_labels: int) -> None:
        super().__init__(num_labels, average="none", thresholds=None)
        self.add_state("positives", torch.zeros(num_labels), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """preds: logits [B, C]; target: 0/1 [B, C]."""
        super().update(preds, target)
        self.positives += target.sum(dim=0)

    def compute(self) -> torch.Tensor:
        present = self.positives > 0
        if not present.any():
            return torch.tensor(float("nan"))
        with warnings.catch_warnings():  # about the classes without positives, dropped here
            warnings.filterwarnings("ignore", "No positive samples", UserWarning)
            return super().compute()[present].mean()


def segmentation_scores(confusion: torch.Tensor, classes: Sequence[str]) -> dict[str, torch.Tensor]:
    """IoU per class (classes that occur in truth or prediction), their mean and the pixel
    accuracy from a confusion matrix [C, C] (rows: truth), keyed by metric suffix."""
    confusion = confusion.double()
    hits = confusion.diagonal()
    union = confusion.sum(dim=0) + confusion.sum(dim=1) - hits
    occurs = union > 0
    iou = hits / union.clamp_min(1)
    scores = {f"iou_{c}": iou[i].float() for i, c in enumerate(classes) if occurs[i]}
    scores["miou"] = iou[occurs].mean().float() if occurs.any() else torch.tensor(float("nan"))
    scores["pixel_accuracy"] = (hits.sum() / confusion.sum().clamp_min(1)).float()
    return scores


def _collection(spec: TaskSpec) -> MetricCollection:
    """The torchmetrics of one task, keyed by metric suffix."""
    ignore = SEGMENTATION_IGNORE
    n = len(spec.classes)
    if spec.kind == "binary_segmentation":
        metrics: dict[str, Metric] = {
            "iou": BinaryJaccardIndex(ignore_index=ignore),
            "f1": BinaryF1Score(ignore_index=ignore),
            "iou_both_nonempty": BothNonEmptyIoU(),
            "detection_precision": BinaryPrecision(),
            "detection_recall": BinaryRecall(),
        }
    elif spec.kind == "multiclass_segmentation":
        metrics = {"confusion": MulticlassConfusionMatrix(n, ignore_index=ignore)}
    elif spec.kind == "multiclass":
        metrics = {
            "accuracy": MulticlassAccuracy(n, average="micro"),
            "macro_f1": MulticlassF1Score(n, average="macro"),
        }
    elif spec.kind == "multilabel":
        metrics = {
            "macro_f1": MultilabelF1Score(n, average="macro"),
            "micro_f1": MultilabelF1Score(n, average="micro"),
            "map": PresentClassMeanAP(n),
        }
    elif spec.kind == "composition":
        metrics = {
            f"mae_{spec.unit_tag}": MeanAbsoluteError(),
            f"rmse_{spec.unit_tag}": MeanSquaredError(squared=False),
            "r2": R2Score(multioutput="variance_weighted"),
        }
    else:
        metrics = {
            f"mae_{spec.unit_tag}".rstrip("_"): MeanAbsoluteError(),
            f"rmse_{spec.unit_tag}".rstrip("_"): MeanSquaredError(squared=False),
            "r2": R2Score(),
        }
    return MetricCollection(metrics, compute_groups=False)


class TaskMetrics(nn.Module):
    """The metrics of the selected tasks for one stage (train, val or test).

    Args:
        specs: the tasks.
        detection_min_pixels: labelled plume pixels that make an image hold a plume, in the
            truth and in the prediction alike (binary segmentation tasks).
    """

    def __init__(self, specs: Sequence[TaskSpec], detection_min_pixels: int = 10) -> None:
        super().__init__()
        self.specs = tuple(specs)
        self.detection_min_pixels = detection_min_pixels
        self.collections = nn.ModuleDict({s.name: _collection(s) for s in self.specs})
        self.confusions = nn.ModuleDict(
            {
                s.name: MulticlassConfusionMatrix(len(s.classes))
                for s in self.specs
                if s.kind == "multiclass"
            }
        )
        self.plant_metrics = nn.ModuleDict(
            {
                s.name: PlantPooledClassification(len(s.classes))
                for s in self.specs
                if s.kind == "multiclass" and s.per_plant
            }
        )
        self.counts = {s.name: 0 for s in self.specs}

    def names(self) -> list[str]:
        """Names of all metrics this object can report (``plume_iou``, ``power_r2`` …)."""
        names = []
        for spec in self.specs:
            if spec.kind == "multiclass_segmentation":
                suffixes = ["miou", "pixel_accuracy", *(f"iou_{c}" for c in spec.classes)]
            else:
                suffixes = list(self.collections[spec.name])
            if spec.name in self.plant_metrics:
                suffixes += ["plant_accuracy", "plant_macro_f1"]
            names += [f"{spec.name}_{m}" for m in suffixes]
        return names

    def update(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> None:
        """Add a batch: model ``outputs`` (logits or values) and the batch's targets and flags."""
        for spec in self.specs:
            present = batch[spec.flag]
            if spec.name in self.plant_metrics and "plant_id" in batch:
                self.plant_metrics[spec.name].update(outputs[spec.name], batch[spec.target],
                                                     present, batch["plant_id"])  # fmt: skip
            if not present.any():
                continue
            self.counts[spec.name] += int(present.sum())
            prediction = outputs[spec.name][present].detach().float()
            target = batch[spec.target][present]
            metrics = self.collections[spec.name]
            if spec.kind == "binary_segmentation":
                predicted = prediction > 0
                metrics["iou"].update(predicted.long(), target)
                metrics["f1"].update(predicted.long(), target)
                metrics["iou_both_nonempty"].update(predicted, target)
                valid = target != SEGMENTATION_IGNORE
                pixels = self.detection_min_pixels
                detected = (predicted & valid).sum(dim=(1, 2)) >= pixels
                plume = ((target == 1) & valid).sum(dim=(1, 2)) >= pixels
                metrics["detection_precision"].update(detected.long(), plume.long())
                metrics["detection_recall"].update(detected.long(), plume.long())
            elif spec.kind == "multilabel":
                metrics.update(prediction, target.long())
            elif spec.kind == "composition":
                percent, truth = prediction.softmax(dim=1) * 100, target.float() * 100
                for name, metric in metrics.items():
                    if name == "r2":
                        metric.update(percent, truth)
                    else:
                        metric.update(percent.flatten(), truth.flatten())
            elif spec.kind == "regression":
                metrics.update(prediction, target.float())
            else:
                metrics.update(prediction, target)
                if spec.name in self.confusions:
                    self.confusions[spec.name].update(prediction, target)

    def labelled_counts(self) -> dict[str, int]:
        """Labelled samples per task, summed over all processes (so all ranks agree)."""
        names = [s.name for s in self.specs]
        counts = torch.tensor([self.counts[n] for n in names], dtype=torch.long)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            if torch.distributed.get_backend() == "nccl":
                counts = counts.cuda()
            torch.distributed.all_reduce(counts)
        return dict(zip(names, counts.tolist(), strict=True))

    def compute(self) -> dict[str, torch.Tensor]:
        """Metric values by name (``plume_iou``, ``power_mae_mw`` …) of tasks with labels."""
        values: dict[str, torch.Tensor] = {}
        counts = self.labelled_counts()
        for spec in self.specs:
            if counts[spec.name] == 0:
                continue
            for name, metric in self.collections[spec.name].items():
                if name == "r2" and counts[spec.name] < 2:
                    continue
                if name == "confusion":
                    scores = segmentation_scores(metric.compute(), spec.classes)
                    values.update({f"{spec.name}_{k}": v for k, v in scores.items()})
                else:
                    values[f"{spec.name}_{name}"] = metric.compute()
            if spec.name in self.plant_metrics and self.plant_metrics[spec.name].update_called:
                scores = self.plant_metrics[spec.name].compute()
                values.update({f"{spec.name}_{k}": v for k, v in scores.items()})
        return values

    def confusion_matrices(self) -> dict[str, torch.Tensor]:
        """Confusion matrix [C, C] (rows: truth) of each classification task with labels."""
        counts = self.labelled_counts()
        return {
            name: matrix.compute() for name, matrix in self.confusions.items() if counts[name] > 0
        }

    def reset(self) -> None:
        """Start a new epoch."""
        for collection in self.collections.values():
            collection.reset()
        for metric in (*self.confusions.values(), *self.plant_metrics.values()):
            metric.reset()
        self.counts = {s.name: 0 for s in self.specs}
