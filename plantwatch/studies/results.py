"""Study results: per-run CSV, mean ± std table, relative change to baselines, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from plantwatch.studies.runner import run_dir
from plantwatch.studies.spec import Study
from plantwatch.studies.worker import BASELINES, CURVE, ESTIMATES, METRICS
from plantwatch.task_registry import TASKS
from plantwatch.tasks.intervals import LEVELS
from plantwatch.tasks.metrics import describe_metric, task_of
from plantwatch.tasks.plots import reliability_figure


def metric_label(metric: str) -> str:
    """Column label with unit: ``val_power_mae_mw`` → ``validation power MAE (MW)``."""
    if metric == "val_selection_loss":
        return "validation selection loss"
    if metric.startswith("val_"):
        return f"validation {describe_metric(metric.removeprefix('val_'))[0]}"
    return describe_metric(metric)[0]


def collect(study: Study, root: Path) -> pd.DataFrame:
    """One row per finished run: variant, label_fraction, seed, split_seed, wall_s and test
    metrics; then one row per baseline, label fraction and split seed (baselines depend on
    the split and the training labels only, so every run of a split and fraction has the
    same ones). A run's other plant-period estimates (``estimates.json``: the model's simple
    mean) are rows ``<variant>: <estimate>`` with the run's seed."""
    rows, baselines = [], {}
    for run in study.runs():
        folder = run_dir(root, run)
        if not (folder / METRICS).is_file():
            continue
        key = {"label_fraction": run.label_fraction, "seed": run.seed,
               "split_seed": run.split_seed}  # fmt: skip
        rows.append({"variant": run.variant, **key, **json.loads((folder / METRICS).read_text())})
        if (folder / ESTIMATES).is_file():
            for name, values in json.loads((folder / ESTIMATES).read_text()).items():
                rows.append({"variant": f"{run.variant}: {name}", **key, **values})
        if (folder / BASELINES).is_file():
            for name, values in json.loads((folder / BASELINES).read_text()).items():
                record = {**key, "seed": None, **values}
                baselines.setdefault((name, run.label_fraction, run.split_seed), record)
    rows += [{"variant": name, **values} for (name, _, _), values in baselines.items()]
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Mean, sample std (ddof=1) and count of each of ``columns`` (headline and validation
    metrics) per variant and fraction."""
    metrics = [m for m in columns if m in frame]
    grouped = frame.groupby(["variant", "label_fraction"], sort=False)[metrics]
    return pd.concat(
        {"mean": grouped.mean(), "std": grouped.std(ddof=1), "n": grouped.count()}, axis=1
    )


def relative_changes(
    summary: pd.DataFrame, baselines: dict[str, str], headline: tuple[str, ...]
) -> pd.DataFrame:
    """Change of each variant's mean against the single-task baseline of the metric's task, %.

    Rows: (variant, label_fraction); columns: metrics. Positive is better for every metric
    (errors are sign-flipped), so +10 % means 10 % better than the baseline.
    """
    means = summary["mean"]
    changes = pd.DataFrame(index=means.index, columns=means.columns, dtype=float)
    for metric in headline:
        higher = describe_metric(metric)[1]
        task = task_of(metric)
        if metric not in means or task not in baselines:
            continue
        for (variant, fraction), value in means[metric].items():
            base = means[metric].get((baselines[task], fraction), np.nan)
            if (
                variant != baselines[task]
                and np.isfinite(value)
                and np.isfinite(base)
                and base != 0
            ):
                change = 100.0 * (value - base) / abs(base)
                changes.loc[(variant, fraction), metric] = change if higher else -change
    return changes.dropna(how="all")


def markdown(summary: pd.DataFrame, changes: pd.DataFrame, columns: tuple[str, ...]) -> str:
    """The mean ± std table of ``columns`` and the relative-change table as Markdown."""
    metrics = [(m, metric_label(m)) for m in columns if m in summary["mean"]]
    lines = [
        "| variant | label fraction | runs | " + " | ".join(label for _, label in metrics) + " |"
    ]
    lines.append("|---|---:|---:|" + "---:|" * len(metrics))
    for (variant, fraction), row in summary["mean"].iterrows():
        cells = []
        for metric, _ in metrics:
            mean, std = row[metric], summary["std"].loc[(variant, fraction), metric]
            cells.append("–" if not np.isfinite(mean) else f"{mean:.3f} ± {std:.3f}")
        runs = int(summary["n"].loc[(variant, fraction)].max())
        if runs == 0:  # an estimate none of the runs made (e.g. no plant-period scores)
            continue
        lines.append(f"| {variant} | {fraction:g} | {runs} | " + " | ".join(cells) + " |")
    if not changes.empty:
        shown = [(m, label) for m, label in metrics if changes[m].notna().any()]
        lines += [
            "",
            "Relative change against the single-task baseline of each task (%, positive = better):",
            "",
        ]
        lines.append(
            "| variant | label fraction | " + " | ".join(label for _, label in shown) + " |"
        )
        lines.append("|---|---:|" + "---:|" * len(shown))
        for (variant, fraction), row in changes.iterrows():
            cells = ["" if not np.isfinite(row[m]) else f"{row[m]:+.1f}" for m, _ in shown]
            lines.append(f"| {variant} | {fraction:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chosen_on_validation(summary: pd.DataFrame, variants: list[str]) -> dict[float, str]:
    """Per label fraction, the variant (of ``variants``) with the lowest mean validation
    selection loss; empty when the runs recorded none."""
    if "val_selection_loss" not in summary["mean"]:
        return {}
    losses = summary["mean"]["val_selection_loss"].dropna()
    losses = losses[losses.index.get_level_values(0).isin(variants)]
    return {fraction: rows.idxmin()[0] for fraction, rows in losses.groupby(level=1)}


def plot_metrics(
    summary: pd.DataFrame, out: Path, name: str, headline: tuple[str, ...]
) -> list[Path]:
    """One PNG per headline metric: mean ± std against label fraction, a line per variant;
    with a single label fraction, one bar per variant."""
    paths = []
    single = summary.index.get_level_values(1).nunique() == 1
    for metric in headline:
        if metric not in summary["mean"]:
            continue
        label = describe_metric(metric)[0]
        figure = Figure(figsize=(5, 3.6), layout="constrained")
        ax = figure.subplots()
        if single:
            means = summary["mean"][metric].droplevel(1)
            ax.barh(means.index, means.values, xerr=summary["std"][metric].fillna(0).values,
                    capsize=3)  # fmt: skip
            ax.invert_yaxis()
            ax.set_xlabel(label)
            path = out / f"{name}_{metric}.png"
            figure.savefig(path, dpi=110)
            paths.append(path)
            continue
        figure.set_size_inches(7, 3.6)  # room for the legend beside the axes
        colours = colormaps["tab20"].colors
        for k, (variant, rows) in enumerate(summary["mean"][metric].groupby(level=0, sort=False)):
            if rows.notna().any():
                fractions = rows.index.get_level_values(1)
                std = summary["std"][metric].loc[variant].reindex(fractions)
                trained = not summary["std"][metric].loc[variant].isna().all()
                ax.errorbar(
                    fractions,
                    rows.values,
                    yerr=std.fillna(0).values,
                    marker="o" if trained else None,
                    linestyle="-" if trained else "--",  # baselines: dashed, no seeds
                    color=colours[k % len(colours)],
                    capsize=3,
                    label=variant,
                )
        ax.set_xscale("log")
        ax.set_xlabel("label fraction of the training split")
        ax.set_ylabel(label)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        path = out / f"{name}_{metric}.png"
        figure.savefig(path, dpi=110)
        paths.append(path)
    return paths


def plot_reliability(frame: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Per regression task with conformal intervals (``<task>_coverage_<level>`` in the runs):
    the mean test coverage at every nominal level, a line per variant."""
    paths = []
    for spec in (s for s in TASKS.values() if s.kind == "regression"):
        columns = [f"{spec.name}_coverage_{round(100 * level)}" for level in LEVELS]
        if not set(columns) <= set(frame):
            continue
        means = frame.groupby("variant", sort=False)[columns].mean().dropna()
        if means.empty:
            continue
        figure = reliability_figure(LEVELS, {v: list(row) for v, row in means.iterrows()})
        figure.axes[0].set_title(f"{spec.display}: conformal intervals", fontsize=9)
        path = out / f"{name}_{spec.name}_reliability.png"
        figure.savefig(path, dpi=110)
        paths.append(path)
    return paths


