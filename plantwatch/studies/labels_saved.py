"""The headline of an active-learning study's record: the labels each strategy saves
against the reference at equal score (read off the reference's mean curve), with the
paired difference at the last round — a gain counts only where its interval excludes 0."""

from __future__ import annotations

import itertools

import pandas as pd

from plantwatch.studies.spec import Study


def masks_saved(
    summary: pd.DataFrame, metric: str, strategy: str, reference: str, higher: bool = True
) -> dict[str, float | None]:
    """How many labels ``reference`` needs to reach what ``strategy`` reaches with its
    largest number (mean curves over seeds and splits, linear between rounds): ``labels``
    (the strategy's), ``value``, ``reference_labels`` (None where the reference never reaches
    it within its rounds) and ``saved`` (``reference_labels − labels``)."""
    sign = 1.0 if higher else -1.0

    def curve(variant: str) -> pd.Series:
        part = summary[summary["variant"] == variant].sort_values("labels")
        return pd.Series(sign * part[f"{metric}_mean"].to_numpy(), index=part["labels"].to_numpy())

    mine, theirs = curve(strategy), curve(reference)
    labels, value = float(mine.index[-1]), float(mine.iloc[-1])
    reached = float(theirs.index[0]) if len(theirs) and theirs.iloc[0] >= value else None
    for (x0, y0), (x1, y1) in itertools.pairwise(theirs.items()):
        if reached is None and y0 < value <= y1:
            reached = float(x0 + (value - y0) / (y1 - y0) * (x1 - x0))
    saved = None if reached is None else reached - labels
    return {"labels": labels, "value": sign * value, "reference_labels": reached, "saved": saved}


def masks_saved_lines(study: Study, summary: pd.DataFrame, trained: pd.DataFrame) -> list[str]:
    """The record's headline of an active-learning study: per strategy, the labels the
    reference needs for what the strategy reaches in its last round, and the paired
    difference there; the strategy chosen on validation (its validation score at the last
    round) and the verdict — a gain counts only where the paired interval excludes 0."""
    from plantwatch.markdown_table import markdown_table
    from plantwatch.studies.labels import higher_is_better, metric_label
    from plantwatch.studies.statistics import difference_cell, paired_differences

    assert study.active_learning is not None
    metric = study.active_learning.metric
    if f"{metric}_mean" not in summary:
        return []
    reference, last = study.reference, study.label_fractions[-1]
    higher = higher_is_better(metric)
    pairs = paired_differences(trained, reference, (metric,))
    pairs = pairs[pairs["label_fraction"] == last].set_index("variant")
    most = summary.loc[summary["variant"] == reference, "labels"].max()
    name = metric_label(metric)
    lines = [f"## Labels saved at equal {name}", "",
             f"What `{reference}` needs (its mean curve over seeds and splits, linear between "
             f"rounds) to reach what each strategy reaches in its last round, and the paired "
             f"difference there (95 % interval; **bold**: excludes 0 on the better side).", ""]
    found: dict[str, dict] = {}
    rows = []
    for strategy in study.variants:
        if strategy == reference or strategy not in set(summary["variant"]):
            continue
        found[strategy] = masks_saved(summary, metric, strategy, reference, higher)
        row = found[strategy]
        needs = (f"{row['reference_labels']:.0f}" if row["reference_labels"] is not None
                 else f"more than {most:.0f}")  # fmt: skip
        saved = (f"{row['saved']:+.0f}".replace("-", "−") if row["saved"] is not None
                 else f"more than {most - row['labels']:.0f}")  # fmt: skip
        delta = difference_cell(pairs.loc[strategy], higher) if strategy in pairs.index else "–"
        rows.append([strategy, f"{row['labels']:.0f}", f"{row['value']:.3f}", needs, saved, delta])
    lines += markdown_table(
        ["strategy", "labels", name, f"`{reference}` needs", "saved", f"Δ {name}"], rows
    )
    confident = [s for s in found if s in pairs.index
                 and (pairs.at[s, "low"] > 0 if higher else pairs.at[s, "high"] < 0)]  # fmt: skip
    score = f"val_{metric}_mean"
    final = summary[(summary["label_fraction"] == last) & summary["variant"].isin(list(found))]
    if score in final and final[score].notna().any():
        best = final.set_index("variant")[score]
        chosen = str(best.idxmax() if higher else best.idxmin())
        row = found[chosen]
        if row["reference_labels"] is None:
            reach = (f"`{reference}` does not reach its {name} of {row['value']:.3f} with its "
                     f"most labels ({most:.0f}), so what it saves is not measurable within the "
                     "rounds")  # fmt: skip
        else:
            reach = f"it saves {row['saved']:.0f} labels on the mean curves".replace("-", "−")
        sure = ("the paired difference excludes 0" if chosen in confident
                else "but the paired difference at the last round includes 0: within the "
                "noise of seeds and splits")  # fmt: skip
        lines += ["", f"Chosen on validation (validation {name} at the last round): "
                  f"**{chosen}**; {reach}; {sure}."]  # fmt: skip
    if not confident:
        lines += ["", f"No strategy beats `{reference}` with confidence at this budget: every "
                  "paired interval at the last round includes 0."]  # fmt: skip
    return lines
