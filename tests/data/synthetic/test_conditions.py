import numpy as np
import pytest

from plantwatch.data.synthetic.conditions import (
    MIN_STABLE_LOAD,
    Weather,
    load_factor_series,
    sample_weather,
    stability_class,
)


@pytest.mark.parametrize("fuel", ["lignite", "hard_coal", "gas", "peat_oil"])
def test_load_factor_is_zero_when_off_and_bounded_when_on(fuel):
    load = load_factor_series(np.random.default_rng(1), fuel, 730)
    on = load[load > 0]
    assert on.min() >= MIN_STABLE_LOAD and on.max() <= 1.0
    assert (load == 0).any(), "two years without an outage or shutdown"


def test_lignite_runs_at_higher_load_than_gas():
    rng = np.random.default_rng(0)
    lignite = np.mean([load_factor_series(rng, "lignite", 730).mean() for _ in range(5)])
    gas = np.mean([load_factor_series(rng, "gas", 730).mean() for _ in range(5)])
    assert lignite > gas + 0.15


def test_vapour_pressure_deficit_vanishes_in_saturated_air_and_grows_with_warmth():
    assert Weather(10.0, 100.0, 1.0, 0.0).vapour_pressure_deficit_kpa == pytest.approx(0.0)
    cold, warm = Weather(0.0, 60.0, 1, 0), Weather(25.0, 60.0, 1, 0)
    assert warm.vapour_pressure_deficit_kpa > 3 * cold.vapour_pressure_deficit_kpa


def test_pasquill_classes_from_insolation_and_wind():
    assert stability_class(month=7, wind_speed_ms=1.0) == 0.0  # A: strong sun, calm
    assert stability_class(month=1, wind_speed_ms=8.0) == 3.0  # D: weak sun, windy


def test_weather_is_seasonal():
    rng = np.random.default_rng(0)
    january = np.mean([sample_weather(rng, 50.0, 15).temperature_c for _ in range(200)])
    july = np.mean([sample_weather(rng, 50.0, 196).temperature_c for _ in range(200)])
    assert july - january > 12
