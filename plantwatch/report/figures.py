"""The report's interactive figures (Plotly, drawn by the ``plotly.min.js`` beside the pages):
the plant map, a plant's time series and its fuel probabilities."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from plotly.utils import PlotlyJSONEncoder

from plantwatch.estimates.aggregate import QUANTITIES, period_hours
from plantwatch.estimates.plant_figure import PERIOD_WORDS, period_bounds
from plantwatch.report.country_outlines import SOURCE, country_outlines
from plantwatch.report.monitoring_results import MonitoringResults

CONFIG = {"displaylogo": False, "responsive": True}
RATE_UNITS = {"generation_mwh": ("power", "MW"), "co2_t": ("CO₂", "t/h")}
OVERPASS_TRACE = "overpass estimate"


def figure_html(figure: go.Figure, div_id: str) -> str:
    """A ``<div>`` and the script that draws ``figure`` in it; the JSON has ``<``, ``>`` and
    ``&`` escaped, so no text of an input (a plant's name) can end the script."""
    spec = json.dumps(figure.to_plotly_json(), cls=PlotlyJSONEncoder)
    spec = spec.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    draw = f'Plotly.newPlot("{div_id}", f.data, f.layout, {json.dumps(CONFIG)});'
    return (f'<div id="{div_id}" class="figure"></div>\n'
            f"<script>(function () {{ const f = {spec}; {draw} }})();</script>")


def plant_map(plants: pd.DataFrame, colour: str, colour_label: str) -> go.Figure:
    """The plants on country outlines (no tile server): a marker per plant coloured by
    ``plants[colour]`` (numeric: a diverging scale around 0; else one colour per value);
    ``plants`` has ``lon``, ``lat``, ``name``, ``plant_id`` and ``url``."""
    located = plants.dropna(subset=["lon", "lat"])
    figure = go.Figure()
    x, y = country_outlines(located["lon"].to_numpy(), located["lat"].to_numpy())
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"color": "#999", "width": 1},
                                hoverinfo="skip", name="borders", showlegend=False))  # fmt: skip
    values = located[colour]
    marker = {"size": 11, "line": {"width": 1, "color": "#333"}}
    if pd.api.types.is_numeric_dtype(values):
        limit = float(np.nanmax(np.abs(values))) if values.notna().any() else 1.0
        marker.update(color=values.fillna(0), colorscale="RdBu_r", cmin=-limit, cmax=limit,
                      colorbar={"title": {"text": colour_label}})  # fmt: skip
    else:
        codes = {v: i for i, v in enumerate(sorted(values.unique()))}
        marker.update(color=[codes[v] for v in values], colorscale="Viridis")
    shown = [v if isinstance(v, str) else f"{v:+.1f}" for v in values]
    hover = [f"{n} ({p})<br>{colour_label}: {v}"
             for n, p, v in zip(located["name"], located["plant_id"], shown, strict=True)]
    figure.add_trace(go.Scatter(x=located["lon"], y=located["lat"], mode="markers",
                                marker=marker, text=hover, hoverinfo="text", name="plants",
                                customdata=located["url"], showlegend=False))  # fmt: skip
    margin = 3.0  # degrees around the plants, as the borders
    figure.update_layout(
        height=460, margin={"l": 40, "r": 10, "t": 10, "b": 40},
        xaxis={"title": {"text": "longitude (°)"}, "constrain": "domain",
               "range": [located["lon"].min() - margin, located["lon"].max() + margin]},
        yaxis={"title": {"text": "latitude (°)"}, "scaleanchor": "x", "constrain": "domain",
               "range": [located["lat"].min() - margin, located["lat"].max() + margin],
               "scaleratio": 1 / max(np.cos(np.radians(located["lat"].mean())), 0.2)
               if len(located) else 1},
        annotations=[{"text": f"borders: {SOURCE}", "showarrow": False, "xref": "paper",
                      "yref": "paper", "x": 0, "y": -0.12, "font": {"size": 9}}],
    )  # fmt: skip
    return figure


def _segments(table: pd.DataFrame, column: str) -> tuple[list, list, list, list]:
    """x/y of horizontal segments at each period's rate and of the interval boxes."""
    x, y, box_x, box_y = [], [], [], []
    for row in table.dropna(subset=[column]).itertuples(index=False):
        start, end = period_bounds(str(row.period))
        hours = period_hours(str(row.period))
        x += [start, end, None]
        y += [getattr(row, column) / hours] * 2 + [None]
        if hasattr(row, f"{column}_low"):
            low = getattr(row, f"{column}_low") / hours
            high = getattr(row, f"{column}_high") / hours
            box_x += [start, end, end, start, start, None]
            box_y += [low, low, high, high, low, None]
    return x, y, box_x, box_y


