"""Names of a study's metrics in tables and figures, with units and direction."""

from __future__ import annotations

from plantwatch.tasks.metrics import describe_metric


def metric_label(metric: str) -> str:
    """Label with unit: ``val_power_mae_mw`` → ``validation power MAE (MW)``."""
    if metric == "val_selection_loss":
        return "validation selection loss"
    if metric.startswith("val_"):
        return f"validation {describe_metric(metric.removeprefix('val_'))[0]}"
    return describe_metric(metric)[0]


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (a loss or an error: no)."""
    if metric == "val_selection_loss":
        return False
    return describe_metric(metric.removeprefix("val_"))[1]


def column_label(metric: str) -> str:
    """``power MAE (MW) ↓``: the label and the better direction (a coverage: ≈ nominal)."""
    if "_coverage" in metric:
        return f"{metric_label(metric)} ≈"
    return f"{metric_label(metric)} {'↑' if higher_is_better(metric) else '↓'}"
