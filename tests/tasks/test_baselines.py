import pandas as pd
import pytest
import torch

from plantwatch.task_registry import get_tasks
from plantwatch.tasks.baselines import CAPACITY, MEAN, baseline_metrics


def test_mean_and_capacity_baselines():
    train = pd.DataFrame({
        "power": [500.0, 100.0], "capacity": [1000.0, 200.0], "co2": [450.0, 90.0],
        "fuel": [1, 1], "has_power": True, "has_capacity": True, "has_co2": True,
        "has_fuel": True, "has_mask": True,
    })  # fmt: skip
    capacity = torch.tensor([2000.0, 400.0])
    batch = {
        "mask": torch.zeros(2, 4, 4, dtype=torch.long), "has_mask": torch.tensor([True, True]),
        "fuel": torch.tensor([1, 2]), "has_fuel": torch.tensor([True, True]),
        "power": capacity * 0.5, "has_power": torch.tensor([True, True]),
        "co2": capacity * 0.5 * 0.9, "has_co2": torch.tensor([True, True]),
        "capacity": capacity, "has_capacity": torch.tensor([True, True]),
    }  # fmt: skip
    scores = baseline_metrics(train, [batch], get_tasks(["plume", "fuel", "power", "co2"]))
    mean = scores[MEAN]
    assert mean["power_mae_mw"] == pytest.approx((700 + 100) / 2)  # predicts 300 MW
    assert mean["fuel_accuracy"] == 0.5
    assert not any(k.startswith("plume_") for k in mean)  # predicts no plume: no plume score
    by_capacity = scores[CAPACITY]
    assert {k.split("_")[0] for k in by_capacity} == {"power", "co2"}  # the rest is the mean's
    assert by_capacity["power_mae_mw"] == pytest.approx(0.0, abs=1e-3)  # load factor 0.5
    assert by_capacity["co2_mae_t_per_h"] == pytest.approx(0.0, abs=1e-3)  # 0.9 t/MWh
