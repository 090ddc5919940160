"""The Markdown record of a study from its per-run table: header (runs, budget, the whole
study's time), headline table, validation choice, paired differences against the
reference variant, per-split means, every other metric folded away, figures; a record's
hand-written part (from its ``## Discussion`` heading on) is kept when it is rewritten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plantwatch.markdown_table import markdown_table
from plantwatch.studies.labels import column_label, higher_is_better, metric_label
from plantwatch.studies.labels_saved import masks_saved_lines
from plantwatch.studies.spec import Study
from plantwatch.studies.statistics import (
    CONFIDENCE,
    difference_cell,
    paired_differences,
    with_spread,
)
from plantwatch.tasks.baselines import predicted_tasks
from plantwatch.tasks.metrics import task_of

HAND_WRITTEN = "## Discussion"  # a record keeps everything from this heading on


def kinds(study: Study, runs: pd.DataFrame) -> pd.Series:
    """Each row's kind: ``trained`` (a variant's run), ``estimate`` (a variant's other
    plant-period estimate, ``<variant>: <estimate>``) or ``baseline``."""
    variants = set(study.variants)
    return runs["variant"].map(
        lambda v: "trained" if v in variants
        else "estimate" if v.split(": ")[0] in variants else "baseline"
    )  # fmt: skip


def without_unpredicted(runs: pd.DataFrame, study: Study) -> pd.DataFrame:
    """``runs`` with each baseline's scores on tasks it does not predict removed (NaN)."""
    runs = runs.copy()
    baseline = kinds(study, runs) == "baseline"
    for name in runs.loc[baseline, "variant"].unique():
        tasks = predicted_tasks(name)
        unpredicted = [c for c in runs.columns if task_of(c.removeprefix("val_")) not in
                       ("", *tasks)]  # fmt: skip
        runs.loc[runs["variant"] == name, unpredicted] = np.nan
    return runs