def plant_timeseries(results: MonitoringResults, plant: str) -> go.Figure:
    """Power (MW) and CO₂ (t/h) of one plant on a time axis: the daily truth as a line, every
    overpass estimate with its interval, each period's estimate as a segment with its
    interval box, the period truth as a dashed segment."""
    columns = [total for _, total in QUANTITIES.values()]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    level = f"{results.level:.0%}"
    for row, column in enumerate(columns, start=1):
        quantity, unit = RATE_UNITS[column]
        legend = row == 1
        if results.daily is not None:
            daily = results.daily[results.daily["plant_id"] == plant]
            figure.add_trace(go.Scatter(
                x=daily["date"], y=daily[column] / 24.0, mode="lines", name="daily truth",
                line={"color": "#444", "width": 1}, showlegend=legend, legendgroup="daily",
            ), row=row, col=1)  # fmt: skip
        for period, table in results.estimates.items():
            mine = table[table["plant_id"] == plant]
            x, y, box_x, box_y = _segments(mine, column)
            colour = "#ff7f0e" if period == "year" else "#2ca02c"
            name = f"{PERIOD_WORDS[period]} estimate ({level} interval)"
            figure.add_trace(go.Scatter(x=box_x, y=box_y, fill="toself", mode="none",
                                        fillcolor=colour, opacity=0.18, hoverinfo="skip",
                                        showlegend=False, legendgroup=name),
                             row=row, col=1)  # fmt: skip
            figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                        line={"color": colour, "width": 3},
                                        showlegend=legend, legendgroup=name),
                             row=row, col=1)  # fmt: skip
            if period in results.truth:
                truth = results.truth[period]
                x, y, _, _ = _segments(truth[truth["plant_id"] == plant], column)
                figure.add_trace(go.Scatter(
                    x=x, y=y, mode="lines", name=f"{PERIOD_WORDS[period]} truth",
                    line={"color": "black" if period == "year" else "#1b5e20",
                          "dash": "dash" if period == "year" else "dot", "width": 1.5},
                    showlegend=legend, legendgroup=f"truth{period}",
                ), row=row, col=1)  # fmt: skip
        rate = next(r for r, total in QUANTITIES.values() if total == column)
        overpasses = results.predictions[results.predictions["plant_id"] == plant]
        if rate in overpasses:
            error = {}
            if f"{rate}_high" in overpasses:
                above = (overpasses[f"{rate}_high"] - overpasses[rate]).clip(lower=0)
                below = (overpasses[rate] - overpasses[f"{rate}_low"]).clip(lower=0)
                error = {"error_y": {"type": "data", "symmetric": False, "array": above,
                                     "arrayminus": below, "thickness": 1, "width": 0}}  # fmt: skip
            figure.add_trace(go.Scatter(
                x=pd.to_datetime(overpasses["datetime"], utc=True).dt.tz_localize(None),
                y=overpasses[rate], mode="markers", name=OVERPASS_TRACE, text=overpasses["obs_id"],
                marker={"color": "#1f77b4", "size": 6}, showlegend=legend, legendgroup="overpass",
                **error,
            ), row=row, col=1)  # fmt: skip
        figure.update_yaxes(title_text=f"{quantity} ({unit})", rangemode="tozero", row=row, col=1)
    figure.update_layout(height=560, margin={"l": 60, "r": 10, "t": 10, "b": 30},
                         legend={"orientation": "h", "y": -0.08})  # fmt: skip
    return figure


def fuel_bars(probabilities: dict[str, float], known: str) -> go.Figure:
    """The plant's fuel probabilities pooled over its overpasses; the registry's fuel
    outlined."""
    fuels = list(probabilities)
    figure = go.Figure(go.Bar(
        x=[probabilities[f] for f in fuels], y=fuels, orientation="h",
        marker={"color": ["#d62728" if f == known else "#1f77b4" for f in fuels]},
        text=[f"{probabilities[f]:.2f}" for f in fuels], textposition="auto",
    ))  # fmt: skip
    figure.update_layout(height=60 + 28 * len(fuels),
                         margin={"l": 90, "r": 10, "t": 10, "b": 30},
                         xaxis={"range": [0, 1], "title": {"text": "pooled probability"}})
    return figure
