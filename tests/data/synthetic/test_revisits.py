"""The Sentinel-2 revisit model and the generator's realistic overpasses."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plantwatch.data.synthetic.power_plants import synthesize_power_plants
from plantwatch.data.synthetic.revisits import (
    CloudClimate,
    clear_overpasses,
    expected_clear_overpasses,
    overpass_days,
)
from plantwatch.errors import UserError

HALF_CLEAR = CloudClimate(clear_at_45n=0.5, per_degree_north=0.0, seasonal_amplitude=0.0)


def test_a_constant_cloud_climate_gives_the_expected_count() -> None:
    # 365 days, a pass every 5 days: 73 passes, half of them clear
    assert expected_clear_overpasses(50.0, 365, revisit_days=5, climate=HALF_CLEAR) == 36.5
    counts = [len(clear_overpasses(np.random.default_rng(i), 50.0, 365, climate=HALF_CLEAR))
              for i in range(2000)]  # fmt: skip
    # each count is Binomial(73, 0.5): sd 4.27, so the mean of 2000 has sd 0.095
    assert np.mean(counts) == pytest.approx(36.5, abs=0.4)


def test_the_default_climate_sees_15_to_40_clear_overpasses_a_year_in_europe() -> None:
    south, north = expected_clear_overpasses(45.0, 365), expected_clear_overpasses(56.0, 365)
    assert 15 <= north < south <= 40
    assert south == pytest.approx(73 * 0.40, rel=0.01)  # the mean chance at 45° N
    days = np.concatenate([clear_overpasses(np.random.default_rng(i), 50.0, 365)
                           for i in range(500)])  # fmt: skip
    summer, winter = ((days >= 152) & (days < 244)).sum(), ((days < 59) | (days >= 334)).sum()
    assert summer > 1.5 * winter  # clear skies are mostly summer skies


def test_passes_are_one_revisit_apart_and_clear_days_are_among_them() -> None:
    assert overpass_days(2, 20, 5).tolist() == [2, 7, 12, 17]
    seen = clear_overpasses(np.random.default_rng(0), 50.0, 730, revisit_days=5)
    assert len(np.unique(np.diff(seen) % 5)) == 1 and seen.max() < 730
    with pytest.raises(ValueError, match="revisit_days"):
        overpass_days(0, 10, 0)


def test_the_generator_draws_sentinel2_overpasses_and_records_them(tmp_path) -> None:
    root = synthesize_power_plants(tmp_path / "s2", plants=4, size=16, overpasses="sentinel2",
                                   mask_fraction=0.5, progress=False)  # fmt: skip
    observations = pd.read_csv(root / "observations.csv", dtype={"plant_id": str})
    per_year = observations.groupby(
        [observations["plant_id"], observations["datetime"].str[:4]]
    ).size()
    assert len(per_year) == 8 and per_year.between(8, 45).all()
    generator = json.loads((root / "dataset.json").read_text())["generator"]
    assert generator["overpasses"] == "sentinel2" and generator["revisit_days"] == 5
    masks = list((root / "masks").glob("*.tif")) if (root / "masks").is_dir() else []
    assert 0.3 * len(observations) <= len(masks) <= 0.7 * len(observations)


def test_uniform_overpasses_leave_the_record_of_earlier_datasets(tmp_path) -> None:
    root = synthesize_power_plants(tmp_path / "u", plants=3, per_plant=2, size=16, progress=False)
    generator = json.loads((root / "dataset.json").read_text())["generator"]
    assert "overpasses" not in generator and "revisit_days" not in generator
    with pytest.raises(UserError, match="overpasses must be one of"):
        synthesize_power_plants(tmp_path / "x", plants=3, size=16, overpasses="daily")
