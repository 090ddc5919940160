import numpy as np
import pytest
import torch

from plantwatch import physics


def test_emission_factors_follow_from_ipcc_factors_and_efficiency():
    lignite = physics.FUELS[physics.fuel_index("lignite")]
    # 101 t/TJ × 0.0036 TJ/MWh / 0.36 = 1.01 t CO2 per MWh of electricity
    assert lignite.ef_t_per_mwh == pytest.approx(1.01, abs=1e-3)
    ef = dict(zip(physics.FUEL_NAMES, physics.emission_factors(), strict=True))
    assert ef["lignite"] > ef["hard_coal"] > ef["gas"] and ef["peat_oil"] > ef["gas"]
    assert 0.35 < ef["gas"] < 0.45 and 0.8 < ef["hard_coal"] < 0.95


@pytest.mark.parametrize(
    ("name", "fuel"),
    [
        ("Fossil Brown coal/Lignite", "lignite"),
        ("B05", "hard_coal"),
        ("Fossil Gas", "gas"),
        ("Fossil Coal-derived gas", "gas"),
        ("Fossil Peat", "peat_oil"),
        ("Fossil Oil", "peat_oil"),
        (" hard_coal ", "hard_coal"),
    ],
)
def test_entsoe_production_types_map_to_the_four_classes(name, fuel):
    assert physics.FUEL_NAMES[physics.fuel_index(name)] == fuel


def test_unknown_fuel_names_the_accepted_values():
    with pytest.raises(ValueError, match="unknown fuel type 'Nuclear'.*lignite"):
        physics.fuel_index("Nuclear")


def test_co2_from_fuel_and_from_certain_probabilities_agree():
    power = np.array([100.0, 500.0, 0.0, 800.0])
    fuel = np.array([0, 1, 2, 3])
    probs = np.eye(physics.NUM_FUELS)[fuel]
    expected = power * physics.emission_factors()[fuel]
    np.testing.assert_allclose(physics.co2_from_fuel(power, fuel), expected)
    np.testing.assert_allclose(physics.co2_from_fuel_probs(power, probs), expected)


def test_co2_from_probabilities_is_the_expected_factor_in_torch():
    power = torch.tensor([1000.0], dtype=torch.float32)
    probs = torch.tensor([[0.5, 0.0, 0.5, 0.0]])
    co2 = physics.co2_from_fuel_probs(power, probs)
    ef = physics.emission_factors()
    assert co2.dtype == torch.float32
    assert co2.item() == pytest.approx(1000 * (ef[0] + ef[2]) / 2, rel=1e-5)
