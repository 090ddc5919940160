"""Run one study run in its own process: ``python -m plantwatch.studies.worker RUN_DIR``.

Reads ``RUN_DIR/args.json``, resumes from ``checkpoints/last.ckpt`` when a killed attempt left
one, fits and tests, scores the baselines on the same test split (``baselines.json``: they
depend on the split and the label fraction, not on the model), and only then writes
``metrics.json`` (atomically): a run without it is unfinished and never enters the results.
Each attempt appends a line to ``attempts.log``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

METRICS = "metrics.json"
BASELINES = "baselines.json"
ARGS = "args.json"
ATTEMPTS = "attempts.log"


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


def annual_scores(cli: Any, run_dir: Path) -> dict[str, dict[str, float]]:
    """Per-plant annual totals of the test plants against the dataset's daily truth (a
    synthetic dataset's ``truth_daily.csv``), by estimate (``estimates/report.py``: the
    model, the naive reference, the true overpass values): the best checkpoint predicts the
    validation and test splits into ``RUN_DIR/predictions/``, ``plantwatch aggregate``
    scores the test split into ``RUN_DIR/annual/``. Empty without a truth or a power/CO₂
    task."""
    from plantwatch.data.format import layout
    from plantwatch.estimates.report import annual_metrics, run_aggregate
    from plantwatch.training.prediction_writer import PREDICTIONS_CSV

    root = Path(cli.datamodule.root)
    truth = root / layout.TRUTH_DAILY_CSV
    if not truth.is_file() or not {"power", "co2"} & set(cli.model.tasks):
        return {}
    predictions = predict_splits(cli, run_dir)
    written = run_aggregate([predictions / "test" / PREDICTIONS_CSV], run_dir / "annual",
                            "year", truth=truth, dataset=root)  # fmt: skip
    return annual_metrics(pd.read_csv(written["scores"]))


def run(run_dir: Path) -> dict[str, float]:
    """Execute the run in ``run_dir``; returns its test metrics."""
    from plantwatch.estimates.report import MODEL_ESTIMATE, NAIVE_ESTIMATE, SAMPLING_ESTIMATE
    from plantwatch.tasks.baselines import CAPACITY, datamodule_baselines
    from plantwatch.training.cli import fit_and_test

    args = json.loads((run_dir / ARGS).read_text())
    last = run_dir / "checkpoints" / "last.ckpt"
    resume = str(last) if last.is_file() else None
    with (run_dir / ATTEMPTS).open("a") as log:
        log.write(
            f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} start resume={resume is not None}\n"
        )
    start = time.perf_counter()
    metrics, cli = fit_and_test(args, ckpt_path=resume)
    baselines = datamodule_baselines(cli.datamodule, cli.model.specs)
    annual = annual_scores(cli, run_dir)
    metrics.update(annual.get(MODEL_ESTIMATE, {}))
    if CAPACITY in baselines:
        baselines[CAPACITY].update(annual.get(NAIVE_ESTIMATE, {}))
    if SAMPLING_ESTIMATE in annual:
        baselines[SAMPLING_ESTIMATE] = annual[SAMPLING_ESTIMATE]
    record = {**metrics, "wall_s": round(time.perf_counter() - start, 1)}
    for name, values in ((BASELINES, baselines), (METRICS, record)):
        partial = run_dir / f"{name}.partial"
        partial.write_text(json.dumps(values, indent=2))
        os.replace(partial, run_dir / name)
    return record


if __name__ == "__main__":
    run(Path(sys.argv[1]))
