"""Plant registries: reading, validation errors, filters, and the JRC-PPDB-OPEN builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantwatch.cli import main
from plantwatch.sources.jrc import registry_from_jrc
from plantwatch.sources.registry import PlantRegistry, RegistryError
from tests.data.entsoe_fakes import two_plants, write_jrc_units, write_registry

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "data_sources" / "plants" / "jrc_ppdb_open_17.geojson"
)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".csv"])
def test_registry_round_trips_through_every_format(tmp_path: Path, suffix: str) -> None:
    registry = PlantRegistry.read(write_registry(tmp_path / "r.geojson", two_plants()))
    again = PlantRegistry.read(registry.write(tmp_path / f"out{suffix}"))
    assert list(again.plants["plant_id"]) == ["P1", "P2"]
    assert list(again.plants["fuel_type"]) == ["hard_coal", "lignite"]  # ENTSO-E type → class
    assert again.plants.geometry.x.tolist() == pytest.approx([9.95, 19.3])
    assert again.units().to_dict("records") == [
        {"unit_code": "U1A", "plant_id": "P1"},
        {"unit_code": "U1B", "plant_id": "P1"},
        {"unit_code": "U2", "plant_id": "P2"},
    ]


def test_registry_is_reprojected_to_wgs84(tmp_path: Path) -> None:
    frame = PlantRegistry.read(write_registry(tmp_path / "r.geojson", two_plants())).plants
    frame.to_crs("EPSG:3035").to_file(tmp_path / "laea.gpkg", driver="GPKG")
    registry = PlantRegistry.read(tmp_path / "laea.gpkg")
    assert registry.plants.crs.to_epsg() == 4326
    assert registry.plants.geometry.y.tolist() == pytest.approx([53.49, 51.27])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plant_id": "P1"}, "duplicate plant ids"),
        ({"fuel_type": "uranium"}, "unknown fuel type 'uranium'"),
        ({"capacity_mw": 0.0}, "capacity_mw must be a number > 0"),
        ({"unit_codes": "U2;U1B"}, "unit code U1B belongs to plants"),
    ],
)
def test_registry_errors_name_the_file_and_the_problem(
    tmp_path: Path, change: dict, message: str
) -> None:
    plants = two_plants()
    plants[1].update(change)
    path = write_registry(tmp_path / "bad.geojson", plants)
    with pytest.raises(RegistryError, match=message) as error:
        PlantRegistry.read(path)
    assert str(path) in str(error.value)


def test_registry_without_crs_or_columns_is_refused(tmp_path: Path) -> None:
    frame = PlantRegistry.read(write_registry(tmp_path / "r.geojson", two_plants())).plants
    with pytest.raises(RegistryError, match="no CRS"):
        PlantRegistry(frame.set_crs(None, allow_override=True))
    with pytest.raises(RegistryError, match=r"missing columns \['unit_codes'\]"):
        PlantRegistry(frame.drop(columns="unit_codes"))
    (tmp_path / "no_lonlat.csv").write_text("plant_id,name\nP1,Alpha\n")
    with pytest.raises(RegistryError, match="'lon' and 'lat'"):
        PlantRegistry.read(tmp_path / "no_lonlat.csv")


def test_registry_filters(tmp_path: Path) -> None:
    registry = PlantRegistry.read(write_registry(tmp_path / "r.geojson", two_plants()))
    assert len(registry.filter(countries=["poland"])) == 1
    assert list(registry.filter(fuels=["Fossil Hard coal"]).plants["plant_id"]) == ["P1"]
    assert list(registry.filter(min_capacity_mw=1000).plants["plant_id"]) == ["P1"]
    assert list(registry.filter(max_capacity_mw=1000).plants["plant_id"]) == ["P2"]
    assert list(registry.filter(bbox=(15, 50, 25, 55)).plants["plant_id"]) == ["P2"]
    assert len(registry.filter(countries=["germany"], fuels=["lignite"])) == 0


def test_cli_builds_and_filters_a_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    units = write_jrc_units(tmp_path / "units.csv")
    main(["registry", "jrc", str(units), str(tmp_path / "plants.geojson")])
    main(["registry", "show", str(tmp_path / "plants.geojson"), "--fuel", "lignite",
          "--out", str(tmp_path / "lignite.csv")])  # fmt: skip
    out = capsys.readouterr().out
    assert "wrote 2 plants" in out and "CC-BY-4.0" in out and "Kraftwerk A" in out
    assert list(PlantRegistry.read(tmp_path / "lignite.csv").plants["plant_id"]) == ["PA"]


def test_jrc_units_are_grouped_into_plants(tmp_path: Path) -> None:
    registry = registry_from_jrc(write_jrc_units(tmp_path / "units.csv"))
    plants = registry.plants.set_index("plant_id")
    assert plants.loc["PA", "capacity_mw"] == 1500.0  # sum of its units
    assert plants.loc["PA", "fuel_type"] == "lignite"  # the type with the most capacity
    assert plants.loc["PA", "name"] == "Kraftwerk A"
    assert plants.loc["PA", "unit_codes"] == "GA1;GA2;GA3"
    assert plants.loc["PB", "fuel_type"] == "hard_coal"


def test_shipped_example_registry_reads() -> None:
    registry = PlantRegistry.read(EXAMPLE)
    assert len(registry) == 17
    assert len(registry.units()) == 80
    belchatow = registry.plants.set_index("plant_id").loc["19W000000000016F"]
    assert (belchatow["capacity_mw"], belchatow["fuel_type"]) == (5472.0, "lignite")
    assert (EXAMPLE.parent / "README.md").read_text().count("CC-BY-4.0") >= 1
