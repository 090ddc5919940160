"""The demo: train the multitask model on the built-in synthetic data, test it, and compare.

Prints a table of test metrics per task beside the predict-the-mean baseline and the
command that opens TensorBoard on the run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from plantwatch.data.preview import render_preview
from plantwatch.tasks.baselines import mean_baseline_metrics

# Metrics shown in the table: (metric name, label).
HEADLINE: tuple[tuple[str, str], ...] = (
    ("plume_iou", "plume IoU (all pixels)"),
    ("plume_f1", "plume F1 (all pixels)"),
    ("plume_detection_precision", "plume detection precision (images)"),
    ("plume_detection_recall", "plume detection recall (images)"),
    ("plume_iou_both_nonempty", "plume IoU per image, both non-empty (earlier papers)"),
    ("fuel_accuracy", "fuel accuracy"),
    ("fuel_macro_f1", "fuel macro-F1"),
    ("power_mae_mw", "power MAE (MW)"),
    ("power_r2", "power R²"),
    ("co2_mae_t_per_h", "CO₂ MAE (t/h)"),
    ("co2_r2", "CO₂ R²"),
)


def results_table(model: dict[str, float], baseline: dict[str, float]) -> str:
    """A Markdown table of the headline metrics: model, baseline."""
    lines = ["| metric | model | predict-the-mean |", "|---|---:|---:|"]
    for key, label in HEADLINE:
        if key in model:
            lines.append(f"| {label} | {model[key]:.3f} | {baseline.get(key, float('nan')):.3f} |")
    return "\n".join(lines)


def run_demo(
    config: str = "experiments/quickstart.yaml", overrides: Sequence[str] = ()
) -> dict[str, float]:
    """Fit, test on the best validation checkpoint, print the table; returns the test metrics."""
    from plantwatch.tasks.lightning_cli import fit_and_test

    start = time.perf_counter()
    model, cli = fit_and_test(["--config", config, *overrides])
    root = cli.datamodule.root
    print(f"\ndata: {root} (preview: {render_preview(root, Path(root) / 'preview.png')})")
    baseline = mean_baseline_metrics(
        cli.datamodule.datasets["train"].observations,
        cli.datamodule.test_dataloader(),
        cli.model.tasks,
    )
    tested = len(cli.datamodule.datasets["test"])
    print(f"\nTest metrics ({tested} observations of held-out plants):\n")
    print(results_table(model, baseline))
    minutes = (time.perf_counter() - start) / 60
    print(f"\nfinished in {minutes:.1f} min; run folder: {cli.trainer.log_dir}")
    print(f"open TensorBoard:  .venv/bin/tensorboard --logdir {cli.trainer.log_dir}")
    return model
