"""The report's files: one page per plant, every plant on the map and in the table, no text
of an input that can run, no folder of someone else's overwritten."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from plantwatch.cli import main
from plantwatch.errors import UserError
from plantwatch.report.country_outlines import outline_file
from plantwatch.report.monitoring_results import MonitoringResults
from plantwatch.report.site import write_report


def figure_specs(page: Path) -> dict[str, dict]:
    """The Plotly figures of a page by their div id."""
    html = page.read_text()
    found = re.findall(r'<div id="(\w+)" class="figure"></div>\s*<script>\(function \(\) '
                       r"\{ const f = (\{.*?\}); Plotly", html, flags=re.S)  # fmt: skip
    return {div: json.loads(spec) for div, spec in found}


def values(array: list | dict) -> list:
    """A trace's array: a list, or Plotly's base64 typed array (``dtype``, ``bdata``)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return array


def test_every_plant_has_a_page_a_table_row_and_a_map_marker(monitoring_report):
    report = monitoring_report["report"]
    predictions = pd.read_csv(monitoring_report["predictions"], dtype={"plant_id": str})
    plants = sorted(predictions["plant_id"].unique())
    assert sorted(p.stem for p in (report / "plants").glob("*.html")) == plants
    index = (report / "index.html").read_text()
    assert index.count('<tr>\n<td data-value="P') == len(plants)
    markers = next(t for t in figure_specs(report / "index.html")["map"]["data"]
                   if t["name"] == "plants")  # fmt: skip
    assert len(values(markers["x"])) == len(plants)
    assert sorted(markers["customdata"]) == [f"plants/{p}.html" for p in plants]
    assert (report / "assets" / "plotly.min.js").stat().st_size > 1_000_000  # bundled, no CDN
    assert "<script src=\"http" not in index and "<link rel=\"stylesheet\" href=\"http" not in index


def test_a_plant_page_holds_every_overpass_the_daily_truth_and_its_scenes(monitoring_report):
    report, predictions = monitoring_report["report"], monitoring_report["predictions"]
    table = pd.read_csv(predictions, dtype={"plant_id": str})
    plant = table["plant_id"].iloc[0]
    figures = figure_specs(report / "plants" / f"{plant}.html")
    traces = figures["timeseries"]["data"]
    overpasses = [t for t in traces if t.get("name") == "overpass estimate"]
    count = (table["plant_id"] == plant).sum()
    assert len(overpasses) == 2 and len(values(overpasses[0]["x"])) == count
    daily = pd.read_csv(monitoring_report["dataset"] / "truth_daily.csv", dtype={"plant_id": str})
    truth = next(t for t in traces if t.get("name") == "daily truth")
    assert len(values(truth["x"])) == (daily["plant_id"] == plant).sum()
    page = (report / "plants" / f"{plant}.html").read_text()
    scenes = re.findall(r'<img src="(scenes/[^"]+)"', page)
    assert 1 <= len(scenes) <= 4 and all((report / "plants" / s).is_file() for s in scenes)
    assert "fuel" in figures and "Years" in page and "Months" in page


def test_map_borders_come_with_the_installed_packages():
    assert outline_file() is not None, "pyogrio's Natural Earth file is gone: no borders"


def test_names_from_a_hostile_registry_are_shown_as_text(monitoring_report, tmp_path):
    dataset = Path(shutil.copytree(monitoring_report["dataset"], tmp_path / "ds"))
    plants = gpd.read_file(dataset / "plants.geojson")
    hostile = '<script>alert("owned")</script>'
    plants.loc[0, "name"] = hostile
    plants.to_file(dataset / "plants.geojson", driver="GeoJSON")
    estimates = tmp_path / "estimates"
    main(["aggregate", str(monitoring_report["predictions"]), str(estimates), "--dataset",
          str(dataset), "--n-boot", "50"])  # fmt: skip
    index = write_report(MonitoringResults.read(estimates), tmp_path / "report", scenes=1)
    pages = [index, *(tmp_path / "report" / "plants").glob("*.html")]
    for page in pages:
        assert hostile not in page.read_text(), page  # escaped in HTML, \u003c in the JSON
    assert "&lt;script&gt;alert(" in index.read_text()


def test_a_folder_of_other_files_is_refused_and_a_report_is_replaced(monitoring_report, tmp_path):
    results = MonitoringResults.read(monitoring_report["estimates"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(UserError, match="did not write"):
        write_report(results, tmp_path / "mine", scenes=1)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"
    write_report(results, tmp_path / "report", scenes=1)
    (tmp_path / "report" / "plants" / "stale.html").write_text("old")
    write_report(results, tmp_path / "report", scenes=1)
    assert not (tmp_path / "report" / "plants" / "stale.html").exists()


def test_a_folder_without_aggregate_outputs_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path), str(tmp_path / "report")])
    assert "no aggregate_year.json" in capsys.readouterr().err
