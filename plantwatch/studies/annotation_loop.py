"""The simulated annotation loop of an active-learning study (`active_learning.py`): which
run chooses a run's new labels, the plan the runner hands the worker (``selection.json``),
and the worker making the run's label set before it trains."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from plantwatch.studies.active_learning import SELECTION_JSON, START, label_set_path
from plantwatch.studies.run import Run
from plantwatch.studies.spec import Study


def previous_run(study: Study, run: Run) -> Run | None:
    """The run whose checkpoint chooses ``run``'s new labels: the same strategy's previous
    round, the reference's start run for the second round; None for a start run."""
    fractions = study.label_fractions
    index = fractions.index(run.label_fraction)
    if index == 0:
        return None
    variant = study.reference if index == 1 else run.variant
    return dataclasses.replace(run, variant=variant, label_fraction=fractions[index - 1])


def selection_plan(
    study: Study, run: Run, root: Path, folder_of: Callable[[Run], Path]
) -> dict[str, Any]:
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
