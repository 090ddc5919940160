import itertools

import numpy as np
import pytest

from plantwatch.data.synthetic.conditions import Weather
from plantwatch.data.synthetic.plume import (
    MASK_OPTICAL_DEPTH,
    Source,
    optical_depth,
    visible_length_m,
    water_emission_kg_s,
)

SHAPE = (100, 100)
TOWER = (Source(row=50, col=20, radius_m=50.0, heat_share=1.0),)


def weather(temperature_c=5.0, humidity=80.0, u=4.0, v=0.0) -> Weather:
    return Weather(temperature_c, humidity, u, v)


def plume_pixels(water_kg_s, w=None, stability=3.0) -> np.ndarray:
    tau = optical_depth(SHAPE, 10.0, TOWER, water_kg_s, w or weather(), stability)
    return tau > MASK_OPTICAL_DEPTH


def downwind_extent_px(mask: np.ndarray) -> int:
    """Columns east of the source that hold plume pixels (the wind blows towards east)."""
    cols = np.nonzero(mask.any(axis=0))[0]
    return int(cols.max() - TOWER[0].col) if cols.size else 0


def test_water_emission_follows_waste_heat_and_is_zero_when_off():
    assert water_emission_kg_s(0.0, 0.4) == 0.0
    # 1000 MW at 40 % rejects 1500 MW of heat → 1500 / 2.26 kg/s of water
    assert water_emission_kg_s(1000.0, 0.4) == pytest.approx(1500 / 2.26)
    assert water_emission_kg_s(1000.0, 0.5) < water_emission_kg_s(1000.0, 0.35)


def test_more_generation_gives_more_plume_pixels_at_fixed_weather():
    counts = [plume_pixels(water_emission_kg_s(mw, 0.38)).sum() for mw in (200, 400, 800, 1600)]
    assert counts[0] > 0
    assert all(a < b for a, b in itertools.pairwise(counts)), counts


def test_an_off_plant_has_no_plume():
    assert not plume_pixels(0.0).any()


def test_higher_humidity_gives_a_longer_visible_plume():
    water = water_emission_kg_s(800, 0.38)
    lengths = [downwind_extent_px(plume_pixels(water, weather(humidity=rh))) for rh in (40, 70, 95)]
    assert lengths[0] < lengths[1] < lengths[2], lengths
    assert visible_length_m(weather(humidity=95)) > 3 * visible_length_m(weather(humidity=40))


def test_warmer_air_at_equal_humidity_shortens_the_plume():
    assert visible_length_m(weather(temperature_c=25)) < visible_length_m(weather(temperature_c=0))


@pytest.mark.parametrize(("u", "v", "side"), [(4, 0, "east"), (-4, 0, "west"), (0, 4, "north")])
def test_the_plume_lies_downwind_of_its_source(u, v, side):
    tau = optical_depth(SHAPE, 10.0, (Source(50, 50, 50.0, 1.0),), 300.0, weather(u=u, v=v), 3.0)
    rows, cols = np.nonzero(tau > MASK_OPTICAL_DEPTH)
    centre = {"east": cols.mean() - 50, "west": 50 - cols.mean(), "north": 50 - rows.mean()}
    assert centre[side] > 5


def test_unstable_air_spreads_the_plume_wider():
    water = water_emission_kg_s(800, 0.38)
    unstable = optical_depth(SHAPE, 10.0, TOWER, water, weather(), stability=0.0)
    stable = optical_depth(SHAPE, 10.0, TOWER, water, weather(), stability=5.0)
    column = 80  # 600 m downwind
    width = [(t[:, column] > 0.05 * t[:, column].max()).sum() for t in (unstable, stable)]
    assert width[0] > width[1]
