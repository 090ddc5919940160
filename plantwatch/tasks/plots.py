"""Figures for TensorBoard: examples of several plants (or patches, with their class maps),
confusion matrices, predicted vs true.

`ExampleCollector` keeps, over a validation or test epoch, the first observation of each of
up to ``count`` different plants (so the figure shows several plants, not eight views of
one) and every labelled (prediction, truth) pair of the regression tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from plantwatch.bands import WORLDCOVER_COLOURS
from plantwatch.data.tools.preview import rgb_composite
from plantwatch.task_registry import SEGMENTATION_IGNORE, WORLDCOVER_NAMES, TaskSpec


class ExampleCollector:
    """Examples and regression pairs of one stage's epoch (see the module docstring)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reset()

    def reset(self) -> None:
        """Start a new epoch."""
        self.samples: list[dict[str, Any]] = []
        self.pairs: dict[str, list[np.ndarray]] = {}

    def add(
        self,
        specs: Sequence[TaskSpec],
        outputs: Mapping[str, torch.Tensor],
        batch: Mapping[str, Any],
    ) -> None:
        """Take what the figures need from a batch and the model's outputs for it."""
        for spec in specs:
            if spec.kind == "regression":
                present = batch[spec.flag]
                self.pairs.setdefault(spec.name, []).append(
                    np.stack([outputs[spec.name][present].detach().float().cpu().numpy(),
                              batch[spec.target][present].float().cpu().numpy()])
                )  # fmt: skip
        if not self.count:
            return
        seen = {s["plant_id"] for s in self.samples}
        for i, plant in enumerate(batch.get("plant_id", range(len(batch["image"])))):
            if len(self.samples) >= self.count or plant in seen:
                continue
            seen.add(plant)
            sample = {k: v[i] for k, v in batch.items() if isinstance(v, torch.Tensor | list)}
            sample["plant_id"] = plant
            sample["outputs"] = {k: v[i].detach().float().cpu() for k, v in outputs.items()}
            self.samples.append(sample)

    def figure(self, specs: Sequence[TaskSpec], bands: Sequence[str]) -> Figure:
        """True-colour images with true (green) and predicted (red) binary segmentations and
        every global task's truth → prediction in the title; with a class map task, each
        image beside its true and predicted map (`class_map_figure`)."""
        rgb, truth, predicted, titles = [], [], [], []
        maps = next((s for s in specs if s.kind == "multiclass_segmentation"), None)
        if maps is not None:
            for sample in self.samples:
                rgb.append(rgb_composite(sample["image"].float().cpu().numpy(), bands))
                known = bool(sample[maps.flag])
                truth.append(sample[maps.target].cpu().numpy() if known else None)
                predicted.append(sample["outputs"][maps.name].argmax(dim=0).numpy())
                titles.append(str(sample.get("obs_id", sample["plant_id"])))
            return class_map_figure(rgb, truth, predicted, titles, maps.classes)
        dense = next((s for s in specs if s.kind == "binary_segmentation"), None)
        for sample in self.samples:
            outputs = sample["outputs"]
            rgb.append(rgb_composite(sample["image"].float().cpu().numpy(), bands))
            if dense is not None and bool(sample[dense.flag]):
                truth.append(sample[dense.target].cpu().numpy())
            else:
                truth.append(None)
            predicted.append(
                (outputs[dense.name] > 0).numpy().astype(np.uint8) if dense is not None else None
            )
            parts = [str(sample.get("obs_id", sample["plant_id"]))]
            for spec in specs:
                if spec.kind == "multiclass":
                    true = spec.classes[int(sample[spec.target])] if sample[spec.flag] else "?"
                    parts.append(f"{true} → {spec.classes[int(outputs[spec.name].argmax())]}")
                elif spec.kind == "regression":
                    true = f"{float(sample[spec.target]):.0f}" if sample[spec.flag] else "?"
                    predicted_value = float(outputs[spec.name])
                    parts.append(f"{spec.display} {true} → {predicted_value:.0f} {spec.unit}")
            titles.append("\n".join(parts))
        return examples_figure(rgb, truth, predicted, titles)


