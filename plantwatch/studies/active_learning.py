"""Active-learning studies: the annotation loop simulated by the study runner.

A study with an ``active_learning`` key (task, per-plant cap, measure) has the selection
strategies as variants and, as label fractions, the shares of the training scenes with the
task's label that are labelled after each round (e.g. 0.02, 0.12, 0.22: a start of 2 %
of the masks, then +10 % a round). The first fraction is the start, shared by every strategy
of a split and seed: the reference variant trains on a seeded random seed set. Each later
run of a strategy asks the previous round's best checkpoint of the same strategy (the start
run for the second round) for the next masks (`selection.select_round`, with a simulated
annotator that holds every training mask: ``oracle``) and trains from scratch on the grown
label set; every image and every other label stays in training, and validation and test are
never looked at. The record's x-axis is the number of masks.

This module holds the settings and the layout of the label sets; `annotation_loop.py` runs
the loop, `labels_saved.py` writes the record's headline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plantwatch.studies.run import Run

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


def check_active_learning(
    path: Path,
    settings: ActiveLearning,
    variants: tuple[str, ...],
    fractions: tuple[float, ...],
    metrics: tuple[str, ...],
) -> None:
    """Refuse an active-learning study (file ``path``) whose variants are no strategies,
    whose label fractions do not grow, whose task is unknown or whose metric it does not
    report.

    Raises:
        UserError: naming the study file and the key.
    """
    from plantwatch.errors import UserError
    from plantwatch.selection.strategies import STRATEGIES
    from plantwatch.task_registry import TASKS

    unknown = sorted(set(variants) - set(STRATEGIES))
    if unknown:
        raise UserError(f"{path}: active_learning: variants {unknown} are no strategies "
                        f"({sorted(STRATEGIES)})")  # fmt: skip
    if len(fractions) < 2 or list(fractions) != sorted(set(fractions)) or fractions[-1] > 1:
        raise UserError(f"{path}: active_learning: label_fractions {list(fractions)} must grow, "
                        "at least a start and one round, at most 1")  # fmt: skip
    if settings.task not in TASKS:
        raise UserError(f"{path}: active_learning: unknown task {settings.task!r}")
    if settings.metric not in metrics:
        raise UserError(f"{path}: active_learning: metric {settings.metric!r} is not among "
                        f"the study's metrics {list(metrics)}")  # fmt: skip


def label_set_path(root: Path, run: Run, first_fraction: float) -> Path:
    """The label set a run trains on: the start set of its split and seed, or the round's."""
    chain = root / "label_sets" / run.version
    if run.label_fraction == first_fraction:
        return chain / START / "label_set.json"
    return chain / run.variant / f"frac{run.label_fraction:g}" / "label_set.json"
