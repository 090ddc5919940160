"""The demo: train the multitask model on the built-in synthetic data, test it, and compare.

Prints a table of test metrics per task beside the baselines, the run folder and the
commands that open it in TensorBoard and test or predict with its best checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

from plantwatch.data.tools.preview import render_preview
from plantwatch.markdown_table import markdown_table
from plantwatch.tasks.baselines import datamodule_baselines
from plantwatch.tasks.metrics import describe_metric
from plantwatch.training.run_report import next_commands

DEMO_METRICS: tuple[str, ...] = (
    "plume_iou", "plume_f1", "plume_detection_precision", "plume_detection_recall",
    "plume_iou_both_nonempty", "fuel_accuracy", "fuel_macro_f1", "power_mae_mw", "power_r2",
    "co2_mae_t_per_h", "co2_r2",
)  # fmt: skip


def _cell(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def results_table(model: dict[str, float], baselines: dict[str, dict[str, float]]) -> str:
    """A Markdown table of the headline metrics: the model, then each baseline."""
    columns = {"model": model, **baselines}
    rows = [[describe_metric(key)[0], *(_cell(values.get(key, float("nan")))
                                        for values in columns.values())]
            for key in DEMO_METRICS if key in model]  # fmt: skip
    return "\n".join(markdown_table(["metric", *columns], rows, right=len(columns)))


def run_demo(
    config: str = "quickstart", overrides: Sequence[str] = ()
) -> dict[str, float]:
    """Fit, test on the best validation checkpoint, print the table; returns the test metrics."""
    from plantwatch.training.cli import fit_and_test

    start = time.perf_counter()
    model, cli = fit_and_test(["--config", config, *overrides])
    root = cli.datamodule.root
    print(f"\ndata: {root} (preview: {render_preview(root, Path(root) / 'preview.png')})")
    baselines = datamodule_baselines(cli.datamodule, cli.model.specs)
    tested = len(cli.datamodule.datasets["test"])
    print(f"\nTest metrics ({tested} observations of held-out plants):\n")
    print(results_table(model, baselines))
    minutes = (time.perf_counter() - start) / 60
    run = Path(cli.trainer.log_dir)
    print(f"\nfinished in {minutes:.1f} min; run folder: {run}")
    print(next_commands(run))
    return model
