"""The demo: train the multitask model on the built-in synthetic data, test it, and compare.

Prints a table of test metrics per task beside the predict-the-mean baseline and the
command that opens TensorBoard on the run.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from plantwatch.data.tools.preview import render_preview
from plantwatch.tasks.baselines import datamodule_baselines
from plantwatch.tasks.metrics import describe_metric

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
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for key in DEMO_METRICS:
        if key in model:
            label, _ = describe_metric(key)
            cells = [_cell(values.get(key, float("nan"))) for values in columns.values()]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_demo(
    config: str = "experiments/quickstart.yaml", overrides: Sequence[str] = ()
) -> dict[str, float]:
    """Fit, test on the best validation checkpoint, print the table; returns the test metrics."""
    from plantwatch.training.cli import fit_and_test

    start = time.perf_counter()
    # What a newcomer needs is the progress and the table: not the library's chatter (the
    # demo passes LightningCLI its own arguments on purpose; two deprecations inside
    # Lightning) nor the module summary, which `--trainer.enable_model_summary=true` restores.
    for message in ("LightningCLI's args parameter is intended", r"`isinstance\(treespec",
                    "Precision bf16-mixed is not supported by the model summary"):  # fmt: skip
        warnings.filterwarnings("ignore", message=message)
    args = ["--config", config, "--trainer.enable_model_summary=false", *overrides]
    model, cli = fit_and_test(args)
    root = cli.datamodule.root
    print(f"\ndata: {root} (preview: {render_preview(root, Path(root) / 'preview.png')})")
    baselines = datamodule_baselines(cli.datamodule, cli.model.specs)
    tested = len(cli.datamodule.datasets["test"])
    print(f"\nTest metrics ({tested} observations of held-out plants):\n")
    print(results_table(model, baselines))
    minutes = (time.perf_counter() - start) / 60
    print(f"\nfinished in {minutes:.1f} min; run folder: {cli.trainer.log_dir}")
    print(f"open TensorBoard:  .venv/bin/tensorboard --logdir {cli.trainer.log_dir}")
    return model
