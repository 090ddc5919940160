"""Per-overpass errors by cloud stratum, counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from plantwatch.cli import main
from plantwatch.estimates.strata import errors_by_stratum
from tests.data.fakes import copy_dataset, edit_observations


def test_errors_are_averaged_within_each_stratum_counted_by_hand():
    observations = pd.DataFrame({
        "obs_id": ["a", "b", "c", "d"], "generation_mw": [100.0, 200.0, 300.0, None],
        "co2_t_per_h": [90.0, 180.0, 270.0, None], "fuel_type": ["gas", "gas", "lignite", ""],
        "plant_cloud_pct": [0.0, 0.5, 40.0, 100.0],
    })  # fmt: skip
    predictions = pd.DataFrame({
        "obs_id": ["a", "b", "c", "d"], "power_mw": [110.0, 170.0, 200.0, 50.0],
        "co2_t_per_h": [90.0, 190.0, 300.0, 40.0],
        "fuel_pred": ["gas", "lignite", "lignite", "gas"],
    })  # fmt: skip
    table = errors_by_stratum(predictions, observations, "plant_cloud_pct", [0, 1, 100])
    assert table["overpasses"].tolist() == [2, 2]  # the 100 % patch in the last, closed bin
    assert table["power_mae_mw"].tolist() == pytest.approx([(10 + 30) / 2, 100.0])
    assert table["co2_mae_t_per_h"].tolist() == pytest.approx([(0 + 10) / 2, 30.0])
    assert table["fuel_accuracy"].tolist() == pytest.approx([0.5, 1.0])  # d's fuel unknown
    with pytest.raises(ValueError, match="no column"):
        errors_by_stratum(predictions, observations, "snow", [0, 1])


def test_the_errors_command_prints_a_table(tiny_dataset, tmp_path, capsys):
    from tests.data.monitoring_fakes import fake_predictions

    dataset = copy_dataset(tiny_dataset, tmp_path / "ds")
    edit_observations(dataset, lambda f: f.assign(plant_cloud_pct=[0.0, 50.0] * (len(f) // 2)))
    predictions = fake_predictions(dataset, tmp_path / "predictions")
    main(["errors", str(predictions), "--dataset", str(dataset), "--edges", "0", "10", "100"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("| stratum | overpasses | power_mae_mw")
    assert len(printed) == 4 and "plant_cloud_pct in [0.0, 10.0)" in printed[2]
