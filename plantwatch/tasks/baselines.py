"""Trivial baselines that every model must beat, scored with the same metrics.

Predict-the-mean: the training split's mean MW and t/h for every observation, its most
frequent fuel, and no plume anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch

from plantwatch import physics
from plantwatch.tasks.metrics import TaskMetrics


def mean_baseline_metrics(
    train: pd.DataFrame, batches: Iterable[Mapping[str, torch.Tensor]], tasks: Sequence[str]
) -> dict[str, float]:
    """Metrics of predict-the-mean on ``batches`` (e.g. the test loader).

    Args:
        train: the training observations (columns ``generation_mw``, ``co2_t_per_h``, ``fuel``).
        batches: batches with the targets and presence flags of the sample dict.
        tasks: the tasks to score.
    """
    power = float(train["generation_mw"].mean())
    co2 = float(train["co2_t_per_h"].mean())
    known = train.loc[train["fuel"] >= 0, "fuel"]
    majority = int(known.mode().iloc[0]) if len(known) else 0
    metrics = TaskMetrics(tasks, physics.NUM_FUELS)
    for batch in batches:
        size = len(batch["fuel"])
        fuel_logits = torch.full((size, physics.NUM_FUELS), -10.0)
        fuel_logits[:, majority] = 10.0
        outputs = {
            "plume": torch.full(batch["mask"].shape, -10.0),
            "fuel": fuel_logits,
            "power": torch.full((size,), power),
            "co2": torch.full((size,), co2),
        }
        metrics.update(outputs, batch)
    return {name: float(value) for name, value in metrics.compute().items()}
