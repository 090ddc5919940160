"""Run one study run in its own process: ``python -m plantwatch.studies.worker RUN_DIR``.

Reads ``RUN_DIR/args.json``, resumes from ``checkpoints/last.ckpt`` when a killed attempt left
one, fits and tests, scores the baselines on the same test split (``baselines.json``: they
depend on the split and the label fraction, not on the model); on a dataset with a daily
truth it predicts the validation and test splits (``predictions/``) and scores the test
plants' months and years by every estimate (``estimates.json``, ``overpass_curve.csv``).
Only then it writes ``metrics.json`` (atomically): a run without it is unfinished and never
enters the results; a finished run drops ``last.ckpt`` and keeps ``best.ckpt`` (a study of
192 runs would otherwise hold 67 GB). Each attempt appends a line to ``attempts.log``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from plantwatch.studies.active_learning import SELECTION_JSON
from plantwatch.studies.annotation_loop import prepare_label_set

METRICS = "metrics.json"
BASELINES = "baselines.json"
ARGS = "args.json"
ATTEMPTS = "attempts.log"
ESTIMATES = "estimates.json"  # scores of the run's other plant-period estimates
CURVE = "overpass_curve.csv"


def predict_splits(cli: Any, run_dir: Path, splits: tuple[str, ...] = ("val", "test")) -> Path:
    """The best checkpoint's predictions of each split in ``RUN_DIR/predictions/<split>/``
    (the validation split calibrates plant-period intervals, the test split is scored);
    returns ``RUN_DIR/predictions``."""
    from plantwatch.training.prediction_writer import PredictionWriter

    trainer = cli.trainer
    writer = next(c for c in trainer.callbacks if isinstance(c, PredictionWriter))
    best = trainer.checkpoint_callback.best_model_path or None
    for split in splits:
        writer.output_dir, writer.write_masks = str(run_dir / "predictions" / split), False
        cli.datamodule.hparams.predict_split = split
        trainer.predict(cli.model, datamodule=cli.datamodule, ckpt_path=best,
                        return_predictions=False, weights_only=True)  # fmt: skip
    return run_dir / "predictions"


def plant_period_scores(run_dir: Path, dataset: Path) -> dict[str, dict[str, float]]:
    """Annual and monthly scores of the test plants by estimate (`estimates/evaluation.py`:
    pooled, simple mean, naive reference, true overpass values) from the predictions in
    ``RUN_DIR/predictions/``, against the dataset's daily truth; writes
    ``RUN_DIR/overpass_curve.csv`` (annual RMSE against clear overpasses a plant-year)."""
    from plantwatch.data.format import layout
    from plantwatch.estimates.evaluation import score_run
    from plantwatch.estimates.report import read_predictions, read_truth
    from plantwatch.training.prediction_writer import PREDICTIONS_CSV

    validation, test = (read_predictions([run_dir / "predictions" / split / PREDICTIONS_CSV])
                        for split in ("val", "test"))  # fmt: skip
    truth = {p: read_truth(dataset / layout.TRUTH_DAILY_CSV, p) for p in ("year", "month")}
    scores, curve = score_run(dataset, validation, test, truth)
    curve.to_csv(run_dir / CURVE, index=False)
    return scores


def record(run_dir: Path, metrics: dict, baselines: dict, scores: dict) -> None:
    """Write ``baselines.json``, ``estimates.json`` and, last, ``metrics.json`` (each
    atomically): the pooled estimate's scores join the run's metrics, the naive reference's
    and the true overpass values' the baselines, the other estimates (the model's simple
    mean) ``estimates.json``."""
    from plantwatch.estimates.evaluation import NAIVE, POOLED, TRUE_MEAN

    scores = dict(scores)
    metrics = {**metrics, **scores.pop(POOLED, {})}
    baselines = dict(baselines)
    for name in (NAIVE, TRUE_MEAN):
        if name in scores:
            baselines[name] = {**baselines.get(name, {}), **scores.pop(name)}
    for name, values in ((BASELINES, baselines), (ESTIMATES, scores), (METRICS, metrics)):
        partial = run_dir / f"{name}.partial"
        partial.write_text(json.dumps(values, indent=2))
        os.replace(partial, run_dir / name)


def rescore(run_dir: Path) -> None:
    """Score a finished run's saved predictions again (after the estimators changed),
    without training: the dataset is the one in the run's ``config.yaml``."""
    import yaml

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    dataset = Path(config["data"]["init_args"]["root"])
    metrics = json.loads((run_dir / METRICS).read_text())
    baselines = json.loads((run_dir / BASELINES).read_text())
    record(run_dir, metrics, baselines, plant_period_scores(run_dir, dataset))


def run(run_dir: Path) -> dict[str, float]:
    """Execute the run in ``run_dir``; returns its test metrics."""
    from plantwatch.data.format import layout
    from plantwatch.tasks.baselines import datamodule_baselines
    from plantwatch.training.cli import fit_and_test

    args = json.loads((run_dir / ARGS).read_text())
    last = run_dir / "checkpoints" / "last.ckpt"
    resume = str(last) if last.is_file() else None
    with (run_dir / ATTEMPTS).open("a") as log:
        log.write(
            f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} start resume={resume is not None}\n"
        )
    start = time.perf_counter()
    labelled = None
    if (run_dir / SELECTION_JSON).is_file():  # an active-learning round: its label set first
        labelled = prepare_label_set(run_dir, args)
    metrics, cli = fit_and_test(args, ckpt_path=resume)
    baselines = datamodule_baselines(cli.datamodule, cli.model.specs)
    root = Path(cli.datamodule.root)
    scores = {}
    if (root / layout.TRUTH_DAILY_CSV).is_file() and "power" in cli.model.tasks:
        predict_splits(cli, run_dir)
        scores = plant_period_scores(run_dir, root)
    metrics["wall_s"] = round(time.perf_counter() - start, 1)
    # labelled training images: at the label fraction, or (active learning) the task's labels
    images = len(cli.datamodule.datasets["train"])
    metrics["train_images"] = images if labelled is None else labelled
    record(run_dir, metrics, baselines, scores)
    last.unlink(missing_ok=True)  # kept for a killed attempt; a finished run keeps its best
    return metrics


if __name__ == "__main__":
    run(Path(sys.argv[1]))
