"""The monitoring report of a study: the variant chosen on validation (at the largest label
fraction), its first run with saved predictions, aggregated per plant-year and plant-month
(pooled, calibrated on that run's validation predictions) and written as a web report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from plantwatch.data.format import layout
from plantwatch.errors import UserError
from plantwatch.estimates.report import run_aggregate
from plantwatch.studies.record import chosen_variants, prepared, summary_table
from plantwatch.studies.runner import run_dir
from plantwatch.studies.spec import Study
from plantwatch.training.prediction_writer import PREDICTIONS_CSV


def write_study_report(study: Study, root: Path, runs: pd.DataFrame, out: Path) -> Path:
    """Aggregate and report one run of the chosen variant into ``out`` (``estimates/`` and
    ``site/``); returns the report's ``index.html``.

    Raises:
        UserError: no variant was chosen (no validation score) or its runs saved no
            predictions (only studies on data with a daily truth save them).
    """
    from plantwatch.report.cli import report_from

    prepared_runs, _ = prepared(study, runs)
    chosen = chosen_variants(study, summary_table(prepared_runs, (study.selection,)))
    if not chosen:
        raise UserError(f"study {study.name}: no variant chosen on validation to report")
    fraction = max(chosen)
    variant = chosen[fraction]
    for run in study.runs():
        folder = run_dir(root, run)
        test, validation = (folder / "predictions" / s / PREDICTIONS_CSV for s in ("test", "val"))
        if run.variant == variant and run.label_fraction == fraction and test.is_file():
            break
    else:
        raise UserError(f"study {study.name}: no run of {variant} saved predictions; studies "
                        "on data with a daily truth (plant-period estimates) do")  # fmt: skip
    config = yaml.safe_load((folder / "config.yaml").read_text())
    dataset = Path(config["data"]["init_args"]["root"])
    estimates = out / "estimates"
    for period in ("year", "month"):
        run_aggregate([test], estimates, period, truth=dataset / layout.TRUTH_DAILY_CSV,
                      dataset=dataset, calibration=[validation], method="pooled")  # fmt: skip
    print(f"report of {variant}, {run.group}/{run.version} (chosen on validation)")
    return report_from(estimates, out / "site")
