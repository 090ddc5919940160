"""The scene gallery of a plant page: each overpass in true colour with the predicted plume
outline (red) and, where the dataset labels it, the true one (cyan, dashed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from plantwatch.bands import product
from plantwatch.data.format import layout
from plantwatch.data.format.geotiff import GeoTiffError, read_geotiff
from plantwatch.data.tools.preview import rgb_composite
from plantwatch.files.ids import checked_id
from plantwatch.files.tables import read_json

PREDICTED, TRUE = "red", "cyan"


def inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` where that stays inside ``root`` (a hostile table cannot point
    elsewhere), else None; None for an empty path."""
    if not relative:
        return None
    path = (root / relative).resolve()
    return path if path.is_relative_to(root.resolve()) and path.is_file() else None


def dataset_bands(dataset: Path) -> list[str]:
    """The band names of a canonical dataset's images (``dataset.json``)."""
    info = read_json(dataset / layout.DATASET_JSON, "a dataset record")
    return list(info.get("bands") or product(info["product"]).bands)


def scene_thumbnail(
    image: Path, predicted: Path | None, true: Path | None, bands: list[str], out: Path
) -> bool:
    """Write a PNG of ``image`` (true colour) with the plume outlines; False where the
    image cannot be read (the gallery leaves it out)."""
    try:
        reflectance, _ = read_geotiff(image)
    except GeoTiffError:
        return False
    figure = Figure(figsize=(2.4, 2.4), layout="constrained")
    ax = figure.subplots()
    ax.imshow(rgb_composite(reflectance.astype(np.float32), bands))
    for path, colour, style in ((true, TRUE, "--"), (predicted, PREDICTED, "-")):
        if path is None:
            continue
        try:
            mask = read_geotiff(path)[0][0]
        except GeoTiffError:
            continue
        if ((mask > 0) & (mask < 255)).any():
            ax.contour(np.where(mask == 255, 0, mask > 0), levels=[0.5], colors=colour,
                       linestyles=style, linewidths=1.2)  # fmt: skip
    ax.set_axis_off()
    figure.savefig(out, dpi=80)
    return True


def plant_scenes(
    overpasses: pd.DataFrame,
    observations: pd.DataFrame | None,
    dataset: Path | None,
    prediction_folders: list[Path],
    out: Path,
    count: int,
) -> list[dict]:
    """Thumbnails of up to ``count`` overpasses of a plant spread over its time (in
    ``out``), each a dict with ``file`` (relative to the pages), ``obs_id``, ``datetime``,
    ``power_mw`` and ``co2_t_per_h`` (with bounds where predicted) and ``outlines``."""
    if observations is None or dataset is None or overpasses.empty:
        return []
    rows = overpasses.sort_values("datetime")
    picks = np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int))
    known = observations.set_index("obs_id")
    bands = dataset_bands(dataset)
    out.mkdir(parents=True, exist_ok=True)
    scenes = []
    for row in rows.iloc[picks].to_dict("records"):
        obs = str(row["obs_id"])
        if obs not in known.index:
            continue
        image = inside(dataset, str(known.at[obs, "image"]))
        true = inside(dataset, str(known.at[obs, "mask"])) if "mask" in known else None
        predicted = next((f / "plume" / f"{obs}.tif" for f in prediction_folders
                          if (f / "plume" / f"{obs}.tif").is_file()), None)  # fmt: skip
        name = f"{checked_id(obs, 'obs_id', 'the predictions')}.png"
        if image is None or not scene_thumbnail(image, predicted, true, bands, out / name):
            continue
        outlines = [w for w, p in (("predicted", predicted), ("true", true)) if p is not None]
        scenes.append({**row, "file": f"{out.name}/{name}", "outlines": outlines})
    return scenes
