"""Truth per period, the naive reference, and scores in Climate TRACE's units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantwatch import physics
from plantwatch.estimates.truth import (
    naive_reference,
    period_metrics,
    score,
    truth_from_daily,
    truth_from_reported,
)
from plantwatch.tasks.metrics import describe_metric


def test_daily_truth_sums_complete_periods_only() -> None:
    days = pd.date_range("2021-01-01", "2021-02-10", freq="D")
    daily = pd.DataFrame({"plant_id": "A", "date": days.strftime("%Y-%m-%d"),
                          "generation_mwh": 24.0, "co2_t": 10.0})  # fmt: skip
    monthly = truth_from_daily(daily, "month")
    assert monthly.to_dict("records") == [
        {"plant_id": "A", "period": "2021-01", "generation_mwh": 31 * 24.0, "co2_t": 310.0}
    ]  # February is incomplete
    assert truth_from_daily(daily, "year").empty


def test_reported_truth_sums_units_and_never_a_partial_sum() -> None:
    annual = pd.DataFrame({
        "unit_code": ["U1", "U2", "U1", "U2"], "year": [2017, 2017, 2018, 2018],
        "generation_mwh": [1e6, 2e6, 1e6, 2e6], "co2_t": [1e6, 1.5e6, 1e6, np.nan],
    })  # fmt: skip
    truth = truth_from_reported(annual, {"U1": "P", "U2": "P"}).set_index("period")
    assert truth.loc["2017", "generation_mwh"] == 3e6 and truth.loc["2017", "co2_t"] == 2.5e6
    assert truth.loc["2018", "generation_mwh"] == 3e6 and np.isnan(truth.loc["2018", "co2_t"])


def test_naive_reference_is_capacity_times_load_factor_hours_and_factor() -> None:
    plants = pd.DataFrame({"plant_id": ["A"], "capacity_mw": [1000.0], "fuel_type": ["gas"]})
    periods = pd.DataFrame({"plant_id": ["A"], "period": ["2021"]})
    out = naive_reference(plants, periods, {"gas": 0.5}).iloc[0]
    assert out["generation_mwh"] == pytest.approx(1000 * 0.5 * 8760)
    assert out["co2_t"] == pytest.approx(1000 * 0.5 * 8760 * physics.FUELS[2].ef_t_per_mwh)


def test_scores_in_twh_and_mt_with_coverage() -> None:
    estimates = pd.DataFrame({
        "plant_id": ["A", "B"], "period": ["2021", "2021"],
        "generation_mwh": [3e6, 1e6], "generation_mwh_low": [2e6, 1.5e6],
        "generation_mwh_high": [4e6, 2e6],
    })  # fmt: skip
    truth = pd.DataFrame({"plant_id": ["A", "B"], "period": ["2021", "2021"],
                          "generation_mwh": [2e6, 2e6], "co2_t": [1.0, 1.0]})  # fmt: skip
    row = score(estimates, truth).iloc[0]
    assert (row["quantity"], row["unit"], row["n"]) == ("generation_mwh", "TWh", 2)
    assert row["rmse"] == pytest.approx(1.0)  # errors +1 and −1 TWh
    assert row["bias"] == pytest.approx(0.0) and row["mae"] == pytest.approx(1.0)
    assert row["median_abs_rel_error"] == pytest.approx(0.5)
    # relative differences +0.5 and −0.5: mean 0, sample std √0.5
    assert row["mean_rel_difference"] == pytest.approx(0.0)
    assert row["sd_rel_difference"] == pytest.approx(np.sqrt(0.5))
    assert row["total_rel_error"] == pytest.approx(0.0)
    assert row["coverage"] == pytest.approx(1.0)  # 2 TWh lies in both intervals
    assert row["interval_width"] == pytest.approx(1.25)  # 2 and 0.5 TWh wide
    assert len(score(estimates, truth)) == 1  # no CO₂ estimate, no CO₂ score


def test_period_metrics_name_the_period() -> None:
    estimates = pd.DataFrame({"plant_id": ["A"], "period": ["2021-01"], "co2_t": [2e6]})
    truth = pd.DataFrame({"plant_id": ["A"], "period": ["2021-01"], "co2_t": [1e6]})
    found = period_metrics(score(estimates, truth, "x"), "month")["x"]
    assert found["co2_monthly_rmse_mt"] == pytest.approx(1.0)
    assert found["co2_monthly_mean_rel_difference"] == pytest.approx(1.0)
    assert "co2_monthly_sd_rel_difference" not in found  # one plant-month: no spread
    assert describe_metric("co2_monthly_rmse_mt") == ("CO₂ monthly RMSE (Mt)", False)
    assert describe_metric("power_annual_coverage")[1] is True
