import numpy as np
import pandas as pd
import pytest

from plantwatch import physics
from plantwatch.data.errors import DatasetError
from plantwatch.data.readers.hanna2021 import canonical_weather, convert_hanna2021
from plantwatch.data.readers.observations import PlantObservations
from tests.data.scene_fakes import write_hanna_fake


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("hanna")
    src = write_hanna_fake(root / "src")
    with pytest.warns(UserWarning, match="1 images without a row"):
        return convert_hanna2021(src, root / "canonical", progress=False)


def test_conversion_maps_fuels_units_plants_and_absent_generation(converted):
    data = PlantObservations(converted)
    table = data.observations
    assert sorted(table.index) == [
        "11_2019-03-04T10-30-00", "11_2019-05-06T10-30-00", "22_2020-01-02T10-40-00",
        "33_2019-07-08T10-20-00", "44_2019-09-10T10-20-00",
    ]  # fmt: skip
    assert table.loc["11_2019-05-06T10-30-00", "plant_id"] == "prtr11"
    assert table["plant_id"].nunique() == 4
    assert table.loc["22_2020-01-02T10-40-00", "fuel_type"] == "gas"  # coal-derived gas
    assert table.loc["44_2019-09-10T10-20-00", "fuel_type"] == "peat_oil"
    first = table.loc["11_2019-03-04T10-30-00"]
    assert first["source"] == "images/training/120x120/positive/11_2019-03-04T10:30:00.tif"
    assert first["datetime"] == "2019-03-04T10:30:00Z"
    assert first["co2_t_per_h"] == pytest.approx(450.0 * physics.emission_factors()[0], abs=1e-3)
    assert first["temperature_c"] == pytest.approx(10.0)
    assert 77.5 < first["relative_humidity_pct"] < 79.5  # q 6 g/kg at 10 °C, 1000 hPa
    labels = data.labels().set_index(table.index)
    assert not labels.loc["11_2019-05-06T10-30-00", "has_power"]
    assert labels.loc["11_2019-05-06T10-30-00", "has_fuel"]
    cropped = table.loc["22_2020-01-02T10-40-00"]
    assert cropped["subset"] == "training/300x300" and 0.3 < cropped["plume_lost_share"] < 0.4
    sample = data[list(table.index).index("22_2020-01-02T10-40-00")]
    assert sample["image"].shape == (13, 120, 120) and set(sample["mask"].unique().tolist()) == {
        0,
        1,
    }
    assert sample["aux"].shape == (4,)


def test_weather_units_are_detected_by_range():
    table = pd.DataFrame({"temp": [10.0, 20.0], "humidity": [55.0, 80.0],
                          "wind-u": [1.0, 2.0], "wind-v": [0.0, 1.0]})  # fmt: skip
    weather, units = canonical_weather(table)
    assert units["temp"] == "°C" and units["humidity"] == "relative humidity %"
    np.testing.assert_allclose(weather["relative_humidity_pct"], [55.0, 80.0])
    table["temp"] += 273.15
    table["humidity"] /= 100
    weather, units = canonical_weather(table)
    np.testing.assert_allclose(weather["temperature_c"], [10.0, 20.0])
    np.testing.assert_allclose(weather["relative_humidity_pct"], [55.0, 80.0])


def test_an_unknown_fuel_or_missing_column_is_named(tmp_path):
    src = write_hanna_fake(tmp_path / "src", fuel="Nuclear")
    with pytest.raises(
        DatasetError, match=r"hanna2021_labels.csv: row .*unknown fuel type 'Nuclear'"
    ):
        convert_hanna2021(src, tmp_path / "out", progress=False)
    table = pd.read_csv(src / "hanna2021_labels.csv").drop(columns="gen_output")
    table.to_csv(src / "hanna2021_labels.csv", index=False)
    with pytest.raises(DatasetError, match=r"missing columns \['gen_output'\]"):
        convert_hanna2021(src, tmp_path / "out", progress=False)
