import math

import pytest
import torch

from plantwatch.task_registry import get_tasks
from plantwatch.tasks.metrics import TaskMetrics, describe_metric
from plantwatch.tasks.plant_metrics import PlantPooledClassification, plant_code


def logits(*probabilities: list[float]) -> torch.Tensor:
    return torch.tensor(probabilities).log()


def test_a_plants_class_is_pooled_over_all_its_images():
    """Plant a: two images lean to class 0, one is sure of class 1 (its label): pooled, 1.
    Plant b: its one labelled image is right. Plant c has no label: not scored. Per image
    2 of 4 labelled images are right; per plant 2 of 2."""
    metric = PlantPooledClassification(num_classes=3)
    metric.update(logits([0.6, 0.4, 1e-6], [0.6, 0.4, 1e-6], [0.02, 0.98, 1e-6]),
                  torch.tensor([1, 1, 1]), torch.tensor([True, True, False]), ["a", "a", "a"])
    metric.update(logits([0.1, 0.1, 0.8], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]),
                  torch.tensor([2, 0, 0]), torch.tensor([True, False, False]), ["b", "c", "b"])
    scores = metric.compute()
    assert scores["plant_accuracy"] == 1.0 and scores["plant_macro_f1"] == 1.0
    metric.reset()
    metric.update(logits([0.9, 0.1, 1e-6]), torch.tensor([1]), torch.tensor([True]), ["a"])
    metric.update(logits([0.1, 0.9, 1e-6]), torch.tensor([1]), torch.tensor([True]), ["b"])
    scores = metric.compute()
    assert scores["plant_accuracy"] == 0.5
    assert scores["plant_macro_f1"] == pytest.approx((0 + 2 / 3) / 2)  # classes 0 and 1 occur
    metric.reset()
    metric.update(logits([0.9, 0.1, 1e-6]), torch.tensor([0]), torch.tensor([False]), ["a"])
    assert math.isnan(metric.compute()["plant_accuracy"])
    assert plant_code("P0001") == plant_code("P0001") != plant_code("P0002")


def test_fuel_is_also_scored_per_plant_in_the_task_metrics():
    metrics = TaskMetrics(get_tasks(["fuel"]))
    assert {"fuel_accuracy", "fuel_plant_accuracy", "fuel_plant_macro_f1"} <= set(metrics.names())
    batch = {"fuel": torch.tensor([0, 0, 1]), "has_fuel": torch.tensor([True, True, True]),
             "plant_id": ["p", "p", "q"]}  # fmt: skip
    metrics.update({"fuel": logits([0.7, 0.1, 0.1, 0.1], [0.2, 0.6, 0.1, 0.1],
                                   [0.1, 0.7, 0.1, 0.1])}, batch)  # fmt: skip
    values = metrics.compute()
    assert values["fuel_accuracy"] == pytest.approx(2 / 3) and values["fuel_plant_accuracy"] == 1
    assert describe_metric("fuel_plant_accuracy") == (
        "fuel accuracy per plant (pooled over its images)", True)
    metrics.reset()
    assert "fuel_plant_accuracy" not in metrics.compute()