def examples_figure(
    rgb: Sequence[np.ndarray],
    truth: Sequence[np.ndarray | None],
    predicted: Sequence[np.ndarray | None],
    titles: Sequence[str],
    columns: int = 4,
) -> Figure:
    """True-colour images [H, W, 3] with the true (green) and predicted (red) plume outline."""
    rows = max(1, int(np.ceil(len(rgb) / columns)))
    figure = Figure(figsize=(3.2 * columns, 3.4 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, true, pred, title in zip(axes.flat, rgb, truth, predicted, titles, strict=False):
        ax.imshow(image)
        for mask, colour in ((true, "lime"), (pred, "red")):
            if mask is not None and (mask == 1).any():
                ax.contour(np.where(mask == SEGMENTATION_IGNORE, 0, mask), levels=[0.5],
                           colors=colour)  # fmt: skip
        ax.set_title(title, fontsize=8)
    return figure


def class_map_figure(
    rgb: Sequence[np.ndarray],
    truth: Sequence[np.ndarray | None],
    predicted: Sequence[np.ndarray],
    titles: Sequence[str],
    classes: Sequence[str],
) -> Figure:
    """One row per image: true colour [H, W, 3], the true class map [H, W] (255: unlabelled,
    blank) and the predicted one, in the WorldCover legend colours for WorldCover classes."""
    colours = WORLDCOVER_COLOURS if tuple(classes) == WORLDCOVER_NAMES else None
    colormap = ListedColormap(colours) if colours else colormaps["tab20"].resampled(len(classes))
    style = {"cmap": colormap, "vmin": -0.5, "vmax": len(classes) - 0.5,
             "interpolation": "nearest"}  # fmt: skip
    figure = Figure(figsize=(7.5, 2.6 * max(1, len(rgb))), layout="constrained")
    axes = figure.subplots(max(1, len(rgb)), 3, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for row, (image, true, pred, title) in enumerate(zip(rgb, truth, predicted, titles,
                                                         strict=True)):  # fmt: skip
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(title, fontsize=7)
        if true is not None:
            axes[row, 1].imshow(np.where(true == SEGMENTATION_IGNORE, np.nan, true), **style)
            axes[row, 1].set_title("true", fontsize=8)
        axes[row, 2].imshow(pred, **style)
        axes[row, 2].set_title("predicted", fontsize=8)
    figure.legend([Patch(color=colormap(i)) for i in range(len(classes))], classes,
                  loc="outside lower center", ncols=4, fontsize=6)  # fmt: skip
    return figure


def confusion_figure(matrix: np.ndarray, names: Sequence[str]) -> Figure:
    """Confusion matrix [C, C] (rows: truth, columns: prediction) with counts."""
    figure = Figure(figsize=(4.5, 4), layout="constrained")
    ax = figure.subplots()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, int(count), ha="center", va="center", fontsize=9)
    return figure


def scatter_figure(predicted: np.ndarray, true: np.ndarray, quantity: str, unit: str) -> Figure:
    """Predicted against true values with the 1:1 line; observations whose true value is 0
    (a plant that is off) are drawn apart, so a model that ignores the plume shows."""
    figure = Figure(figsize=(4, 4), layout="constrained")
    ax = figure.subplots()
    off = true <= 0
    ax.scatter(true[~off], predicted[~off], s=8, alpha=0.6, label="running")
    if off.any():
        ax.scatter(true[off], predicted[off], s=14, alpha=0.8, marker="x", color="tab:red",
                   label=f"off (true 0 {unit})")  # fmt: skip
        ax.legend(fontsize=7, loc="upper left")
    low = float(min(np.min(true, initial=0.0), np.min(predicted, initial=0.0)))
    top = float(max(np.max(true, initial=1.0), np.max(predicted, initial=1.0)))
    ax.plot([low, top], [low, top], color="grey", linewidth=1)
    ax.set_xlabel(f"true {quantity} ({unit})")
    ax.set_ylabel(f"predicted {quantity} ({unit})")
    return figure


def reliability_figure(levels: Sequence[float], coverage: Mapping[str, Sequence[float]]) -> Figure:
    """Empirical coverage of the conformal intervals against their nominal level, one line
    per task; calibrated intervals lie on the diagonal."""
    figure = Figure(figsize=(4, 4), layout="constrained")
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linewidth=1, label="calibrated")
    for task, values in coverage.items():
        ax.plot(levels, values, marker="o", label=task)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("empirical coverage (test)")
    ax.legend(fontsize=7, loc="upper left")
    return figure


def interval_width_figure(error: np.ndarray, width: np.ndarray, quantity: str, unit: str) -> Figure:
    """Absolute error against the interval's width per observation: informative spreads put
    large errors where intervals are wide; a covered case lies below the line |e| = w/2."""
    figure = Figure(figsize=(4, 4), layout="constrained")
    ax = figure.subplots()
    ax.scatter(width, error, s=8, alpha=0.6)
    top = float(max(np.max(width, initial=1.0), 2 * np.max(error, initial=0.5)))
    ax.plot([0, top], [0, top / 2], color="grey", linewidth=1, label="|error| = width / 2")
    ax.set_xlabel(f"interval width ({unit})")
    ax.set_ylabel(f"|error| of {quantity} ({unit})")
    ax.legend(fontsize=7, loc="upper left")
    return figure


def epoch_figures(
    specs: Sequence[TaskSpec],
    confusions: Mapping[str, torch.Tensor],
    collector: ExampleCollector,
    bands: Sequence[str],
) -> dict[str, Figure]:
    """An epoch's figures by tag: confusion matrices of the classification tasks, predicted
    against true values of the regression tasks, and the collected examples."""
    figures = {}
    for task, matrix in confusions.items():
        spec = next(s for s in specs if s.name == task)
        figures[f"{task}_confusion"] = confusion_figure(matrix.cpu().numpy(), spec.classes)
    for spec in specs:
        if spec.kind == "regression" and collector.pairs.get(spec.name):
            predicted, true = np.concatenate(collector.pairs[spec.name], axis=1)
            figures[f"{spec.name}_scatter"] = scatter_figure(predicted, true, spec.display,
                                                             spec.unit)  # fmt: skip
    if collector.samples:
        figures["examples"] = collector.figure(specs, bands)
    return figures
