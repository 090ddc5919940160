"""Class weights of a segmentation task from the pixel counts of its training split.

A rare class that covers a fraction of a percent of the training pixels never wins a pixel
under an unweighted loss (the ben-ge fusion study: wetland and built-up, IoU 0 in every
run). Weighting each pixel by its class's inverse frequency gives every class the same total
weight; the square root of it halves the emphasis on logarithmic scale. Weights are
normalised so that the mean weight over the training pixels is 1, so the loss keeps the
magnitude of the unweighted one. The task module computes them once, before training, from
the training split without augmentation, and keeps them in buffers: they travel in every
checkpoint, and a resumed or fine-tuned model weighs as it was trained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from tqdm.auto import tqdm

from plantwatch.data.loading.contract import SampleDataset
from plantwatch.errors import UserError
from plantwatch.task_registry import SEGMENTATION_IGNORE, TaskSpec

ClassWeighting = Literal["none", "inverse_frequency", "sqrt_inverse_frequency"]
EXPONENTS: dict[str, float] = {"inverse_frequency": 1.0, "sqrt_inverse_frequency": 0.5}


def class_pixel_counts(
    dataset: SampleDataset, targets: Mapping[str, tuple[str, int]], progress: bool = True
) -> dict[str, np.ndarray]:
    """Labelled pixels per class of each target, over the samples whose flag is set, in one
    pass over ``dataset``.

    Args:
        dataset: samples with each target [H, W] (class indices; 255 = unlabelled) and its
            flag (bool []).
        targets: sample key of each target → (its flag's key, its number of classes C; 2 for
            a binary mask: background, foreground).

    Returns:
        int64 [C] by target.
    """
    counts = {t: np.zeros(classes, np.int64) for t, (_, classes) in targets.items()}
    for index in tqdm(range(len(dataset)), desc="class pixels", unit="sample",
                      disable=not progress):  # fmt: skip
        sample = dataset[index]
        for target, (flag, classes) in targets.items():
            if not bool(sample[flag]):
                continue
            labels = np.asarray(sample[target]).ravel()
            labels = labels[labels != SEGMENTATION_IGNORE].astype(np.int64)
            if labels.size and labels.max() >= classes:
                raise ValueError(f"{target}: class index {labels.max()} in sample {index}, "
                                 f"but the task has {classes} classes")  # fmt: skip
            counts[target] += np.bincount(labels, minlength=classes)
    return counts


def class_weights(
    counts: Sequence[int] | np.ndarray, weighting: ClassWeighting, max_ratio: float | None = None
) -> np.ndarray:
    """Per-class loss weights from training pixel counts.

    ``inverse_frequency``: w_c ∝ 1 / n_c; ``sqrt_inverse_frequency``: w_c ∝ 1 / √n_c; ``none``:
    1. With ``max_ratio``, no class weighs more than ``max_ratio`` times the most common one
    (a class of 75 pixels among 900,000 would otherwise weigh 960 times an average pixel).
    Scaled so that Σ_c n_c·w_c = Σ_c n_c (the mean weight of a training pixel is 1). A class
    without training pixels gets weight 1: no training pixel carries it, and elsewhere it
    counts as much as an average pixel.

    Args:
        counts: pixels per class, [C].

    Returns:
        float32 [C].
    """
    n = np.asarray(counts, np.float64)
    if (n < 0).any() or n.sum() == 0:
        raise ValueError(f"class pixel counts {n.tolist()}: need non-negative counts, not all 0")
    weights = np.ones_like(n)
    if weighting != "none":
        seen = n > 0
        weights[seen] = n[seen] ** -EXPONENTS[weighting]
        if max_ratio is not None:
            weights[seen] = np.minimum(weights[seen], max_ratio * weights[seen].min())
        weights[seen] *= n.sum() / (n[seen] * weights[seen]).sum()
    return weights.astype(np.float32)


class ClassWeights(nn.Module):
    """The class weights of the segmentation tasks that are weighted, in buffers named by task
    ([C] each; binary: [2]), so they travel in checkpoints.

    Args:
        specs: the trained tasks.
        weighting: per segmentation task, its ``ClassWeighting`` (tasks not named: none).
        max_ratio: the largest weight of a class over that of the most common class (None:
            unbounded).
    """

    def __init__(self, specs: Sequence[TaskSpec], weighting: Mapping[str, ClassWeighting],
                 max_ratio: float | None = None) -> None:  # fmt: skip
        super().__init__()
        self.max_ratio = max_ratio
        dense = {s.name: s for s in specs if s.dense}
        wrong = sorted(set(weighting) - set(dense))
        if wrong:
            raise ValueError(f"class_weighting for {wrong}: only segmentation tasks that are "
                             f"trained can be weighted ({sorted(dense)})")  # fmt: skip
        self.weighting = {t: w for t, w in weighting.items() if w != "none"}
        self.specs = {t: dense[t] for t in self.weighting}
        for task, spec in self.specs.items():
            self.register_buffer(task, torch.ones(max(spec.num_outputs, 2)))
        self.register_buffer("counted", torch.tensor(not self.weighting))

    def get(self, task: str) -> torch.Tensor | None:
        """The weights of ``task``, or None where it is not weighted."""
        return getattr(self, task) if task in self.weighting else None

    def count(self, dataset: SampleDataset, progress: bool = True) -> None:
        """Count the classes of each weighted task in ``dataset`` (the training split,
        unaugmented) and set its weights."""
        targets = {s.target: (s.flag, len(getattr(self, t))) for t, s in self.specs.items()}
        counted = class_pixel_counts(dataset, targets, progress)
        for task, spec in self.specs.items():
            counts = counted[spec.target]
            if not counts.any():
                raise UserError(f"{task}: the training split has no labelled pixels to weigh "
                                f"its classes by; drop it from class_weighting")  # fmt: skip
            weights = getattr(self, task)
            weights.copy_(torch.from_numpy(class_weights(counts, self.weighting[task],
                                                         self.max_ratio)))  # fmt: skip
            rank_zero_info(f"{task} class weights ({self.weighting[task]}, from "
                           f"{counts.tolist()} training pixels): "
                           f"{[round(float(w), 3) for w in weights]}")  # fmt: skip
        self.counted.fill_(True)
