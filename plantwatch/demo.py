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
    from plantwatch.tasks.lightning_cli import PlantwatchCLI

    start = time.perf_counter()
    cli = PlantwatchCLI(args=["--config", config, *overrides], run=False)
    datamodule, trainer = cli.datamodule, cli.trainer
    datamodule.prepare_data()
    preview = render_preview(datamodule.root, Path(datamodule.root) / "preview.png")
    print(f"data: {datamodule.root} (preview: {preview})")
    trainer.fit(cli.model, datamodule=datamodule)
    ckpt = (
        "best"
        if trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path
        else None
    )
    trainer.test(cli.model, datamodule=datamodule, ckpt_path=ckpt)
    model = {
        k.removeprefix("test/"): v
        for k, v in cli.model.final_metrics.items()
        if k.startswith("test/")
    }
    baseline = mean_baseline_metrics(
        datamodule.datasets["train"].observations, datamodule.test_dataloader(), cli.model.tasks
    )
    print(f"\nTest metrics ({len(datamodule.datasets['test'])} observations of held-out plants):\n")
    print(results_table(model, baseline))
    print(
        f"\nfinished in {(time.perf_counter() - start) / 60:.1f} min; run folder: {trainer.log_dir}"
    )
    print(f"open TensorBoard:  .venv/bin/tensorboard --logdir {trainer.log_dir}")
    return model
