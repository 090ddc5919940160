"""Plant-period intervals calibrated on validation plant-periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantwatch.estimates.period_intervals import interval_scales, with_intervals


def estimates(n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "plant_id": [f"P{i}" for i in range(n)], "period": "2021", "hours": 8760.0,
        "capacity_mw": 100.0, "t_co2_per_mwh": 1.0,
        "generation_mwh": 400_000.0, "generation_mwh_sd": 1000.0,
        "co2_t": 400_000.0, "co2_t_sd": 2000.0,
    })  # fmt: skip


def test_the_scale_is_the_conformal_quantile_of_the_errors_in_units_of_the_spread() -> None:
    table = estimates(19)
    errors = 1000.0 * np.arange(1, 20)  # 1 … 19 spreads of generation, 0.5 … 9.5 of CO₂
    truth = table[["plant_id", "period"]].assign(generation_mwh=400_000.0 + errors,
                                                  co2_t=400_000.0 - errors)  # fmt: skip
    scales = interval_scales(table, truth, 0.9)
    assert scales == {"generation_mwh": pytest.approx(18.0), "co2_t": pytest.approx(9.0)}
    assert interval_scales(table, truth, 0.99)["generation_mwh"] == np.inf  # too few


def test_intervals_are_clipped_to_the_physical_range() -> None:
    table = estimates(1)
    out = with_intervals(table, {"generation_mwh": 500.0, "co2_t": 1.0}).iloc[0]
    assert out["generation_mwh_low"] == 0.0  # 400 000 − 500 000 clipped at 0
    assert out["generation_mwh_high"] == pytest.approx(100.0 * 8760.0)  # capacity × hours
    assert (out["co2_t_low"], out["co2_t_high"]) == (398_000.0, 402_000.0)
