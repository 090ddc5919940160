"""The true-plume reference: how much of the plume's information a model uses.

A scikit-learn gradient-boosted model fitted on the training split's *true* plume
statistics — plume pixel count, extent, brightness contrast — with the weather and the
capacity (and the true fuel, for the regression tasks), scored on the test split with the
same metrics as the models. It reads ground-truth masks, so it is no competitor, and it is
no strict upper bound either (the image holds more than these few numbers); a model whose
power error is far above it leaves information in the plume unused.

Only observations with a plume mask enter it, training and test alike; its metrics
therefore cover the test observations that have a mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from tqdm.auto import tqdm

from plantwatch.bands import RGB, band_indices
from plantwatch.task_registry import SEGMENTATION_IGNORE, TaskSpec
from plantwatch.tasks.metrics import TaskMetrics

TRUE_PLUME = "true-plume reference (reads true masks)"
PLUME_FEATURES: tuple[str, ...] = ("plume_pixels", "plume_extent_px", "plume_brightness")
REFERENCE_TASKS: tuple[str, ...] = ("fuel", "power", "co2")


def plume_features(sample: Mapping[str, Any], bands: Sequence[str]) -> np.ndarray:
    """True-plume statistics of one sample, float64 [3]: plume pixel count; extent (the
    diagonal of the plume's bounding box, px); brightness (mean visible reflectance inside
    the plume minus outside it). All 0 without plume pixels."""
    mask = np.asarray(sample["mask"])
    plume = (mask == 1) & (mask != SEGMENTATION_IGNORE)
    if not plume.any():
        return np.zeros(len(PLUME_FEATURES))
    rows, cols = np.nonzero(plume)
    extent = float(np.hypot(np.ptp(rows) + 1, np.ptp(cols) + 1))
    visible = np.asarray(sample["image"])[band_indices(bands, RGB)].mean(axis=0)
    outside = visible[~plume].mean() if (~plume).any() else 0.0
    return np.array([float(plume.sum()), extent, float(visible[plume].mean() - outside)])


def _table(dataset: Any, progress: bool) -> dict[str, np.ndarray]:
    """Features and targets of the dataset's samples that carry a plume mask."""
    rows: list[dict[str, Any]] = []
    for index in tqdm(range(len(dataset)), desc="true-plume features", disable=not progress):
        sample = dataset[index]
        if not bool(sample["has_mask"]):
            continue
        rows.append({
            "features": np.concatenate([
                plume_features(sample, dataset.bands), np.asarray(sample["aux"], np.float64),
                [float(sample["capacity"]) if sample["has_capacity"] else np.nan],
            ]),
            **{k: sample[k] for k in ("fuel", "power", "co2", "has_fuel", "has_power", "has_co2")},
        })  # fmt: skip
    if not rows:
        return {}
    return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}


def _with_fuel(table: Mapping[str, np.ndarray]) -> np.ndarray:
    fuel = np.where(table["has_fuel"], table["fuel"], np.nan)
    return np.column_stack([table["features"], fuel])


def true_plume_reference(
    train: Any, test: Any, specs: Sequence[TaskSpec], progress: bool = False
) -> dict[str, float]:
    """Metrics of the true-plume reference on ``test`` (both datasets without augmentation).

    Fuel is predicted from the plume features, weather and capacity; power and CO₂ from
    those and the true fuel. Returns ``{}`` when either split has no plume masks.
    """
    wanted = [s for s in specs if s.name in REFERENCE_TASKS]
    if not wanted:  # e.g. the ben-ge tasks: no plant task to score, no plume masks to read
        return {}
    fit, score = _table(train, progress), _table(test, progress)
    if not fit or not score:
        return {}
    outputs: dict[str, torch.Tensor] = {}
    for spec in wanted:
        known = fit[spec.flag].astype(bool)
        if known.sum() < 2:
            continue
        if spec.kind == "multiclass":
            model = HistGradientBoostingClassifier(random_state=0)
            model.fit(fit["features"][known], fit[spec.target][known])
            probs = np.zeros((len(score["features"]), len(spec.classes)))
            probs[:, model.classes_] = model.predict_proba(score["features"])
            outputs[spec.name] = torch.from_numpy(np.log(probs + 1e-9)).float()
        else:
            fuel_column = [fit["features"].shape[1]]  # the true fuel, a category (NaN: unknown)
            model = HistGradientBoostingRegressor(random_state=0, categorical_features=fuel_column)
            model.fit(_with_fuel(fit)[known], fit[spec.target][known])
            outputs[spec.name] = torch.from_numpy(model.predict(_with_fuel(score))).float()
    metrics = TaskMetrics([s for s in wanted if s.name in outputs])
    batch = {k: torch.as_tensor(v) for k, v in score.items() if k != "features"}
    metrics.update(outputs, batch)
    return {k: float(v) for k, v in metrics.compute().items()}
