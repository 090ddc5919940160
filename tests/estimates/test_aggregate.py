"""Aggregation of per-observation estimates to plant-months and plant-years."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantwatch.estimates.aggregate import aggregate_predictions, period_hours


def table() -> pd.DataFrame:
    """Plant A: three overpasses in 2021 (two in March); plant B: one in 2022."""
    return pd.DataFrame({
        "plant_id": ["A", "A", "A", "B"],
        "datetime": ["2021-03-02T10:20:00Z", "2021-03-20T10:20:00Z", "2021-07-01T10:20:00Z",
                     "2022-01-05T10:00:00Z"],
        "power_mw": [100.0, 200.0, 300.0, 50.0],
        "co2_t_per_h": [90.0, 180.0, 270.0, 20.0],
        "capacity_mw": [400.0, 400.0, 400.0, 100.0],
    })  # fmt: skip


def test_period_hours() -> None:
    assert period_hours("2021") == 8760 and period_hours("2020") == 8784
    assert period_hours("2021-02") == 672 and period_hours("2021-03") == 744


def test_annual_totals_are_the_mean_rate_times_the_hours() -> None:
    out = aggregate_predictions(table(), "year", n_boot=20_000).set_index(["plant_id", "period"])
    a = out.loc[("A", "2021")]
    assert a["n_obs"] == 3 and not a["few_observations"]
    assert a["generation_mwh"] == pytest.approx(200.0 * 8760)  # mean(100, 200, 300) MW × h
    assert a["co2_t"] == pytest.approx(180.0 * 8760)
    # the bootstrap mean of 3 draws from {100, 200, 300} MW is 100 with p = 1/27 and at most
    # 133.3 with p = 4/27, so its 5 % quantile is 133.3 MW (and its 95 % one 266.7 MW)
    assert a["generation_mwh_low"] == pytest.approx(400 / 3 * 8760)
    assert a["generation_mwh_high"] == pytest.approx(800 / 3 * 8760)
    b = out.loc[("B", "2022")]  # one observation: the physical range [0, capacity × h]
    assert b["few_observations"] and b["generation_mwh"] == pytest.approx(50.0 * 8760)
    assert (b["generation_mwh_low"], b["generation_mwh_high"]) == (0.0, 100.0 * 8760)


def test_monthly_totals() -> None:
    out = aggregate_predictions(table(), "month", min_observations=2, n_boot=200)
    march = out.set_index(["plant_id", "period"]).loc[("A", "2021-03")]
    assert march["generation_mwh"] == pytest.approx(150.0 * 744)
    assert sorted(out["period"]) == ["2021-03", "2021-07", "2022-01"]


def test_per_observation_intervals_widen_the_aggregate() -> None:
    same = table().iloc[:3].assign(power_mw=200.0)  # no sampling spread at all
    tight = aggregate_predictions(same, "year").iloc[0]
    assert tight["generation_mwh_low"] == tight["generation_mwh_high"] == pytest.approx(200 * 8760)
    wide = aggregate_predictions(same.assign(power_mw_low=100.0, power_mw_high=300.0), "year")
    wide = wide.iloc[0]
    # three draws of N(200, σ) with σ = 100 / 1.645: the mean's 90 % interval is ±100/√3 MW
    half = (wide["generation_mwh_high"] - wide["generation_mwh_low"]) / 2 / 8760
    assert half == pytest.approx(100 / np.sqrt(3), rel=0.1)


def test_missing_quantities_are_an_error() -> None:
    with pytest.raises(ValueError, match="power_mw nor co2_t_per_h"):
        aggregate_predictions(table()[["plant_id", "datetime"]])
