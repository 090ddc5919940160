"""Trivial baselines that every model must beat, scored with the same metrics.

Both predict no segment anywhere and, for every classification task, the training split's
most frequent class (per class for multilabel tasks), and the training split's mean class
fractions for composition tasks. For regression tasks,
``predict-the-mean`` uses the training split's mean; ``capacity × mean load factor`` is the
fair reference once the model sees capacity, as ours does: power = the plant's capacity ×
the training split's mean load factor, CO₂ = that power × the training split's t CO₂ per
MWh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from plantwatch.task_registry import TASKS, TaskSpec
from plantwatch.tasks.metrics import TaskMetrics, task_of
from plantwatch.tasks.plume_reference import REFERENCE_TASKS, TRUE_PLUME, true_plume_reference

MEAN = "predict-the-mean"
CAPACITY = "capacity × mean load factor"
CONFIDENT = 10.0  # logit of a certain prediction


def predicted_tasks(baseline: str) -> frozenset[str]:
    """The tasks ``baseline`` predicts: its scores on the others (a plume IoU of 0 from
    predicting no plume, the capacity baseline's copy of the mean's fuel) say nothing and
    are not reported. A name of no baseline here (a plant-period estimate): every task."""
    if baseline == CAPACITY:
        return frozenset({"power", "co2"})
    if baseline == TRUE_PLUME:
        return frozenset(REFERENCE_TASKS)
    if baseline == MEAN:
        return frozenset(n for n, s in TASKS.items() if not s.dense)
    return frozenset(TASKS)


def predicted_scores(baseline: str, scores: Mapping[str, float]) -> dict[str, float]:
    """``scores`` of ``baseline`` on the tasks it predicts (`predicted_tasks`)."""
    tasks = predicted_tasks(baseline)
    return {k: v for k, v in scores.items() if task_of(k) in tasks}


def _constant_outputs(
    specs: Sequence[TaskSpec], train: pd.DataFrame, batch: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    size = len(batch["image"]) if "image" in batch else len(batch[specs[0].flag])
    outputs: dict[str, torch.Tensor] = {}
    for spec in specs:
        known = train.loc[train[spec.flag], spec.target] if spec.target in train else None
        if spec.kind.endswith("segmentation"):
            shape = batch[spec.target].shape
            if spec.kind == "multiclass_segmentation":
                shape = (shape[0], len(spec.classes), *shape[1:])
            outputs[spec.name] = torch.full(shape, -CONFIDENT)
        elif spec.kind == "multiclass":
            logits = torch.full((size, len(spec.classes)), -CONFIDENT)
            logits[:, int(known.mode().iloc[0]) if known is not None and len(known) else 0] = (
                CONFIDENT
            )
            outputs[spec.name] = logits
        elif spec.kind == "composition":
            mean = np.stack(known).mean(0) if known is not None and len(known) else 1.0
            share = torch.as_tensor(np.full(len(spec.classes), mean), dtype=torch.float32)
            outputs[spec.name] = torch.log(share.clamp_min(1e-6)).expand(size, -1)
        elif spec.kind == "multilabel":
            rate = np.stack(known).mean(0) if known is not None and len(known) else 0.0
            outputs[spec.name] = torch.where(
                torch.as_tensor(rate > 0.5).expand(size, len(spec.classes)), CONFIDENT, -CONFIDENT
            )
        else:
            outputs[spec.name] = torch.full(
                (size,), float(known.mean()) if known is not None else 0.0
            )
    return outputs


def baseline_metrics(
    train: pd.DataFrame, batches: Iterable[Mapping[str, torch.Tensor]], specs: Sequence[TaskSpec]
) -> dict[str, dict[str, float]]:
    """Metrics of both baselines on ``batches`` (e.g. the test loader), read once.

    Args:
        train: the training split's label table (``SampleDataset.labels()``: targets with
            their ``has_*`` flags, ``capacity`` for the capacity baseline).
        batches: batches with the targets and presence flags of the sample dict.
        specs: the tasks to score.

    Returns:
        ``{MEAN: {metric: value}, CAPACITY: {metric: value}}``.
    """
    by_capacity = {"power", "co2", "capacity"} <= set(train) and train["has_capacity"].any()
    if by_capacity:
        usable = train["has_power"] & train["has_capacity"] & (train["capacity"] > 0)
        load_factor = float((train.loc[usable, "power"] / train.loc[usable, "capacity"]).mean())
        running = train["has_co2"] & train["has_power"] & (train["power"] > 0)
        co2_per_mwh = float(train.loc[running, "co2"].sum() / train.loc[running, "power"].sum())
    metrics = {name: TaskMetrics(specs) for name in (MEAN, CAPACITY)}
    for batch in batches:
        mean = _constant_outputs(specs, train, batch)
        capacity = dict(mean)
        if by_capacity:
            has = batch["has_capacity"]
            power = batch["capacity"] * load_factor
            if "power" in mean:
                capacity["power"] = torch.where(has, power, mean["power"])
            if "co2" in mean:
                capacity["co2"] = torch.where(has, power * co2_per_mwh, mean["co2"])
        metrics[MEAN].update(mean, batch)
        metrics[CAPACITY].update(capacity, batch)
    names = (MEAN, CAPACITY) if by_capacity else (MEAN,)  # no capacity: the same as the mean
    return {
        name: predicted_scores(name, {k: float(v) for k, v in metrics[name].compute().items()})
        for name in names
    }


def datamodule_baselines(datamodule: Any, specs: Sequence[TaskSpec]) -> dict[str, dict[str, float]]:
    """The baselines of a `DataModule` (see :func:`baseline_metrics`), and the true-plume
    reference (``tasks/plume_reference.py``) where the data has plume masks: fitted on its
    training split, scored on its test split."""
    if "test" not in datamodule.datasets:
        datamodule.setup("test")
    train = datamodule.build(datamodule.train_split)
    batches = (datamodule.decode(b, "test") for b in datamodule.test_dataloader())
    scores = baseline_metrics(train.labels(), batches, specs)
    reference = true_plume_reference(train, datamodule.datasets["test"], specs)
    return {**scores, TRUE_PLUME: reference} if reference else scores
