"""16.1.A generation files of both layouts → plant generation and CO₂ at acquisition times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plantwatch import physics
from plantwatch.data.errors import DatasetError
from plantwatch.sources.generation import (
    GenerationSeries,
    co2_t_per_h,
    emission_intensity,
    read_annual_emissions,
    read_generation_file,
    read_weather,
    weather_at,
)
from plantwatch.sources.labels import ObservationLabels
from plantwatch.sources.registry import PlantRegistry
from tests.data.entsoe_fakes import (
    FILE_LIBRARY,
    SFTP,
    two_plants,
    write_generation_file,
    write_registry,
)

T = pd.Timestamp
TOLERANCE = pd.Timedelta(minutes=30)


@pytest.fixture
def series(tmp_path: Path) -> GenerationSeries:
    """Unit U1A hourly in the SFTP layout (listed under two areas, one of them empty), U1B
    quarter-hourly in the File Library layout with one empty interval, U2 from 10:00 on."""
    sftp = write_generation_file(tmp_path / "2021_06_sftp.csv", [
        ("U1A", "2021-06-01 09:00", 400.0, "10YDE-BZN"),
        ("U1A", "2021-06-01 10:00", 410.0, "10YDE-BZN"),
        ("U1A", "2021-06-01 10:00", None, "10YDE-CTA"),  # the same interval under another area
        ("U1A", "2021-06-01 10:00", 410.0, "10YDE-CTA"),
        ("U1A", "2021-06-01 11:00", 420.0, "10YDE-BZN"),
    ], SFTP)  # fmt: skip
    library = write_generation_file(tmp_path / "2021_06_library.csv", [
        ("U1B", "2021-06-01 10:00", 300.0, "10YDE-BZN"),
        ("U1B", "2021-06-01 10:15", 310.0, "10YDE-BZN"),
        ("U1B", "2021-06-01 10:30", None, "10YDE-BZN"),
        ("U1B", "2021-06-01 10:45", 330.0, "10YDE-BZN"),
        ("U2", "2021-06-01 10:00", 500.0, "10YPL-BZN"),
    ], FILE_LIBRARY, resolution="PT15M")  # fmt: skip
    return GenerationSeries.read([sftp, library])


def test_both_layouts_read_into_one_schema(tmp_path: Path) -> None:
    for name, layout in (("sftp", SFTP), ("library", FILE_LIBRARY),
                         ("paren", {**FILE_LIBRARY, "mw": "ActualGenerationOutput(MW)",
                                    "time": "DateTime(UTC)"})):  # fmt: skip
        path = write_generation_file(tmp_path / f"{name}.csv",
                                     [("U9", "2021-01-01 00:00", 12.5, "A")], layout)  # fmt: skip
        frame = read_generation_file(path)
        assert frame.to_dict("records") == [{
            "unit_code": "U9", "start": T("2021-01-01 00:00", tz="UTC"),
            "end": T("2021-01-01 01:00", tz="UTC"), "generation_mw": 12.5, "area": "A",
        }]  # fmt: skip


def test_unknown_layout_and_resolution_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("Time\tUnit\tMW\n2021-01-01\tU\t1\n")
    with pytest.raises(DatasetError, match="16.1.A"):
        read_generation_file(tmp_path / "bad.csv")
    path = write_generation_file(tmp_path / "p1d.csv", [("U", "2021-01-01 00:00", 1.0, "A")],
                                 SFTP, resolution="P1D")  # fmt: skip
    with pytest.raises(DatasetError, match="ResolutionCode"):
        read_generation_file(path)


def test_unit_value_is_the_interval_containing_the_time(series: GenerationSeries) -> None:
    assert series.unit_at("U1A", T("2021-06-01 10:59", tz="UTC"), TOLERANCE) == 410.0
    assert series.unit_at("U1A", T("2021-06-01 10:00", tz="UTC"), TOLERANCE) == 410.0
    assert series.unit_at("U1B", T("2021-06-01 10:20", tz="UTC"), TOLERANCE) == 310.0
    # the area duplicate with an empty cell does not hide the value
    assert series.unit_at("U1A", T("2021-06-01 10:30", tz="UTC"), TOLERANCE) == 410.0


def test_tolerance_reaches_the_nearest_interval(series: GenerationSeries) -> None:
    after_end = T("2021-06-01 12:20", tz="UTC")  # U1A's last interval ends 12:00
    assert series.unit_at("U1A", after_end, TOLERANCE) == 420.0
    assert np.isnan(series.unit_at("U1A", after_end, pd.Timedelta(minutes=10)))
    assert np.isnan(series.unit_at("U1A", T("2021-06-02 10:00", tz="UTC"), TOLERANCE))


def test_plant_sums_units_and_is_unknown_when_a_unit_is_missing(series: GenerationSeries) -> None:
    assert series.plant_at(["U1A", "U1B"], T("2021-06-01 10:20", tz="UTC"), TOLERANCE) == 720.0
    # U1B's 10:30 interval is empty: no partial sum
    assert np.isnan(series.plant_at(["U1A", "U1B"], T("2021-06-01 10:40", tz="UTC"), TOLERANCE))
    # a unit absent from every file is not counted (e.g. below the 100 MW reporting limit)
    assert series.plant_at(["U2", "U-NOT-REPORTED"], T("2021-06-01 10:05", tz="UTC"),
                           TOLERANCE) == 500.0  # fmt: skip
    assert np.isnan(series.plant_at(["U-NOT-REPORTED"], T("2021-06-01 10:05", tz="UTC"), TOLERANCE))


def test_co2_from_emission_factor_or_reported_intensity() -> None:
    when = T("2021-06-01 10:20", tz="UTC")
    co2, source = co2_t_per_h(720.0, "hard_coal", "P1", when)
    assert source == "emission_factor"
    assert co2 == pytest.approx(720.0 * physics.FUELS[1].ef_t_per_mwh)
    annual = pd.DataFrame({
        "unit_code": ["U1A", "U1B", "U1A"], "year": [2021, 2021, 2020],
        "co2_t": [4.0e6, 2.0e6, 1.0], "generation_mwh": [4.0e6, 2.0e6, 0.0],
    })  # fmt: skip
    intensity = emission_intensity(annual, {"U1A": "P1", "U1B": "P1"})
    assert intensity == {("P1", 2021): pytest.approx(1.0)}  # 6 Mt / 6 TWh; 2020 has no generation
    co2, source = co2_t_per_h(720.0, "hard_coal", "P1", when, intensity)
    assert (co2, source) == (pytest.approx(720.0), "reported_annual")


def test_annual_emissions_read_from_jrc_temporal_table(tmp_path: Path) -> None:
    path = tmp_path / "temporal.csv"
    path.write_text("eic_p,eic_g,type_g,cyear,Generation,cf,time_coverage,co2emitted\n"
                    "PA,GA1,Fossil Gas,2017,1000.0,0.5,1.0,400000.0\n")  # fmt: skip
    table = read_annual_emissions(path)
    assert table.to_dict("records") == [
        {"unit_code": "GA1", "year": 2017, "generation_mwh": 1000.0, "co2_t": 400.0}
    ]


def test_observation_labels_with_weather(tmp_path: Path, series: GenerationSeries) -> None:
    registry = PlantRegistry.read(write_registry(tmp_path / "r.geojson", two_plants()))
    weather = tmp_path / "weather.csv"
    weather.write_text("plant_id,datetime,temperature_c,relative_humidity_pct,wind_u_ms,wind_v_ms\n"
                       "P1,2021-06-01T10:00:00Z,18.5,60,1.0,-2.0\n")  # fmt: skip
    labels = ObservationLabels(series, None, read_weather(weather), tolerance_min=30.0)
    plants = registry.plants.set_index("plant_id")
    row = labels.at("P1", plants.loc["P1"], T("2021-06-01 10:20", tz="UTC"))
    assert row["generation_mw"] == 720.0
    assert row["co2_source"] == "emission_factor"
    assert row["temperature_c"] == 18.5
    far = labels.at("P1", plants.loc["P1"], T("2021-06-01 12:00", tz="UTC"))
    assert far["generation_mw"] is None and far["temperature_c"] is None
    assert (
        weather_at(read_weather(weather), "P2", T("2021-06-01 10:00", tz="UTC"), TOLERANCE) is None
    )
