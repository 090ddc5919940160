"""Trivial baselines that every model must beat, scored with the same metrics.

Predict-the-mean: the training split's mean MW and t/h for every observation, its most
frequent fuel, and no plume anywhere. With ``use_capacity`` power is instead the plant's
capacity × the training split's mean load factor and CO₂ that power × the mean t CO₂ per
MWh — the fair reference once the model sees capacity, as ours does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch

from plantwatch import physics
from plantwatch.tasks.metrics import TaskMetrics


def mean_baseline_metrics(
    train: pd.DataFrame,
    batches: Iterable[Mapping[str, torch.Tensor]],
    tasks: Sequence[str],
    use_capacity: bool = False,
) -> dict[str, float]:
    """Metrics of predict-the-mean on ``batches`` (e.g. the test loader).

    Args:
        train: the training observations (columns ``generation_mw``, ``co2_t_per_h``,
            ``capacity_mw``, ``fuel``).
        batches: batches with the targets and presence flags of the sample dict.
        tasks: the tasks to score.
        use_capacity: predict capacity × mean load factor where the capacity is known.
    """
    power = float(train["generation_mw"].mean())
    co2 = float(train["co2_t_per_h"].mean())
    load_factor = float((train["generation_mw"] / train["capacity_mw"]).mean())
    running = train["generation_mw"] > 0
    co2_per_mwh = float(
        train.loc[running, "co2_t_per_h"].sum() / train.loc[running, "generation_mw"].sum()
    )
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
        if use_capacity:
            known = batch["has_capacity"]
            outputs["power"] = torch.where(known, batch["capacity"] * load_factor, outputs["power"])
            outputs["co2"] = torch.where(known, outputs["power"] * co2_per_mwh, outputs["co2"])
        metrics.update(outputs, batch)
    return {name: float(value) for name, value in metrics.compute().items()}
