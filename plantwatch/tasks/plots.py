"""Figures for TensorBoard: examples with plumes, fuel confusion matrix, predicted vs true."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from plantwatch.data.sample import MASK_UNLABELLED


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
                ax.contour(np.where(mask == MASK_UNLABELLED, 0, mask), levels=[0.5], colors=colour)
        ax.set_title(title, fontsize=8)
    return figure


def confusion_figure(matrix: np.ndarray, names: Sequence[str]) -> Figure:
    """Confusion matrix [F, F] (rows: truth, columns: prediction) with counts."""
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
    """Predicted against true values with the 1:1 line."""
    figure = Figure(figsize=(4, 4), layout="constrained")
    ax = figure.subplots()
    ax.scatter(true, predicted, s=8, alpha=0.6)
    top = float(max(np.max(true, initial=1.0), np.max(predicted, initial=1.0)))
    ax.plot([0, top], [0, top], color="grey", linewidth=1)
    ax.set_xlabel(f"true {quantity} ({unit})")
    ax.set_ylabel(f"predicted {quantity} ({unit})")
    return figure
