"""Active-learning studies: the annotation loop simulated by the study runner.

A study with an ``active_learning`` key (task, per-plant cap, measure) has the selection
strategies as variants and, as label fractions, the shares of the training scenes with the
task's label that are labelled after each round (e.g. 0.02, 0.05, 0.08: a seed set of 2 %
of the masks, then +3 % a round). The first fraction is the start, shared by every strategy
of a split and seed: the reference variant trains on a seeded random seed set. Each later
run of a strategy asks the previous round's best checkpoint of the same strategy (the start
run for the second round) for the next masks (`selection.select_round`, with a simulated
annotator that holds every training mask: ``oracle``) and trains from scratch on the grown
label set; every image and every other label stays in training, and validation and test are
never looked at. The record's x-axis is the number of masks.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from plantwatch.studies.spec import Run, Study

SELECTION_JSON = "selection.json"  # a run's place in the loop, written by the runner
START = "start"


@dataclass(frozen=True)
class ActiveLearning:
    """The ``active_learning`` key of a study file.

    Attributes:
        task: whose labels are requested (``plume``).
        max_per_plant: at most this many requests of one plant a round.
        measure: the uncertainty measure (`selection.pool_outputs.MEASURES`); None: the
            task's default.
        metric: the test metric of the record's headline (labels saved at equal …).
    """

    task: str = "plume"
    max_per_plant: int = 2
    measure: str | None = None
    metric: str = "plume_iou"


def check_active_learning(study: Study) -> None:
    """Refuse an active-learning study whose variants are no strategies, whose fractions do
    not grow, or whose task is unknown.

    Raises:
        UserError: naming the study file and the key.
    """
    from plantwatch.errors import UserError
    from plantwatch.selection.strategies import STRATEGIES
    from plantwatch.task_registry import TASKS

    settings = study.active_learning
    unknown = sorted(set(study.variants) - set(STRATEGIES))
    if unknown:
        raise UserError(f"{study.path}: active_learning: variants {unknown} are no strategies "
                        f"({sorted(STRATEGIES)})")  # fmt: skip
    fractions = list(study.label_fractions)
    if len(fractions) < 2 or fractions != sorted(set(fractions)) or fractions[-1] > 1:
        raise UserError(f"{study.path}: active_learning: label_fractions {fractions} must grow, "
                        "at least a start and one round, at most 1")  # fmt: skip
    if settings is None or settings.task not in TASKS:
        raise UserError(f"{study.path}: active_learning: unknown task "
                        f"{getattr(settings, 'task', None)!r}")  # fmt: skip
    if settings.metric not in study.metrics:
        raise UserError(f"{study.path}: active_learning: metric {settings.metric!r} is not "
                        f"among the study's metrics {list(study.metrics)}")  # fmt: skip


def label_set_path(root: Path, run: Run, first_fraction: float) -> Path:
    """The label set a run trains on: the start set of its split and seed, or the round's."""
    chain = root / "label_sets" / run.version
    if run.label_fraction == first_fraction:
        return chain / START / "label_set.json"
    return chain / run.variant / f"frac{run.label_fraction:g}" / "label_set.json"


def previous_run(study: Study, run: Run) -> Run | None:
    """The run whose checkpoint chooses ``run``'s new labels: the same strategy's previous
    round, the reference's start run for the second round; None for a start run."""
    from plantwatch.studies.spec import Run

    fractions = study.label_fractions
    index = fractions.index(run.label_fraction)
    if index == 0:
        return None
    variant = study.reference if index == 1 else run.variant
    return Run(variant, fractions[index - 1], run.seed, run.split_seed)


def selection_plan(study: Study, run: Run, root: Path, folder_of: Any) -> dict[str, Any]:
    """What the worker needs to make ``run``'s label set (``selection.json``); ``folder_of``
    maps a run to its folder."""
    assert study.active_learning is not None
    first = study.label_fractions[0]
    previous = previous_run(study, run)
    return {
        "task": study.active_learning.task,
        "max_per_plant": study.active_learning.max_per_plant,
        "measure": study.active_learning.measure,
        "strategy": run.variant,
        "fraction": run.label_fraction,
        "seed": run.seed,
        "label_set": str(label_set_path(root, run, first)),
        "previous": None if previous is None else {
            "label_set": str(label_set_path(root, previous, first)),
            "checkpoint": str(folder_of(previous) / "checkpoints" / "best.ckpt"),
        },
    }  # fmt: skip


def prepare_label_set(run_dir: Path, args: list[str]) -> int:
    """Make the label set of the run in ``run_dir`` unless it exists (a resumed run); returns
    how many observations it labels."""
    from plantwatch.data.format.label_sets import read_label_set, write_label_set
    from plantwatch.selection.pool import SelectionPool
    from plantwatch.selection.random_selection import RandomSelection
    from plantwatch.selection.select_round import select_round
    from plantwatch.task_registry import get_tasks
    from plantwatch.training.cli import PlantwatchCLI

    plan = json.loads((run_dir / SELECTION_JSON).read_text())
    target = Path(plan["label_set"])
    if not target.is_file():
        datamodule = PlantwatchCLI(args=args, run=False).datamodule
        datamodule.prepare_data()
        labels = datamodule.build(datamodule.train_split).labels()
        flag = get_tasks([plan["task"]])[0].flag
        masked = labels[labels[flag].astype(bool)]
        wanted = max(1, math.ceil(plan["fraction"] * len(masked)))
        if plan["previous"] is None:
            pool = SelectionPool(masked["obs_id"], masked["plant_id"], np.zeros(len(masked)))
            chosen = RandomSelection(plan["seed"], len(masked)).select(pool, wanted)
            ids = [str(pool.obs_ids[c.index]) for c in chosen]
            write_label_set(target, [flag], ids, [{"strategy": START, "seed": plan["seed"],
                                                   "fraction": plan["fraction"],
                                                   "selected": sorted(ids)}])  # fmt: skip
        else:
            known = read_label_set(plan["previous"]["label_set"])["labelled"]
            select_round([plan["previous"]["checkpoint"]], plan["task"], wanted - len(known),
                         target.parent, plan["strategy"], plan["previous"]["label_set"],
                         plan["max_per_plant"], plan["seed"], plan["measure"], oracle=True,
                         thumbnails=False, progress=False)  # fmt: skip
    return len(read_label_set(target)["labelled"])


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
             f"difference there (95 % interval; **bold**: excludes 0 on the better side).", "",
             f"| strategy | labels | {name} | `{reference}` needs | saved | Δ {name} |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    found: dict[str, dict] = {}
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
        lines.append(f"| {strategy} | {row['labels']:.0f} | {row['value']:.3f} | {needs} | "
                     f"{saved} | {delta} |")  # fmt: skip
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
