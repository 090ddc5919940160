"""A plant's year on a real time axis: the daily truth as a line, every overpass estimate
with its interval, the period estimates with their intervals as bands over their periods,
reported figures and the naive reference as segments; all as rates (MW, t/h) so that days,
months and years share one axis, and gaps without an overpass stay visible."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from plantwatch.estimates.aggregate import QUANTITIES, period_hours

TRUTH, OVERPASS, ESTIMATE, REPORTED, NAIVE = "0.2", "C0", "C1", "k", "C2"
RATE_LABELS = {"generation_mwh": "power (MW)", "co2_t": "CO₂ (t/h)"}
PERIOD_WORDS = {"year": "annual", "month": "monthly"}


@dataclass(frozen=True)
class PlantSeries:
    """What is known of one plant, every table of that plant only (None: not known).

    Attributes:
        overpasses: predictions: ``datetime`` and ``power_mw``/``co2_t_per_h`` with bounds.
        estimates: period estimates: ``period``, ``generation_mwh``/``co2_t`` with bounds.
        daily: daily truth: ``date``, ``generation_mwh``, ``co2_t``.
        truth: period truth (reported figures, or daily sums): as ``estimates``.
        naive: the naive reference per period: as ``estimates``.
    """

    overpasses: pd.DataFrame
    estimates: pd.DataFrame
    daily: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    naive: pd.DataFrame | None = None


def period_bounds(label: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start and end of a period label (``2021`` or ``2021-03``)."""
    start = pd.Timestamp(f"{label}-01-01" if len(label) == 4 else f"{label}-01")
    return start, start + pd.Timedelta(hours=period_hours(label))


def period_rates(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """``start``, ``end``, ``rate`` (and ``low``, ``high`` where the table has bounds) of
    each period: the total divided by the period's hours (MWh → MW, t → t/h)."""
    rows = []
    for row in table.itertuples(index=False):
        label = str(row.period)
        start, end = period_bounds(label)
        hours = period_hours(label)
        values = {"start": start, "end": end, "rate": getattr(row, column) / hours}
        for side in ("low", "high"):
            if f"{column}_{side}" in table:
                values[side] = getattr(row, f"{column}_{side}") / hours
        rows.append(values)
    return pd.DataFrame(rows)


def plant_title(plant: str, name: str | None, fuel: str | None, capacity: float | None) -> str:
    """``Plant Name (P0001): lignite, 2360 MW`` with what is known."""
    facts = [f for f in (fuel, None if capacity is None or not np.isfinite(capacity)
                         else f"{capacity:.0f} MW") if f]  # fmt: skip
    head = f"{name} ({plant})" if name and plant not in name.split() else name or plant
    return f"{head}: {', '.join(facts)}" if facts else head


def plant_figure(series: PlantSeries, title: str, period: str) -> Figure:
    """Power and CO₂ of one plant against time (see the module docstring)."""
    columns = [c for _, c in QUANTITIES.values() if c in series.estimates]
    figure = Figure(figsize=(9, 2.6 * len(columns) + 0.9), layout="constrained")
    axes = figure.subplots(len(columns), 1, sharex=True, squeeze=False)[:, 0]
    observed = {total: rate for rate, total in QUANTITIES.values()}
    for ax, column in zip(axes, columns, strict=True):
        if series.daily is not None and column in series.daily:
            days = pd.to_datetime(series.daily["date"])
            ax.plot(days, series.daily[column] / 24.0, color=TRUTH, linewidth=0.7,
                    label="daily truth")  # fmt: skip
        _period_segments(ax, series.estimates, column, ESTIMATE,
                         f"{PERIOD_WORDS[period]} estimate (interval band)", band=True)  # fmt: skip
        for table, colour, label in ((series.truth, REPORTED, f"{PERIOD_WORDS[period]} truth"),
                                     (series.naive, NAIVE, "naive reference")):  # fmt: skip
            if table is not None and column in table and table[column].notna().any():
                _period_segments(ax, table, column, colour, label, band=False)
        rate = observed[column]
        if rate in series.overpasses and series.overpasses[rate].notna().any():
            points = series.overpasses.dropna(subset=[rate])
            times = pd.to_datetime(points["datetime"], utc=True).dt.tz_localize(None)
            error = None
            if f"{rate}_low" in points and f"{rate}_high" in points:
                error = [(points[rate] - points[f"{rate}_low"]).clip(lower=0),
                         (points[f"{rate}_high"] - points[rate]).clip(lower=0)]  # fmt: skip
            ax.errorbar(times, points[rate], yerr=error, fmt="o", markersize=3, color=OVERPASS,
                        elinewidth=0.8, label="overpass estimate (interval)")  # fmt: skip
        ax.set_ylabel(RATE_LABELS[column], fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=7)
    figure.suptitle(title, fontsize=10)
    return figure


def _period_segments(ax, table: pd.DataFrame, column: str, colour: str, label: str,
                     band: bool) -> None:  # fmt: skip
    rates = period_rates(table.dropna(subset=[column]), column)
    for k, row in enumerate(rates.itertuples(index=False)):
        ax.hlines(row.rate, row.start, row.end, color=colour, linewidth=2 if band else 1.2,
                  linestyles="-" if band else "--", label=label if k == 0 else None)  # fmt: skip
        if band and "low" in rates:
            ax.fill_between([row.start, row.end], row.low, row.high, color=colour, alpha=0.2,
                            linewidth=0)  # fmt: skip
