"""Errors of per-overpass predictions by stratum of an observation column — above all the
cloud over the patch or near the plant (``plant_cloud_pct`` …, written by ``plantwatch
download``), since a cloud or its shadow is easily read as a plume: is the model worse on
the cloudier patches, and by how much?"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

# prediction column, its truth in the observation table, the error's name
ERROR_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("power_mw", "generation_mw", "power_mae_mw"),
    ("co2_t_per_h", "co2_t_per_h", "co2_mae_t_per_h"),
)


def errors_by_stratum(
    predictions: pd.DataFrame,
    observations: pd.DataFrame,
    column: str,
    edges: Sequence[float],
) -> pd.DataFrame:
    """Per stratum ``[edge_k, edge_k+1)`` of ``observations[column]`` (the last closed):
    ``overpasses``, power and CO₂ MAE over the labelled ones (``power_mae_mw``,
    ``co2_mae_t_per_h``), fuel accuracy where fuels are predicted and known.

    Args:
        predictions: ``plantwatch predict``'s table (``obs_id``, ``power_mw`` …).
        observations: the dataset's ``observations.csv`` (``obs_id``, the labels, ``column``).
        column: the observation column that defines the strata (e.g. ``plant_cloud_pct``).
        edges: increasing bin edges in the column's units (e.g. 0, 1, 10, 100 %).

    Raises:
        ValueError: ``column`` is not in the observations, or fewer than two edges.
    """
    if column not in observations:
        raise ValueError(f"the observations have no column {column!r}; downloads write the "
                         "cloud shares (patch_cloud_pct, plant_cloud_pct …)")  # fmt: skip
    if len(edges) < 2 or list(edges) != sorted(edges):
        raise ValueError(f"edges {list(edges)}: give at least two increasing values")
    frame = predictions.merge(observations, on="obs_id", suffixes=("", "_true"))
    value = pd.to_numeric(frame[column], errors="coerce")
    frame["stratum"] = pd.cut(value, list(edges), right=False, include_lowest=True)
    last = value == edges[-1]  # the last bin is closed
    frame.loc[last, "stratum"] = frame["stratum"].cat.categories[-1]
    rows = []
    for stratum, part in frame.groupby("stratum", observed=False):
        row: dict[str, object] = {"stratum": f"{column} in {stratum}", "overpasses": len(part)}
        for predicted, true, name in ERROR_COLUMNS:
            truth = f"{true}_true" if f"{true}_true" in part else true
            if predicted in part and truth in part:
                errors = (part[predicted] - pd.to_numeric(part[truth], errors="coerce")).abs()
                row[name] = errors.mean()  # NaN without a labelled overpass
        if {"fuel_pred", "fuel_type"} <= set(part):
            known = part[part["fuel_type"].fillna("").astype(str) != ""]
            row["fuel_accuracy"] = (known["fuel_pred"] == known["fuel_type"]).mean()
        rows.append(row)
    return pd.DataFrame(rows)
