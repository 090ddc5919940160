"""The pooled estimator on hand-made tables: its two limits and a hand-computed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantwatch import physics
from plantwatch.estimates.pooled import (
    Components,
    FleetPrior,
    ObservationErrors,
    pooled_estimates,
)

COAL = physics.FUELS[physics.fuel_index("hard_coal")].ef_t_per_mwh
HOURS_2021 = 8760.0


def flat_prior(within: float, between_year: float, between_month: float = 0.0) -> FleetPrior:
    """Every fuel runs at load factor 0.5 all year."""
    return FleetPrior({"any": (0.5, 0.0, 0.0)}, Components(within, between_year, between_month))


def exact_model() -> ObservationErrors:
    return ObservationErrors(Components(0.0, 0.0, 0.0))


def days_of_2021(step: int) -> list[str]:
    return [f"{d:%Y-%m-%d}T10:30:00Z" for d in pd.date_range("2021-01-01", "2021-12-31",
                                                             freq=f"{step}D")]  # fmt: skip


PLANTS = pd.DataFrame({"plant_id": ["A", "B", "C"], "capacity_mw": [400.0, 200.0, 100.0],
                       "fuel_type": ["hard_coal", "hard_coal", None]})  # fmt: skip


def test_no_observation_gives_the_prior_and_many_exact_ones_their_mean() -> None:
    days = days_of_2021(1)  # every day of 2021
    load = 0.6 + 0.2 * np.sin(np.arange(len(days)))  # exact daily values around 0.6
    predictions = pd.DataFrame({
        "plant_id": ["A"] * len(days) + ["B"],
        "datetime": [*days, "2021-06-01T10:30:00Z"],
        "power_mw": [*(400.0 * load), np.nan],  # B: an overpass without an estimate
    })  # fmt: skip
    out = pooled_estimates(predictions, PLANTS, flat_prior(0.0, 0.01), exact_model(), "year")
    out = out.set_index("plant_id")
    assert out.loc["A", "generation_mwh"] == pytest.approx(400.0 * load.mean() * HOURS_2021)
    assert out.loc["A", "generation_mwh_sd"] == pytest.approx(0.0)
    assert out.loc["B", "n_obs"] == 0
    assert out.loc["B", "generation_mwh"] == pytest.approx(200.0 * 0.5 * HOURS_2021)  # prior
    assert out.loc["B", "generation_mwh_sd"] == pytest.approx(200.0 * 0.1 * HOURS_2021)  # √τ²
    assert out.loc["A", "co2_t"] == pytest.approx(out.loc["A", "generation_mwh"] * COAL)


def test_few_noisy_observations_are_shrunk_half_way_when_their_noise_equals_the_spread():
    predictions = pd.DataFrame({
        "plant_id": ["C"] * 4,
        "datetime": days_of_2021(90)[:4],
        "power_mw": [60.0, 80.0, 70.0, 70.0],  # load factors 0.6–0.8: mean anomaly +0.2
        "co2_t_per_h": [30.0, 40.0, 35.0, 35.0],  # unknown fuel: 0.5 t per MWh predicted
    })  # fmt: skip
    # errors of (10 MW)² on a 100 MW plant: 0.01 in load factor², so
    # V = (s² + σ²_w / C²) / n + σ²_b / C² = (0.03 + 0.01) / 4 + 0 = 0.01 = τ²: w = 1/2
    errors = ObservationErrors(Components(100.0, 0.0, 0.0))
    out = pooled_estimates(predictions, PLANTS, flat_prior(0.03, 0.01), errors, "year").iloc[0]
    assert out["load_factor"] == pytest.approx(0.5 + 0.5 * 0.2)
    assert out["generation_mwh"] == pytest.approx(100.0 * 0.6 * HOURS_2021)
    assert out["generation_mwh_sd"] == pytest.approx(100.0 * np.sqrt(0.5 * 0.01) * HOURS_2021)
    assert out["t_co2_per_mwh"] == pytest.approx(0.5)
    assert out["co2_t"] == pytest.approx(out["generation_mwh"] * 0.5)


def test_the_same_errors_in_mw_weigh_less_on_a_small_plant() -> None:
    days = days_of_2021(30)[:10]
    predictions = pd.DataFrame({"plant_id": ["A"] * 10 + ["C"] * 10, "datetime": days * 2,
                                "power_mw": [280.0] * 10 + [70.0] * 10})  # fmt: skip  # ℓ 0.7
    errors = ObservationErrors(Components(0.0, 400.0, 0.0))  # a plant's bias: 20 MW
    out = pooled_estimates(predictions, PLANTS, flat_prior(0.0, 0.01), errors, "year")
    load = out.set_index("plant_id")["load_factor"]
    # w = 0.01 / (0.01 + 400 / C²): 0.8 at 400 MW, 0.2 at 100 MW
    assert load["A"] == pytest.approx(0.5 + 0.8 * 0.2) and load["C"] == pytest.approx(0.54)


def test_months_lean_on_their_plant_year() -> None:
    predictions = pd.DataFrame({"plant_id": "C", "datetime": days_of_2021(1)[:59],
                                "power_mw": 80.0})  # fmt: skip  # January and February only
    prior = flat_prior(0.0, 0.01, between_month=0.01)
    out = pooled_estimates(predictions, PLANTS, prior, exact_model(), "month")
    months = out.set_index("period")["load_factor"]
    assert len(months) == 2 and months.to_numpy() == pytest.approx([0.8, 0.8])
    # the rest of the year is never seen: pooled_estimates estimates the periods spanned
    assert set(out["n_obs"]) == {31, 28}


def test_the_fleet_prior_learns_the_seasonal_profile_and_the_spread_of_plant_years() -> None:
    days = pd.date_range("2021-01-01", "2021-12-31", freq="5D")
    season = 0.1 * np.cos(2 * np.pi * days.day_of_year.to_numpy() / 365.0)
    rows = [pd.DataFrame({"plant_id": p, "datetime": days, "fuel_type": "gas",
                          "load_factor": base + season})
            for p, base in (("P1", 0.4), ("P2", 0.5), ("P3", 0.6))]  # fmt: skip
    prior = FleetPrior.fit(pd.concat(rows, ignore_index=True))
    assert prior.profiles["gas"] == pytest.approx((0.5, 0.1, 0.0), abs=1e-9)
    assert prior.load.within == pytest.approx(0.0, abs=1e-12)
    assert prior.load.between_year == pytest.approx(0.01)  # var(0.4, 0.5, 0.6), ddof 1
    assert prior.period_load("gas", "2021") == pytest.approx(0.5, abs=1e-3)


def test_variance_components_by_hand() -> None:
    # four plant-years, two overpasses each at mean ± 0.1: within 2 · 0.1² = 0.02; the means'
    # variance 0.016667 less the sampling of two days 0.02 / 2 leaves 0.006667
    frame = pd.DataFrame({
        "plant_id": np.repeat(["P1", "P2", "P3", "P4"], 2), "year": "2021",
        "month": "2021-01", "x": [0.3, 0.5, 0.4, 0.6, 0.5, 0.7, 0.6, 0.8],
    })  # fmt: skip
    found = Components.of(frame, "x")
    assert found.within == pytest.approx(0.02)
    assert found.between_year == pytest.approx(0.05 / 3 - 0.01)