def overpass_curves(study: Study, root: Path) -> pd.DataFrame:
    """The finished runs' ``overpass_curve.csv`` in one table (``variant`` and ``seed``,
    ``split_seed`` added); empty without any."""
    frames = [
        pd.read_csv(run_dir(root, run) / CURVE).assign(
            variant=run.variant, seed=run.seed, split_seed=run.split_seed
        )
        for run in study.runs()
        if (run_dir(root, run) / METRICS).is_file() and (run_dir(root, run) / CURVE).is_file()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def plot_overpass_curves(curves: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Annual RMSE (mean ± std over runs) of each estimate against the clear overpasses a
    plant-year keeps, one figure per quantity: ``<name>_overpasses_<metric>.png``."""
    paths = []
    for metric in ("power_annual_rmse_twh", "co2_annual_rmse_mt"):
        if curves.empty or curves[metric].isna().all():
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
            ax.errorbar(x.to_numpy()[order], mean.to_numpy()[order], yerr=std.to_numpy()[order],
                        marker="o", capsize=3,
                        label=estimate if one_variant else f"{variant}: {estimate}")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("clear overpasses per plant-year (mean)")
        ax.set_ylabel(metric_label(metric))
        ax.legend(fontsize=7)
        path = out / f"{name}_overpasses_{metric}.png"
        figure.savefig(path, dpi=110)
        paths.append(path)
    return paths


def write_results(study: Study, root: Path, out: Path, header: str = "") -> Path:
    """Write ``<out>/<name>.csv``, ``<name>.md`` (with ``header`` on top) and the plots."""
    out.mkdir(parents=True, exist_ok=True)
    frame = collect(study, root)
    if frame.empty:
        raise ValueError(f"study {study.name}: no finished runs under {root}")
    frame.to_csv(out / f"{study.name}.csv", index=False)
    columns = (*study.metrics, *study.validation_metrics)
    summary = summarise(frame, columns)
    plots = plot_metrics(summary, out, study.name, study.metrics)
    plots += plot_reliability(frame[frame["variant"].isin(list(study.variants))], out, study.name)
    plots += plot_overpass_curves(overpass_curves(study, root), out, study.name)
    body = markdown(summary, relative_changes(summary, study.baselines, study.metrics), columns)
    # A single-task baseline's selection loss covers one task: not comparable with the rest.
    candidates = [v for v in study.variants if v not in study.baselines.values()]
    chosen = chosen_on_validation(summary, candidates)
    if chosen:
        among = " among the variants that predict every task" if study.baselines else ""
        body += (
            f"\n\nChosen on validation (lowest mean validation selection loss{among}): "
            + ", ".join(f"label fraction {f:g}: **{v}**" for f, v in chosen.items())
        )
    figures = "\n".join(f"![{p.stem}]({p.name})" for p in plots)
    document = out / f"{study.name}.md"
    document.write_text(f"{header}\n\n{body}\n\n{figures}\n".lstrip())
    return document
