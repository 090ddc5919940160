"""Known plant facts: CO₂ from the known fuel, the predicted fuel as a check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantwatch import physics
from plantwatch.estimates.plant_facts import fuel_check, read_plant_facts, with_known_fuel

LIGNITE = physics.FUELS[physics.fuel_index("lignite")].ef_t_per_mwh

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
})  # fmt: skip


def test_known_fuel_co2_is_the_predicted_power_times_its_emission_factor() -> None:
    out = with_known_fuel(PREDICTIONS, PLANTS)
    a = out[out["plant_id"] == "A"]
    assert a["co2_t_per_h"].tolist() == pytest.approx([100.0 * LIGNITE, 200.0 * LIGNITE, 0.0])
    assert a["co2_t_per_h_low"].tolist() == pytest.approx([50 * LIGNITE, 150 * LIGNITE, 0.0])
    assert a["co2_t_per_h_high"].tolist() == pytest.approx([150 * LIGNITE, 250 * LIGNITE,
                                                            40 * LIGNITE])  # fmt: skip
    b = out[out["plant_id"] == "B"].iloc[0]  # unknown fuel: the model's own CO₂
    assert (b["co2_t_per_h"], b["co2_t_per_h_low"]) == (60.0, 40.0)
    assert PREDICTIONS["co2_t_per_h"].iloc[0] == 40.0  # the input is left as it was


def test_a_table_without_co2_gets_it_where_the_fuel_is_known() -> None:
    out = with_known_fuel(PREDICTIONS[["plant_id", "power_mw"]], PLANTS)
    assert out["co2_t_per_h"].iloc[0] == pytest.approx(100.0 * LIGNITE)
    assert np.isnan(out["co2_t_per_h"].iloc[3])


def test_a_predicted_fuel_that_disagrees_with_the_registry_is_reported() -> None:
    check = fuel_check(PREDICTIONS, PLANTS).set_index("plant_id")
    assert list(check.index) == ["A"]  # B's fuel is unknown: nothing to check
    assert check.loc["A", "fuel_predicted"] == "gas" and bool(check.loc["A", "disagrees"])
    assert check.loc["A", "agreement"] == pytest.approx(1 / 3)
    assert fuel_check(PREDICTIONS.drop(columns="fuel_pred"), PLANTS).empty


def test_plant_facts_come_from_a_dataset(tiny_dataset) -> None:
    facts = read_plant_facts(tiny_dataset)
    assert list(facts.columns) == ["plant_id", "capacity_mw", "fuel_type"]
    assert facts["fuel_type"].isin(physics.FUEL_NAMES).all() and (facts["capacity_mw"] > 0).all()
    assert read_plant_facts() is None
