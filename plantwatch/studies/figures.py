"""Figures of a study record: each headline metric by variant (one label fraction: every
run as a dot beside the mean ± std, baselines as labelled dashed lines) or against the
number of training labels (several fractions: one small panel per variant beside the
reference), reliability of the conformal intervals, and annual error against overpasses."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from plantwatch.studies.labels import metric_label
from plantwatch.task_registry import TASKS
from plantwatch.tasks.intervals import LEVELS
from plantwatch.tasks.metrics import describe_metric
from plantwatch.tasks.plots import reliability_figure

NOMINAL_LEVEL = 0.9  # of the interval coverages a study reports without a level in the name
REFERENCE_COLOUR, VARIANT_COLOUR, BASELINE_COLOUR = "0.45", "C0", "C3"


def nominal_level(metric: str) -> float | None:
    """The nominal coverage of a coverage metric (``power_coverage_80`` → 0.8, else 0.9);
    None for other metrics."""
    if "_coverage" not in metric:
        return None
    found = re.search(r"_coverage_(\d+)$", metric)
    return int(found.group(1)) / 100 if found else NOMINAL_LEVEL


def _direction(metric: str) -> str:
    if nominal_level(metric) is not None:
        return "closer to the nominal level is better"
    return "higher is better" if describe_metric(metric)[1] else "lower is better"


def _baseline_lines(ax, baselines: dict[str, float], lo: float, hi: float) -> None:
    """Dashed labelled lines at the baselines' values; one far outside [lo, hi] would
    squeeze the variants' differences, so it is named at the axis edge instead."""
    margin = max(hi - lo, 1e-9) * 0.6
    off_axis = []
    for name, value in baselines.items():
        if lo - margin <= value <= hi + margin:
            ax.axvline(value, color=BASELINE_COLOUR, linestyle="--", linewidth=1)
            ax.annotate(name, (value, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=6, color=BASELINE_COLOUR, ha="right", va="top")  # fmt: skip
        else:
            off_axis.append(f"{name}: {value:.3g} ({'→' if value > hi else '←'})")
    if off_axis:
        ax.set_title("baselines off the axis: " + "; ".join(off_axis), fontsize=6,
                     color=BASELINE_COLOUR, loc="left")  # fmt: skip


def dot_figure(
    runs: pd.DataFrame, baselines: dict[str, float], metric: str, order: list[str], reference: str
) -> Figure:
    """One label fraction: every run of each variant as a dot, its mean ± std as a bar,
    the reference variant grey, baselines dashed; the x-axis spans the variants."""
    figure = Figure(figsize=(6, 1.2 + 0.32 * len(order)), layout="constrained")
    ax = figure.subplots()
    rng = np.random.default_rng(0)  # jitter of the dots, the same in every regeneration
    extent = []
    for i, variant in enumerate(order):
        values = runs.loc[runs["variant"] == variant, metric].dropna().to_numpy()
        if not len(values):
            continue
        colour = REFERENCE_COLOUR if variant == reference else VARIANT_COLOUR
        ax.scatter(values, i + rng.uniform(-0.15, 0.15, len(values)), s=10, alpha=0.5,
                   color=colour, linewidths=0)  # fmt: skip
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(values.mean(), i, xerr=std, fmt="o", color=colour, capsize=3)
        extent += [values.min(), values.max()]
    ax.set_yticks(range(len(order)), [f"{v} (reference)" if v == reference else v
                                      for v in order], fontsize=8)  # fmt: skip
    ax.set_ylim(len(order) - 0.5, -0.5)
    nominal = nominal_level(metric)
    if nominal is not None:
        ax.axvline(nominal, color="k", linestyle=":", linewidth=1)
        ax.annotate(f"nominal {nominal:.0%}", (nominal, 0.0), xycoords=("data", "axes fraction"),
                    fontsize=6, ha="left", va="bottom")  # fmt: skip
        extent.append(nominal)
    if extent:
        _baseline_lines(ax, baselines, min(extent), max(extent))
    ax.set_xlabel(f"{metric_label(metric)} — {_direction(metric)}", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return figure


def panels_figure(
    summary: pd.DataFrame, metric: str, order: list[str], reference: str, baselines: list[str]
) -> Figure:
    """Several label fractions: one panel per variant that reports ``metric`` (mean ± std
    over seeds against the number of training labels) beside the reference (grey) and the
    baselines (dashed)."""
    reported = set(summary.loc[summary[f"{metric}_mean"].notna(), "variant"])
    others = [v for v in order if v != reference and v not in baselines and v in reported]
    columns = min(4, max(1, len(others)))
    rows = -(-len(others) // columns) or 1
    figure = Figure(figsize=(2.6 * columns, 2.1 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()

    def line(ax, variant: str, spread: bool, **style) -> None:
        part = summary[summary["variant"] == variant].sort_values("labels")
        if part[f"{metric}_mean"].notna().any():
            error = part[f"{metric}_std"].fillna(0.0) if spread else None
            ax.errorbar(part["labels"], part[f"{metric}_mean"], yerr=error, capsize=2, **style)

    ticks = sorted(summary["labels"].unique())
    for ax, variant in zip(axes, others, strict=False):
        for k, name in enumerate(baselines):
            line(ax, name, False, color=BASELINE_COLOUR, linestyle=("--", "-.", ":")[k % 3],
                 linewidth=1, label=f"{name} (baseline)")  # fmt: skip
        line(ax, reference, True, color=REFERENCE_COLOUR, marker=".",
             label=f"{reference} (reference)")  # fmt: skip
        line(ax, variant, True, color=VARIANT_COLOUR, marker="o", markersize=3,
             label="the panel's variant")  # fmt: skip
        nominal = nominal_level(metric)
        if nominal is not None:
            ax.axhline(nominal, color="k", linestyle=":", linewidth=1, label="nominal level")
        ax.set_title(variant, fontsize=8)
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(others) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper center", ncols=min(3, len(labels)),
                  fontsize=7)  # fmt: skip
    figure.supxlabel(f"{summary.attrs.get('labels', 'labelled training images')} (log scale)",
                     fontsize=8)  # fmt: skip
    figure.supylabel(f"{metric_label(metric)} — {_direction(metric)}", fontsize=8)
    return figure


def reliability_figures(runs: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Per regression task with conformal intervals (``<task>_coverage_<level>`` in the runs):
    the mean test coverage at every nominal level, a line per variant."""
    paths = []
    for spec in (s for s in TASKS.values() if s.kind == "regression"):
        columns = [f"{spec.name}_coverage_{round(100 * level)}" for level in LEVELS]
        if not set(columns) <= set(runs):
            continue
        means = runs.groupby("variant", sort=False)[columns].mean().dropna()
        if means.empty:
            continue
        figure = reliability_figure(LEVELS, {v: list(row) for v, row in means.iterrows()})
        figure.axes[0].set_title(f"{spec.display}: conformal intervals", fontsize=9)
        path = out / f"{name}_{spec.name}_reliability.png"
        figure.savefig(path, dpi=110)
        paths.append(path)
    return paths


def overpass_figures(curves: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Annual RMSE (mean ± std over runs) of each estimate against the clear overpasses a
    plant-year keeps, one figure per quantity: ``<name>_overpasses_<metric>.png``; the
    estimates that are no model's (naive, true overpass values) dashed."""
    paths = []
    for metric in ("power_annual_rmse_twh", "co2_annual_rmse_mt"):
        if curves.empty or metric not in curves or curves[metric].isna().all():
            continue
        figure = Figure(figsize=(6, 4), layout="constrained")
        ax = figure.subplots()
        one_variant = curves["variant"].nunique() == 1
        for (variant, estimate), rows in curves.groupby(["variant", "estimate"], sort=False):
            by_count = rows.groupby("overpasses", sort=False)
            x, mean, std = by_count["mean_overpasses"].mean(), by_count[metric].mean(), (
                by_count[metric].std(ddof=1).fillna(0.0)
            )  # fmt: skip
            order = np.argsort(x.to_numpy())
            model = estimate.startswith("plantwatch")
            ax.errorbar(x.to_numpy()[order], mean.to_numpy()[order], yerr=std.to_numpy()[order],
                        marker="o" if model else None, linestyle="-" if model else "--",
                        capsize=3,
                        label=estimate if one_variant else f"{variant}: {estimate}")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # plain numbers
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("clear overpasses per plant-year (mean)")
        ax.set_ylabel(f"{metric_label(metric)} — lower is better")
        figure.legend(fontsize=7, loc="outside right upper")
        ax.grid(alpha=0.3)
        path = out / f"{name}_overpasses_{metric}.png"
        figure.savefig(path, dpi=110)
        paths.append(path)
    return paths
