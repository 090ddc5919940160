"""`PlantPooledClassification`: accuracy and macro-F1 of a plant-level class (fuel) per plant.

Every observation of a plant in the split being scored adds its class log-probabilities,
labelled or not; a plant's answer is the class of the mean (``estimates/plant_fuel.py``) and
its truth the most frequent label among its labelled observations. Plants without a label are
not scored. States are concatenated across processes, so every rank scores every plant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score
from torchmetrics.utilities import dim_zero_cat

from plantwatch.estimates.plant_fuel import pooled_log_probs


def plant_code(plant_id: str) -> int:
    """A stable 56-bit integer for a plant id (tensors carry no strings across processes)."""
    return int.from_bytes(hashlib.blake2b(plant_id.encode(), digest_size=7).digest(), "big")


class PlantPooledClassification(Metric):
    """Per-plant accuracy and macro-F1 of a multiclass task whose class is the plant's.

    Args:
        num_classes: classes of the task.
    """

    full_state_update = False

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.add_state("plants", default=[], dist_reduce_fx="cat")
        self.add_state("log_probs", default=[], dist_reduce_fx="cat")
        self.add_state("targets", default=[], dist_reduce_fx="cat")

    def update(
        self, logits: torch.Tensor, target: torch.Tensor, labelled: torch.Tensor,
        plant_ids: Sequence[str],
    ) -> None:  # fmt: skip
        """Add a batch: ``logits`` [B, C], ``target`` long [B], ``labelled`` bool [B] and the
        samples' plant ids [B]."""
        codes = torch.tensor([plant_code(str(p)) for p in plant_ids], dtype=torch.int64)
        self.plants.append(codes.to(logits.device))
        self.log_probs.append(logits.detach().float().log_softmax(dim=1))
        self.targets.append(torch.where(labelled, target, -1))

    def compute(self) -> dict[str, torch.Tensor]:
        """``plant_accuracy`` and ``plant_macro_f1`` over the labelled plants (NaN: none)."""
        nan = torch.tensor(float("nan"))
        if isinstance(self.plants, list) and not self.plants:  # a list until synchronised
            return {"plant_accuracy": nan, "plant_macro_f1": nan}
        codes = dim_zero_cat(self.plants).cpu().numpy()
        targets = dim_zero_cat(self.targets).cpu().numpy()
        plants, pooled = pooled_log_probs(codes, dim_zero_cat(self.log_probs).cpu().numpy())
        truth = np.full(len(plants), -1)
        for i, plant in enumerate(plants):
            labels = targets[(codes == plant) & (targets >= 0)]
            if labels.size:
                truth[i] = np.bincount(labels, minlength=self.num_classes).argmax()
        scored = truth >= 0
        if not scored.any():
            return {"plant_accuracy": nan, "plant_macro_f1": nan}
        predicted = torch.from_numpy(pooled[scored].argmax(axis=1))
        true = torch.from_numpy(truth[scored])
        n = self.num_classes
        return {
            "plant_accuracy": multiclass_accuracy(predicted, true, n, average="micro"),
            "plant_macro_f1": multiclass_f1_score(predicted, true, n, average="macro"),
        }
