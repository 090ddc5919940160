"""What ``plantwatch fit | validate | test | predict`` wrote, and the command to run next.

A run folder is ``<save_dir>/<name>/version_<n>``: ``config.yaml`` (what ``fit`` ran),
``checkpoints/best.ckpt`` (chosen on validation) and ``last.ckpt``, TensorBoard events, and
after ``predict`` ``predictions/predictions.csv``. ``test``, ``validate`` and ``predict`` with
a checkpoint of a run write into that run (their configs as ``config_<stage>.yaml``).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from pathlib import Path

from plantwatch.tasks.metrics import describe_metric, is_headline_metric
from plantwatch.training.best_checkpoint import BEST_NAME

RUN_CONFIG = "config.yaml"


def checkpoint_run(checkpoint: str | Path) -> Path | None:
    """The run folder of a checkpoint saved by ``plantwatch fit``
    (``<run>/checkpoints/<file>.ckpt`` beside ``<run>/config.yaml``), else None."""
    folder = Path(checkpoint).parent
    if folder.name == "checkpoints" and (folder.parent / RUN_CONFIG).is_file():
        return folder.parent
    return None


def _q(path: str | Path) -> str:
    return shlex.quote(str(path))


def _number(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3g}" if abs(value) >= 100 else f"{value:.3f}"


def metrics_table(metrics: Mapping[str, float], stage: str) -> str:
    """The headline metrics of ``stage`` (``test``: keys ``test/<name>``) as aligned,
    rounded lines with their units; the rest are in TensorBoard."""
    rows = []
    for key, value in metrics.items():
        prefix, _, name = key.partition("/")
        if prefix == stage and is_headline_metric(name):
            rows.append((describe_metric(name)[0], _number(float(value))))
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def next_commands(run: Path, *, predict: bool = True) -> str:
    """The commands that look at a run and use its best checkpoint."""
    config, best = run / RUN_CONFIG, run / "checkpoints" / BEST_NAME
    lines = [f"  tensorboard --logdir {_q(run)}"]
    for stage in ("test", "predict") if predict else ("test",):
        lines.append(f"  plantwatch {stage} --config {_q(config)} --ckpt_path {_q(best)}")
    return "next:\n" + "\n".join(lines)


def fit_report(run: Path, best: Path | None, score: float | None, monitor: str | None) -> str:
    """Where ``fit`` wrote its run and which checkpoint validation chose."""
    lines = [f"run folder: {run}"]
    if best is not None:
        chosen = f" ({monitor} {score:.4g})" if monitor and score is not None else ""
        lines.append(f"best checkpoint{chosen}: {best}")
        lines.append(next_commands(run))
    return "\n".join(lines)


def evaluation_report(metrics: Mapping[str, float], stage: str, run: Path) -> str:
    """The rounded headline metrics of ``validate``/``test`` and where all of them went."""
    table = metrics_table(metrics, stage)
    return (
        f"{stage} metrics:\n{table}\n" if table else ""
    ) + f"wrote all {stage} metrics to {run}; next: tensorboard --logdir {_q(run)}"


def prediction_report(predictions: Path, rows: int, dataset: str | Path | None) -> str:
    """Where ``predict`` wrote its table and masks, and how to total them per plant and year
    (with the plants' capacities and fuels from ``dataset``, the predicted dataset)."""
    out = predictions.parent.parent / "estimates"
    plants = f" --dataset {_q(dataset)}" if dataset else ""
    return (
        f"wrote {predictions} ({rows} observations; masks as GeoTIFFs beside it)\n"
        f"next: plantwatch aggregate {_q(predictions)} {_q(out)} --period year{plants}"
    )
