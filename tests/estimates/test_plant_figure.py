"""A plant's figure: a real time axis with gaps, the daily truth as a line, its facts."""

from __future__ import annotations

import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.dates import num2date

from plantwatch.estimates.plant_figure import PlantSeries, plant_figure, plant_title
from tests.estimates.test_report import write_inputs


def test_a_plant_figure_has_a_time_axis_with_gaps_the_daily_truth_and_its_facts(tmp_path):
    predictions, truth = write_inputs(tmp_path)
    overpasses = pd.read_csv(predictions)
    daily = pd.read_csv(truth)
    estimates = pd.DataFrame({"plant_id": "A", "period": ["2021-02", "2021-11"],
                              "generation_mwh": [250.0 * 672, 250.0 * 720],
                              "generation_mwh_low": [0.0, 0.0],
                              "generation_mwh_high": [1e6, 1e6]})  # fmt: skip
    title = plant_title("A", "Plant Alpha", "lignite", 500.0)
    assert title == "Plant Alpha (A): lignite, 500 MW"
    figure = plant_figure(PlantSeries(overpasses, estimates, daily), title, "month")
    ax = figure.axes[0]
    assert figure.get_suptitle() == title
    line = next(line for line in ax.get_lines() if line.get_label() == "daily truth")
    assert len(line.get_xdata()) == len(daily)  # every day, as a line
    estimate = ax.collections[0].get_color()[0]
    assert to_rgba(line.get_color()) != tuple(estimate)  # not the estimate's colour
    start, end = (num2date(x) for x in ax.get_xlim())
    assert start.year == 2020 or (start.year, start.month) == (2021, 1)  # a time axis
    assert end.year >= 2022  # the daily truth runs on: months without overpasses show
    periods = [c.get_segments()[0] for c in ax.collections if isinstance(c, LineCollection)]
    starts = [num2date(s[0, 0]) for s in periods if s[1, 0] - s[0, 0] > 20]  # ≥ 20 days
    assert [(d.year, d.month, d.day) for d in starts] == [(2021, 2, 1), (2021, 11, 1)]
