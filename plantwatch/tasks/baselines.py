"""Trivial baselines that every model must beat, scored with the same metrics.

Both predict the training split's most frequent fuel and no plume anywhere. For power and
CO₂, ``predict-the-mean`` uses the training split's mean MW and t/h; ``capacity × mean load
factor`` uses the plant's capacity × the training split's mean load factor and that power ×
the mean t CO₂ per MWh — the fair reference once the model sees capacity, as ours does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch

from plantwatch import physics
from plantwatch.tasks.metrics import TaskMetrics

MEAN = "predict-the-mean"
CAPACITY = "capacity × mean load factor"


def baseline_metrics(
    train: pd.DataFrame, batches: Iterable[Mapping[str, torch.Tensor]], tasks: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Metrics of both baselines on ``batches`` (e.g. the test loader), read once.

    Args:
        train: the training observations (columns ``generation_mw``, ``co2_t_per_h``,
            ``capacity_mw``, ``fuel``).
        batches: batches with the targets and presence flags of the sample dict.
        tasks: the tasks to score.

    Returns:
        ``{MEAN: {metric: value}, CAPACITY: {metric: value}}``.
    """
    power = float(train["generation_mw"].mean())
    co2 = float(train["co2_t_per_h"].mean())
    load_factor = float((train["generation_mw"] / train["capacity_mw"]).mean())
    running = train["generation_mw"] > 0
    co2_per_mwh = float(
        train.loc[running, "co2_t_per_h"].sum() / train.loc[running, "generation_mw"].sum()
    )
    fuels = train.loc[train["fuel"] >= 0, "fuel"]
    majority = int(fuels.mode().iloc[0]) if len(fuels) else 0
    metrics = {name: TaskMetrics(tasks, physics.NUM_FUELS) for name in (MEAN, CAPACITY)}
    for batch in batches:
        size = len(batch["fuel"])
        fuel_logits = torch.full((size, physics.NUM_FUELS), -10.0)
        fuel_logits[:, majority] = 10.0
        mean = {
            "plume": torch.full(batch["mask"].shape, -10.0),
            "fuel": fuel_logits,
            "power": torch.full((size,), power),
            "co2": torch.full((size,), co2),
        }
        by_capacity = torch.where(
            batch["has_capacity"], batch["capacity"] * load_factor, mean["power"]
        )
        capacity = {
            **mean,
            "power": by_capacity,
            "co2": torch.where(batch["has_capacity"], by_capacity * co2_per_mwh, mean["co2"]),
        }
        metrics[MEAN].update(mean, batch)
        metrics[CAPACITY].update(capacity, batch)
    return {name: {k: float(v) for k, v in m.compute().items()} for name, m in metrics.items()}
