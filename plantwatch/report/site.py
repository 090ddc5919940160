"""Write the static report: ``index.html`` (map and sortable table of the plants),
``plants/<plant_id>.html`` (time series, periods, fuel, scenes), ``plants/scenes/*.png`` and
``assets/`` (Plotly's bundled ``plotly.min.js``, the style and the table script). Every
page opens from the file system; nothing is fetched from a network."""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from plotly.offline import get_plotlyjs
from tqdm.auto import tqdm

from plantwatch import physics
from plantwatch.errors import UserError
from plantwatch.estimates.plant_fuel import pooled_fuel_probabilities
from plantwatch.estimates.report import BIASES
from plantwatch.files.atomic import replace_folder
from plantwatch.files.ids import checked_id
from plantwatch.report.figures import figure_html, fuel_bars, plant_map, plant_timeseries
from plantwatch.report.monitoring_results import MonitoringResults
from plantwatch.report.scenes import plant_scenes

TEMPLATES = Path(__file__).parent / "templates"
QUANTITY_UNITS = {"generation_mwh": ("generation", "TWh", 1e6), "co2_t": ("CO₂", "Mt", 1e6)}
REPORT_MARK = ".plantwatch-report"  # a folder with this file is a report that may be replaced


def _number(value: float, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def _cell(key: str, value: float) -> str:
    """A number of the plant table: whole MW and counts, signed percentages, else 3 digits."""
    if key in ("capacity_mw", "overpasses"):
        return f"{value:.0f}"
    return f"{value:+.1f}" if key.endswith("_pct") else _number(value)


def annual_rows(results: MonitoringResults, year: str) -> pd.DataFrame:
    """Per plant: its facts and, for ``year``, each quantity's estimate, bounds and truth
    (TWh, Mt) and relative error (%, estimate vs truth)."""
    table = results.plants.copy()
    estimates = results.estimates["year"]
    mine = estimates[estimates["period"] == year].set_index("plant_id")
    truth = results.truth.get("year")
    truth = None if truth is None else truth[truth["period"] == year].set_index("plant_id")
    table["overpasses"] = table["plant_id"].map(mine["n_obs"])
    for column, (_, _, divisor) in QUANTITY_UNITS.items():
        if column not in mine:
            continue
        for end in ("", "_low", "_high"):
            table[f"{column}{end}"] = table["plant_id"].map(mine[f"{column}{end}"]) / divisor
        if truth is not None and column in truth:
            table[f"{column}_truth"] = table["plant_id"].map(truth[column]) / divisor
            table[f"{column}_error_pct"] = 100 * (table[column] / table[f"{column}_truth"] - 1)
    return table


def index_table(rows: pd.DataFrame) -> tuple[list[dict], list[list[dict]]]:
    """The columns (``label``, ``kind``) and cells (``text``, ``value``, ``link``) of the
    plant table."""
    columns = [("plant_id", "plant", "text"), ("name", "name", "text"),
               ("fuel_type", "fuel", "text"), ("capacity_mw", "capacity (MW)", "number"),
               ("overpasses", "overpasses", "number")]  # fmt: skip
    for column, (quantity, unit, _) in QUANTITY_UNITS.items():
        if column in rows:
            columns += [(column, f"{quantity} ({unit})", "number"),
                        (f"{column}_interval", "interval", "text")]  # fmt: skip
            if f"{column}_truth" in rows:
                columns += [(f"{column}_truth", f"truth ({unit})", "number"),
                            (f"{column}_error_pct", "error (%)", "number")]  # fmt: skip
    cells = []
    for row in rows.to_dict("records"):
        line = []
        for key, _, kind in columns:
            if key.endswith("_interval"):
                base = key.removesuffix("_interval")
                text = f"[{_number(row[f'{base}_low'])}, {_number(row[f'{base}_high'])}]"
                line.append({"text": text, "value": text, "link": None})
            elif kind == "number":
                value = row.get(key)
                finite = value is not None and np.isfinite(value)
                line.append({"text": _cell(key, value) if finite else "–",
                             "value": value if finite else "", "link": None})  # fmt: skip
            else:
                link = f"plants/{row['plant_id']}.html" if key == "plant_id" else None
                line.append({"text": row[key], "value": row[key], "link": link})
        cells.append(line)
    return [{"label": label, "kind": kind} for _, label, kind in columns], cells


def period_tables(results: MonitoringResults, plant: str) -> list[dict]:
    """A table per period (annual first) of a plant's estimates with their intervals and the
    truth: ``title``, ``header``, ``rows``."""
    tables = []
    for period in sorted(results.estimates, key=("year", "month").index):
        monthly = period == "month"
        header, rows = ["period", "overpasses"], []
        for quantity, unit, _ in QUANTITY_UNITS.values():
            shown = {"TWh": "GWh", "Mt": "kt"}[unit] if monthly else unit
            header += [f"{quantity} ({shown})", "interval", f"truth ({shown})"]
        estimates = results.estimates[period]
        truth = results.truth.get(period)
        truth = None if truth is None else truth.set_index(["plant_id", "period"])
        for row in estimates[estimates["plant_id"] == plant].sort_values("period").to_dict(
            "records"
        ):
            line = [row["period"], f"{row['n_obs']:g}"]
            for column, (_, _, divisor) in QUANTITY_UNITS.items():
                scale = divisor / (1e3 if monthly else 1)
                known = truth is not None and (plant, row["period"]) in truth.index
                value = truth.at[(plant, row["period"]), column] / scale if known else np.nan
                line += [_number(row[column] / scale),
                         f"[{_number(row[f'{column}_low'] / scale)}, "
                         f"{_number(row[f'{column}_high'] / scale)}]", _number(value)]  # fmt: skip
            rows.append(line)
        title = "Months" if monthly else "Years"
        tables.append({"title": title, "header": header, "rows": rows})
    return tables


def write_report(
    results: MonitoringResults, out: str | Path, year: str | None = None, scenes: int = 12
) -> Path:
    """Write the report into ``out`` (see the module docstring); returns ``index.html``.

    Args:
        results: the monitoring run's tables.
        out: the report folder; replaced if it holds an earlier report, refused if it holds
            anything else.
        year: the year of the index's table and map (default: the latest with estimates).
        scenes: scenes per plant in its gallery.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / REPORT_MARK).is_file():
        raise UserError(f"{out}: holds files that plantwatch report did not write; choose an "
                        "empty or new folder")  # fmt: skip
    if "year" not in results.estimates:
        raise UserError("the report needs annual estimates: run `plantwatch aggregate` with "
                        "--period year into the same folder")  # fmt: skip
    years = sorted(results.estimates["year"]["period"].unique())
    year = year or years[-1]
    if year not in years:
        raise UserError(f"no estimates for {year}; the estimates cover {', '.join(years)}")
    scratch = out.with_name(f".{out.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "assets").mkdir(parents=True)
    (scratch / "plants").mkdir()
    (scratch / "assets" / "plotly.min.js").write_text(get_plotlyjs())
    for name in ("report.css", "report.js"):
        shutil.copy(TEMPLATES / name, scratch / "assets" / name)
    environment = Environment(loader=FileSystemLoader(TEMPLATES),
                              autoescape=select_autoescape(["html"]))  # fmt: skip
    level = f"{results.level:.0%}"
    common = {"run": f"{results.method} estimates, {level} intervals", "biases": BIASES,
              "version": metadata.version("plantwatch"), "level": level}  # fmt: skip
    rows = annual_rows(results, year)
    has_truth = "generation_mwh_error_pct" in rows
    colour, colour_label = (("generation_mwh_error_pct", f"generation error {year} (%)")
                            if has_truth else ("fuel_type", "fuel"))  # fmt: skip
    rows["url"] = [f"plants/{p}.html" for p in rows["plant_id"]]
    columns, cells = index_table(rows)
    (scratch / "index.html").write_text(environment.get_template("index.html").render(
        root="", plants=rows, year=year, method=results.method, has_truth=has_truth,
        colour_label=colour_label, map_figure=figure_html(plant_map(rows, colour, colour_label),
                                                           "map"),
        columns=columns, rows=cells, **common))  # fmt: skip
    fuels = pooled_fuel_probabilities(results.predictions).set_index("plant_id")
    page = environment.get_template("plant.html")
    for plant in tqdm(rows.to_dict("records"), desc="report pages", unit="plant"):
        plant_id = checked_id(plant["plant_id"], "plant_id", "the predictions")
        overpasses = results.predictions[results.predictions["plant_id"] == plant_id]
        gallery = plant_scenes(overpasses, results.observations, results.dataset,
                               results.prediction_folders, scratch / "plants" / "scenes",
                               scenes)  # fmt: skip
        for scene in gallery:
            scene["caption"] = (f"{str(scene['datetime'])[:10]} · "
                                f"{_number(scene.get('power_mw'))} MW · "
                                f"{_number(scene.get('co2_t_per_h'))} t CO₂/h")  # fmt: skip
        fuel_text, fuel_figure = _fuel(fuels, plant_id, plant["fuel_type"])
        (scratch / "plants" / f"{plant_id}.html").write_text(page.render(
            root="../", plant=plant, facts=_facts(plant),
            periods=period_tables(results, plant_id),
            timeseries=figure_html(plant_timeseries(results, plant_id), "timeseries"),
            fuel_text=fuel_text, fuel_figure=fuel_figure, scenes=gallery,
            any_true=any("true" in s["outlines"] for s in gallery), overpasses=len(overpasses),
            **common))  # fmt: skip
    (scratch / REPORT_MARK).write_text("written by plantwatch report\n")
    replace_folder(scratch, out)
    return out / "index.html"


def _facts(plant: dict) -> str:
    facts = [plant["fuel_type"] or "fuel unknown"]
    if np.isfinite(plant.get("capacity_mw", np.nan)):
        facts.append(f"{plant['capacity_mw']:.0f} MW")
    if np.isfinite(plant.get("lat", np.nan)):
        facts.append(f"{plant['lat']:.3f}° N, {plant['lon']:.3f}° E")
    return " · ".join(facts)


def _fuel(fuels: pd.DataFrame, plant: str, known: str) -> tuple[str, str | None]:
    if plant not in fuels.index:
        return "The model predicts no fuel.", None
    probabilities = {f: float(fuels.at[plant, f"fuel_prob_{f}"]) for f in physics.FUEL_NAMES}
    best = max(probabilities, key=probabilities.get)
    text = (f"Pooled over {int(fuels.at[plant, 'overpasses'])} overpasses the model says "
            f"{best} ({probabilities[best]:.2f}); ")  # fmt: skip
    text += (f"the registry says {known}" + (" (agrees)." if known == best else " (disagrees; "
             "CO₂ uses the registry's fuel).") if known else "no registry fuel is known: CO₂ uses "
             "the predicted fuel.")  # fmt: skip
    return text, figure_html(fuel_bars(probabilities, known), "fuel")
