"""Known plant facts: CO₂ from the known fuel (else the pooled one), the predicted fuel as a
check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantwatch import physics
from plantwatch.estimates.plant_facts import fuel_check, read_plant_facts, with_plant_fuel
from plantwatch.estimates.plant_fuel import LOG_FLOOR, plant_fuels, pooled_log_probs

LIGNITE = physics.FUELS[physics.fuel_index("lignite")].ef_t_per_mwh
HARD_COAL = physics.FUELS[physics.fuel_index("hard_coal")].ef_t_per_mwh

PLANTS = pd.DataFrame({"plant_id": ["A", "B"], "capacity_mw": [500.0, 300.0],
                       "fuel_type": ["lignite", None]})  # fmt: skip
PREDICTIONS = pd.DataFrame({
    "plant_id": ["A", "A", "A", "B"],
    "power_mw": [100.0, 200.0, 0.0, 150.0],
    "power_mw_low": [50.0, 150.0, 0.0, 100.0],
    "power_mw_high": [150.0, 250.0, 40.0, 200.0],
    "co2_t_per_h": [40.0, 80.0, 0.0, 60.0],  # the model took A for gas (0.40 t/MWh)
    "co2_t_per_h_low": [20.0, 60.0, 0.0, 40.0],
    "co2_t_per_h_high": [60.0, 100.0, 16.0, 80.0],
    "fuel_pred": ["gas", "gas", "lignite", "gas"],
    # A: two images lean to gas, one is sure of lignite; B's one image is sure of hard coal
    "fuel_prob_gas": [0.6, 0.6, 0.02, 0.1],
    "fuel_prob_lignite": [0.4, 0.4, 0.98, 0.0],
    "fuel_prob_hard_coal": [0.0, 0.0, 0.0, 0.9],
    "fuel_prob_peat_oil": [0.0, 0.0, 0.0, 0.0],
})  # fmt: skip


def test_known_fuel_co2_is_the_predicted_power_times_its_emission_factor() -> None:
    out = with_plant_fuel(PREDICTIONS, PLANTS)
    a = out[out["plant_id"] == "A"]
    assert a["co2_t_per_h"].tolist() == pytest.approx([100.0 * LIGNITE, 200.0 * LIGNITE, 0.0])
    assert a["co2_t_per_h_low"].tolist() == pytest.approx([50 * LIGNITE, 150 * LIGNITE, 0.0])
    assert a["co2_t_per_h_high"].tolist() == pytest.approx([150 * LIGNITE, 250 * LIGNITE,
                                                            40 * LIGNITE])  # fmt: skip
    b = out[out["plant_id"] == "B"].iloc[0]  # unknown fuel: the pooled one, hard coal
    assert b["co2_t_per_h"] == pytest.approx(150.0 * HARD_COAL)
    assert b["co2_t_per_h_low"] == pytest.approx(100.0 * HARD_COAL)
    no_probabilities = with_plant_fuel(PREDICTIONS[PREDICTIONS.columns[:8]], PLANTS)
    b = no_probabilities[no_probabilities["plant_id"] == "B"].iloc[0]  # the model's own CO₂
    assert (b["co2_t_per_h"], b["co2_t_per_h_low"]) == (60.0, 40.0)
    assert PREDICTIONS["co2_t_per_h"].iloc[0] == 40.0  # the input is left as it was


def test_a_table_without_co2_gets_it_where_the_fuel_is_known() -> None:
    out = with_plant_fuel(PREDICTIONS[["plant_id", "power_mw"]], PLANTS)
    assert out["co2_t_per_h"].iloc[0] == pytest.approx(100.0 * LIGNITE)
    assert np.isnan(out["co2_t_per_h"].iloc[3])
    out = with_plant_fuel(PREDICTIONS.drop(columns="co2_t_per_h"), None)  # no registry
    assert out["co2_t_per_h"].tolist() == pytest.approx([100 * LIGNITE, 200 * LIGNITE, 0.0,
                                                         150 * HARD_COAL])  # fmt: skip


def test_a_plants_fuel_pools_the_log_probabilities_of_its_overpasses() -> None:
    """Mean log-probabilities: A's gas (2 ln 0.6 + ln 0.02) / 3 = −1.645 against lignite
    (2 ln 0.4 + ln 0.98) / 3 = −0.618: one sure image outweighs two that lean the other way,
    which a majority vote would have followed."""
    pooled = plant_fuels(PREDICTIONS).set_index("plant_id")
    assert pooled.loc["A", "fuel_pooled"] == "lignite"
    assert pooled.loc["B", "fuel_pooled"] == "hard_coal"
    assert pooled.loc["A", "overpasses"] == 3
    gas, lignite = (2 * np.log(0.6) + np.log(0.02)) / 3, (2 * np.log(0.4) + np.log(0.98)) / 3
    never = 2 * LOG_FLOOR  # hard coal and peat/oil: probability 0 in every image
    assert pooled.loc["A", "fuel_pooled_prob"] == pytest.approx(
        np.exp(lignite) / (np.exp(gas) + np.exp(lignite) + never)
    )
    plants, log_probs = pooled_log_probs(["x", "y", "x"], np.log([[0.5, 0.5], [0.9, 0.1],
                                                                 [0.2, 0.8]]))  # fmt: skip
    assert list(plants) == ["x", "y"]
    np.testing.assert_allclose(log_probs[0], [np.log(0.1) / 2, np.log(0.4) / 2])
    assert plant_fuels(PREDICTIONS.drop(columns="fuel_prob_gas")).empty


def test_a_predicted_fuel_that_disagrees_with_the_registry_is_reported() -> None:
    check = fuel_check(PREDICTIONS, PLANTS).set_index("plant_id")
    assert list(check.index) == ["A"]  # B's fuel is unknown: nothing to check
    assert check.loc["A", "fuel_predicted"] == "lignite" and not check.loc["A", "disagrees"]
    assert check.loc["A", "agreement"] == pytest.approx(1 / 3)  # per image: 1 of 3 right
    gas_plant = PLANTS.assign(fuel_type=["gas", None])
    assert bool(fuel_check(PREDICTIONS, gas_plant).set_index("plant_id").loc["A", "disagrees"])
    assert fuel_check(PREDICTIONS.drop(columns="fuel_pred"), PLANTS).empty


def test_plant_facts_come_from_a_dataset(tiny_dataset) -> None:
    facts = read_plant_facts(tiny_dataset)
    assert list(facts.columns) == ["plant_id", "capacity_mw", "fuel_type"]
    assert facts["fuel_type"].isin(physics.FUEL_NAMES).all() and (facts["capacity_mw"] > 0).all()
    assert read_plant_facts() is None