def summary_table(runs: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Per variant and label fraction: ``<metric>_mean``, ``<metric>_std`` (ddof 1), ``n``
    (rows) and ``labels`` (mean labelled training images, or the fraction without them)."""
    present = [m for m in metrics if m in runs]
    grouped = runs.groupby(["variant", "label_fraction"], sort=False)
    table = pd.concat(
        [grouped[present].mean().add_suffix("_mean"), grouped[present].std(ddof=1)
         .add_suffix("_std"), grouped.size().rename("n")], axis=1,
    ).reset_index()  # fmt: skip
    if "train_images" in runs and runs["train_images"].notna().any():
        images = runs.groupby("label_fraction")["train_images"].mean()
        table["labels"] = table["label_fraction"].map(images)
    else:
        table["labels"] = table["label_fraction"]
    return table


def _fraction_name(fraction: float, summary: pd.DataFrame) -> str:
    labels = summary.loc[summary["label_fraction"] == fraction, "labels"].iloc[0]
    if labels != fraction:
        return f"{labels:.0f} {summary.attrs.get('labels', 'labelled images')} ({fraction:.0%})"
    return f"label fraction {fraction:g}"


def headline_tables(summary: pd.DataFrame, metrics: tuple[str, ...], names: dict) -> list[str]:
    """One table of ``metrics`` (mean ± std over runs) with a row per variant; with several
    label fractions, one table per metric with a column per fraction."""
    metrics = tuple(m for m in metrics if f"{m}_mean" in summary)
    fractions = sorted(summary["label_fraction"].unique())
    variants = list(dict.fromkeys(summary["variant"]))
    lines = []
    if len(fractions) == 1:
        rows = []
        for variant in variants:
            row = summary[summary["variant"] == variant].iloc[0]
            cells = [with_spread(row[f"{m}_mean"], row[f"{m}_std"]) for m in metrics]
            if all(c == "–" for c in cells):
                continue
            rows.append([names[variant], str(int(row["n"])), *cells])
        header = ["variant", "runs", *map(column_label, metrics)]
        return markdown_table(header, rows, len(metrics) + 1)
    for metric in metrics:
        rows = []
        for variant in variants:
            part = summary[summary["variant"] == variant].set_index("label_fraction")
            cells = [with_spread(part.at[f, f"{metric}_mean"], part.at[f, f"{metric}_std"])
                     if f in part.index else "–" for f in fractions]  # fmt: skip
            if any(c != "–" for c in cells):
                rows.append([names[variant], *cells])
        columns = [_fraction_name(f, summary) for f in fractions]
        lines += [f"**{column_label(metric)}**", "",
                  *markdown_table(["variant", *columns], rows, len(fractions)), ""]  # fmt: skip
    return lines[:-1]


def paired_lines(
    runs: pd.DataFrame, reference: str, metrics: tuple[str, ...], summary: pd.DataFrame
) -> list[str]:
    """The table of paired differences against ``reference`` (one row per variant and label
    fraction, with the number of pairs)."""
    differences = paired_differences(runs, reference, metrics)
    if differences.empty:
        return []
    metrics = tuple(m for m in metrics if m in set(differences["metric"]))
    several = differences["label_fraction"].nunique() > 1
    rows = []
    for (variant, fraction), part in differences.groupby(["variant", "label_fraction"],
                                                         sort=False):  # fmt: skip
        by_metric = part.set_index("metric")
        cells = [difference_cell(by_metric.loc[m], higher_is_better(m)) if m in by_metric.index
                 else "–" for m in metrics]  # fmt: skip
        where = [_fraction_name(fraction, summary)] if several else []
        rows.append([variant, *where, str(int(part["n"].max())), *cells])
    header = ["variant", *(["labels"] if several else []), "pairs",
              *(f"Δ {column_label(m)}" for m in metrics)]  # fmt: skip
    return [
        f"Paired differences against **{reference}**: variant − reference over the runs "
        "that share training seed, split and label fraction; mean and "
        f"{CONFIDENCE:.0%} Student-t interval over the pairs. **Bold**: the interval "
        "excludes 0 on the better side; (worse): on the worse side.",
        "",
        *markdown_table(header, rows, len(metrics) + 1),
    ]


def per_split_lines(runs: pd.DataFrame, metrics: tuple[str, ...], names: dict) -> list[str]:
    """Mean ± std over the training seeds per split seed (several splits only)."""
    splits = runs["split_seed"].dropna().unique()
    if len(splits) < 2:
        return []
    metrics = tuple(m for m in metrics if m in runs)
    several = runs["label_fraction"].nunique() > 1
    rows = []
    for (split, fraction, variant), part in runs.groupby(
        ["split_seed", "label_fraction", "variant"], sort=True
    ):
        part_order = list(names).index(variant)
        cells = [with_spread(part[m].mean(), part[m].std(ddof=1)) for m in metrics]
        if all(c == "–" for c in cells):
            continue
        where = [f"{fraction:g}"] if several else []
        rows.append((split, fraction, part_order, [f"{split:g}", *where, names[variant],
                                                   str(len(part)), *cells]))  # fmt: skip
    rows.sort(key=lambda r: r[:3])
    header = ["split", *(["label fraction"] if several else []), "variant", "runs",
              *map(column_label, metrics)]  # fmt: skip
    return [
        "Per split (mean ± std over the training seeds; the split is often the largest "
        "source of variance):",
        "",
        *markdown_table(header, [r[3] for r in rows], len(metrics) + 1),
    ]


def chosen_variants(study: Study, summary: pd.DataFrame) -> dict[float, str]:
    """Per label fraction, the variant with the best mean validation score (the study's
    ``selection``) among those whose scores are comparable: every variant but the
    single-task baselines; empty where the runs recorded no such score."""
    score = f"{study.selection}_mean"
    if score not in summary:
        return {}
    candidates = [v for v in study.variants if v not in study.baselines.values()]
    rows = summary[summary["variant"].isin(candidates)].dropna(subset=[score])
    higher = higher_is_better(study.selection)
    return {
        fraction: part.at[part[score].idxmax() if higher else part[score].idxmin(), "variant"]
        for fraction, part in rows.groupby("label_fraction", sort=True)
    }


def chosen_lines(study: Study, summary: pd.DataFrame) -> list[str]:
    """The sentence naming the variant chosen on validation per label fraction, the score
    and the variants it was chosen among."""
    chosen = chosen_variants(study, summary)
    if not chosen:
        return []
    scored = set(summary.dropna(subset=[f"{study.selection}_mean"])["variant"])
    among = [v for v in study.variants if v not in study.baselines.values() and v in scored]
    best = "highest" if higher_is_better(study.selection) else "lowest"
    several = len(chosen) > 1
    picks = "; ".join(f"{_fraction_name(f, summary)}: **{v}**" if several else f"**{v}**"
                      for f, v in chosen.items())  # fmt: skip
    return [f"Chosen on validation ({best} mean {metric_label(study.selection)}, among "
            f"{', '.join(among)}, whose scores are comparable): {picks}"]  # fmt: skip


def _encoder_line(card: dict[str, Any]) -> str:
    """``name``: method on data, epochs, and its k-NN probe where the card has one."""
    probe = (f", k-NN {card['knn_accuracy']:.3f} (chance {card['knn_chance']:.3f})"
             if card.get("knn_accuracy") is not None and card.get("knn_chance") is not None
             else ", no k-NN probe")  # fmt: skip
    return (f"`{card['name']}` {card.get('method')} on {card.get('data')}, checkpoint after "
            f"{card.get('epochs')} epochs{probe}")


def header_lines(study: Study, runs: pd.DataFrame, meta: dict[str, Any]) -> list[str]:
    """Title, command, runs and budget, the whole study's time, versions."""
    trained = runs[runs["kind"] == "trained"]
    epochs = [a.split("=", 1)[1] for a in study.args if a.startswith("--trainer.max_epochs=")]
    budget = f"at most {epochs[-1]} epochs a run" if epochs else "epochs of the base configs"
    calls = meta.get("calls", [])
    if calls:
        elapsed = (f"{sum(c['elapsed_min'] for c in calls):.0f} min elapsed over "
                   f"{len(calls)} `compare` call(s) (jobs {sorted({c['jobs'] for c in calls})}, "
                   f"{meta.get('cpu_cores', '?')} CPU cores)")  # fmt: skip
    else:
        elapsed = meta.get("elapsed", "elapsed time of the whole study not recorded")
    lines = [
        f"# Study `{study.name}`",
        "",
        f"- command: `{meta.get('command', f'plantwatch compare {study.path}')}`",
        f"- runs: {len(trained)} of {len(study.runs())} finished ({len(study.variants)} "
        f"variants × label fractions {list(study.label_fractions)} × training seeds "
        f"{list(study.seeds)} × split seeds {list(study.split_seeds)}; None: the dataset's "
        f"own split); budget: {budget}",
        f"- time: {elapsed}; {trained['wall_s'].sum() / 60:.0f} min of training and testing "
        "summed over the runs",
        f"- validation labels: {study.validation_labels}; each run's checkpoint chosen on "
        "validation (val/selection_loss), never on test",
    ]
    if meta.get("encoders"):
        lines.append("- pretrained encoders (zoo cards; k-NN probe of the pretraining run's "
                     "validation split at the exported checkpoint, beside its chance level): "
                     + "; ".join(_encoder_line(card) for card in meta["encoders"]))  # fmt: skip
    if "versions" in meta:
        lines.append(f"- versions: {meta['versions']}")
    lines.append(f"- TensorBoard: `tensorboard --logdir runs/studies/{study.name}`")
    return lines


def prepared(study: Study, runs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``runs`` without the baselines' unpredicted scores (`without_unpredicted`), ordered
    trained variants, estimates, baselines, with a ``kind`` column; and each variant's name
    in the record (reference and baselines marked)."""
    runs = without_unpredicted(runs, study).assign(kind=kinds(study, runs))
    present = set(runs["variant"])
    order = [v for v in study.variants if v in present] + list(dict.fromkeys(
        v for k in ("estimate", "baseline") for v in runs.loc[runs["kind"] == k, "variant"]
    ))  # fmt: skip
    runs = runs.iloc[np.argsort(runs["variant"].map(order.index).to_numpy(), kind="stable")]
    kind = dict(zip(runs["variant"], runs["kind"], strict=False))
    names = {v: f"{v} (reference)" if v == study.reference
             else f"{v} (baseline)" if kind[v] == "baseline" else v for v in order}  # fmt: skip
    return runs, names


def every_metric(study: Study) -> tuple[str, ...]:
    """The record's metrics: headline, the study's others, the validation scores."""
    return tuple(dict.fromkeys((*study.headline, *study.metrics, *study.validation_metrics)))


def record_markdown(
    study: Study, runs: pd.DataFrame, meta: dict[str, Any], figures: list[Path]
) -> str:
    """The generated part of the record (see the module docstring)."""
    runs, names = prepared(study, runs)
    summary = summary_table(runs, every_metric(study))
    summary.attrs["labels"] = study.labels_name
    others = tuple(m for m in every_metric(study) if m not in study.headline)
    lines = [*header_lines(study, runs, meta), ""]
    if study.active_learning is not None:
        trained_runs = runs[runs["kind"] == "trained"]
        lines += [*masks_saved_lines(study, summary, trained_runs), ""]
    lines += [
        "## Results", "",
        "Mean ± std over the runs (baselines: over the splits), rounded to two significant "
        "digits of the std; ↑ higher is better, ↓ lower, ≈ closest to the nominal level.",
        "", *headline_tables(summary, study.headline, names), "",
        *chosen_lines(study, summary), "",
    ]  # fmt: skip
    trained = runs[runs["kind"] == "trained"]
    for part in (paired_lines(trained, study.reference, study.headline, summary),
                 per_split_lines(runs, study.headline, names)):  # fmt: skip
        if part:
            lines += [*part, ""]
    if others:
        lines += ["<details><summary>Every other metric of the study</summary>", "",
                  *headline_tables(summary, others, names), "", "</details>", ""]  # fmt: skip
    lines += [f"![{p.stem}]({p.name})" for p in figures]
    return "\n".join(lines).rstrip() + "\n"


def write_record(path: Path, generated: str) -> None:
    """Write ``generated`` to ``path``, keeping the hand-written part of an existing record."""
    kept = ""
    if path.is_file():
        text = path.read_text()
        start = text.find(f"\n{HAND_WRITTEN}")
        kept = text[start:] if start >= 0 else ""
    path.write_text(generated + kept)
