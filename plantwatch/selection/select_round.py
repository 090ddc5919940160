"""One round of active learning (``plantwatch select``): the run(s) a checkpoint came from
give the model and the data; the training pool is scored (`pool_outputs.py`), a strategy
picks ``budget`` observations whose labels of one task are unknown (`strategies.py`), and
the round writes into ``out``:

- ``requests.csv``: what to label next — rank, obs id, plant, time, the value it was chosen
  by, its uncertainty, the reason in words and a true-colour thumbnail (``thumbnails/``);
- ``label_set.json``: the labelled observations so far plus the requested ones
  (`data/format/label_sets.py`), which ``fit --data.init_args.label_set`` trains on once
  their labels are in the dataset.

Only the training split is a pool: validation and test labels are never looked at.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from plantwatch.data.format.label_sets import read_label_set, write_label_set
from plantwatch.data.tools.preview import rgb_composite
from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic
from plantwatch.files.checkpoints import load_checkpoint
from plantwatch.selection.pool import SelectionPool
from plantwatch.selection.pool_outputs import pool_outputs
from plantwatch.selection.random_selection import RandomSelection
from plantwatch.selection.strategies import STRATEGIES
from plantwatch.task_registry import get_tasks
from plantwatch.training.run_report import RUN_CONFIG, checkpoint_run

REQUESTS_CSV = "requests.csv"
LABEL_SET_JSON = "label_set.json"
THUMBNAILS_DIR = "thumbnails"


@dataclass
class SelectionRound:
    """What a round wrote and chose: ``requests`` (the table of ``requests.csv``), the paths
    of ``requests.csv`` and ``label_set.json``, and the run config the models came from."""

    requests: pd.DataFrame
    requests_csv: Path
    label_set: Path
    config: Path


def load_run(checkpoint: str | Path) -> tuple[Any, Path]:
    """(the LightningCLI of the run that wrote ``checkpoint`` with its weights loaded, the
    run's ``config.yaml``).

    Raises:
        UserError: the checkpoint is not in a run folder of ``plantwatch fit``, or unsafe.
    """
    from plantwatch.training.cli import PlantwatchCLI

    run = checkpoint_run(checkpoint)
    if run is None:
        raise UserError(f"{checkpoint}: select builds the model and the data from the run's "
                        f"{RUN_CONFIG}; give a checkpoint in a run folder of plantwatch fit "
                        "(<run>/checkpoints/best.ckpt)")  # fmt: skip
    config = yaml.safe_load((run / RUN_CONFIG).read_text())
    for key in ("ckpt_path", "weights_only"):
        config.pop(key, None)
    config["trainer"] = {**config.get("trainer", {}), "logger": False}
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:  # no "Seed set", "GPU available": nothing is trained here
        logger.setLevel(logging.WARNING)
    try:
        cli = PlantwatchCLI(args=config, run=False)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    state = load_checkpoint(checkpoint)
    cli.model.load_state_dict(state["state_dict"])
    return cli, run / RUN_CONFIG


def select_round(
    checkpoints: Sequence[str | Path],
    task: str,
    budget: int,
    out: str | Path,
    strategy: str = "hybrid",
    label_set: str | Path | None = None,
    max_per_plant: int = 2,
    seed: int = 0,
    measure: str | None = None,
    oracle: bool = False,
    thumbnails: bool = True,
    progress: bool = True,
    pool: str | None = None,
) -> SelectionRound:
    """Choose ``budget`` training observations to label for ``task`` and write the round
    (see the module docstring).

    Args:
        checkpoints: one checkpoint, or several (seeds) whose disagreement adds to the
            uncertainty; the first gives the data, the embeddings and the thumbnails.
        label_set: the labels known so far (a label set file); None: the run's own label set,
            else every training observation that has the task's label in the dataset.
        max_per_plant: at most this many requests of one plant.
        seed: the order of ``random``.
        measure: the uncertainty measure (`pool_outputs.MEASURES`); None: the task's default.
        oracle: a simulated annotator: only observations whose label the dataset holds can
            be requested (studies), instead of every unlabelled one.
        pool: the training split to choose from (``train``, ``train_50pct`` …); None: the
            run's own training split.

    Raises:
        UserError: an unknown strategy or task, no checkpoint, or a pool outside training.
    """
    if pool is not None and not (pool == "train" or pool.startswith("train_")):
        raise UserError(f"--pool {pool}: choose from a training split (train, train_<k>pct); "
                        "validation and test labels are never requested")  # fmt: skip
    if strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {strategy!r}; choose among {sorted(STRATEGIES)}")
    if not checkpoints:
        raise UserError("give at least one checkpoint")
    try:
        spec = get_tasks([task])[0]
    except ValueError as error:
        raise UserError(str(error)) from None
    runs = [load_run(c) for c in checkpoints]
    cli, config = runs[0]
    datamodule = cli.datamodule
    datamodule.prepare_data()
    dataset = datamodule.build(pool or datamodule.train_split, augment=False)
    labels = dataset.labels().set_index("obs_id")
    known = label_set or datamodule.hparams.label_set
    earlier = read_label_set(known) if known else {"labelled": [], "rounds": []}
    in_dataset = labels[spec.flag].astype(bool)
    labelled_ids = set(earlier["labelled"]) if known else set(in_dataset[in_dataset].index)
    try:
        outputs = pool_outputs([c.model for c, _ in runs], dataset, task, measure,
                               datamodule.hparams.batch_size, progress)  # fmt: skip
    except ValueError as error:
        raise UserError(str(error)) from None
    candidate = np.ones(len(outputs.obs_ids), bool)
    if oracle:
        candidate = in_dataset.loc[outputs.obs_ids].to_numpy()
    keep = candidate | np.isin(outputs.obs_ids, list(labelled_ids))
    candidates = SelectionPool(
        np.asarray(outputs.obs_ids)[keep], np.asarray(outputs.plant_ids)[keep],
        np.isin(outputs.obs_ids, list(labelled_ids))[keep], outputs.scores[keep],
        outputs.embeddings[keep], outputs.score_name, outputs.score_unit,
    )  # fmt: skip
    chooser = (RandomSelection(seed, max_per_plant) if strategy == "random"
               else STRATEGIES[strategy](max_per_plant=max_per_plant))  # fmt: skip
    try:
        chosen = chooser.select(candidates, budget)
    except ValueError as error:
        raise UserError(str(error)) from None
    out = Path(out)
    position = {obs: i for i, obs in enumerate(outputs.obs_ids)}
    rows = []
    for rank, pick in enumerate(chosen, start=1):
        obs = str(candidates.obs_ids[pick.index])
        sample = dataset[position[obs]]
        thumbnail = f"{THUMBNAILS_DIR}/{obs}.png" if thumbnails else ""
        if thumbnails:
            _thumbnail(out / thumbnail, sample["image"].numpy(), dataset.bands)
        rows.append({"rank": rank, "obs_id": obs,
                     "plant_id": str(candidates.plant_ids[pick.index]),
                     "datetime": sample.get("datetime", ""), "value": round(pick.value, 6),
                     "uncertainty": round(float(outputs.scores[position[obs]]), 6),
                     "measure": f"{outputs.score_name} ({outputs.score_unit})",
                     "reason": pick.reason,
                     "thumbnail": thumbnail})  # fmt: skip
    requests = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / REQUESTS_CSV, requests.to_csv(index=False))
    selected = list(requests["obs_id"]) if rows else []
    round_record = {
        "strategy": strategy, "task": task, "budget": budget,
        "measure": f"{outputs.score_name} ({outputs.score_unit})",
        "max_per_plant": max_per_plant, "seed": seed, "oracle": oracle,
        "pool": pool or datamodule.train_split,
        "checkpoints": [str(c) for c in checkpoints], "selected": selected,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    written = write_label_set(out / LABEL_SET_JSON, [spec.flag], labelled_ids | set(selected),
                              [*earlier.get("rounds", []), round_record])  # fmt: skip
    return SelectionRound(requests, out / REQUESTS_CSV, written, config)


def _thumbnail(path: Path, reflectance: np.ndarray, bands: Sequence[str]) -> None:
    """A true-colour PNG of one observation, 4 × its pixels."""
    height, width = reflectance.shape[-2:]
    figure = Figure(figsize=(width / 25, height / 25), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(rgb_composite(reflectance, bands), interpolation="nearest")
    axes.set_axis_off()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
