"""Label Studio polygon exports, as the smoke-plume and Hanna et al. datasets ship them.

Each JSON file holds one labelled task (or a list of tasks). A task names the image that was
uploaded for labelling in ``data.image`` (Label Studio prefixes an upload with a hex hash and
a dash, e.g. ``/data/upload/5e2a9c1f-scene.png``; the GeoTIFF it came from is
``scene.tif``) and its polygons in ``completions[].result[].value.points`` (``annotations``
in newer exports): vertices ``[x, y]`` in percent of the image width and height.

Assumed, as nothing in the exports records it: the PNG shown to the annotators had the size
of its GeoTIFF, so percent × the GeoTIFF's width/height gives pixel coordinates. (The
original smoke-plume code multiplies by 1.2 for every image, i.e. assumes 120 px; the two
agree for the 120 × 120 images.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.features import rasterize
from shapely.geometry import Polygon

from plantwatch.data.errors import DatasetError

_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{6,}-", re.IGNORECASE)


def image_name(uploaded: str) -> str:
    """The GeoTIFF name of an uploaded image: ``/data/upload/5e2a9c1f-a_b.png`` → ``a_b.tif``."""
    name = _UPLOAD_PREFIX.sub("", Path(uploaded.split("?")[0]).name)
    return f"{Path(name).stem}.tif"


@dataclass
class PolygonLabel:
    """The polygons of one image, vertices in percent of its width and height.

    Attributes:
        image: GeoTIFF file name (``scene.tif``).
        polygons: one float64 [N, 2] array (x %, y %) per polygon.
        source: the JSON file it came from.
        skipped: polygons with fewer than 3 vertices, which outline no area.
        folder: the sub-folders of the JSON file below the label folder (``()`` at its top);
            they tell apart images of one name in different image sub-folders.
    """

    image: str
    polygons: list[np.ndarray] = field(default_factory=list)
    source: Path | None = None
    skipped: int = 0
    folder: tuple[str, ...] = ()


def _tasks(document: object, path: Path) -> Iterable[dict]:
    tasks = document if isinstance(document, list) else [document]
    for task in tasks:
        if not isinstance(task, dict) or "image" not in task.get("data", {}):
            raise DatasetError(
                f"{path}: not a Label Studio task export (no data.image); "
                "export the project as JSON from Label Studio"
            )
        yield task


def read_labels(path: str | Path) -> list[PolygonLabel]:
    """The polygon labels of one Label Studio JSON file (one per task in it).

    Raises:
        DatasetError: the file is not JSON or not a Label Studio task export.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: not valid JSON ({error}); re-export the labels") from None
    labels = []
    for task in _tasks(document, path):
        label = PolygonLabel(image_name(str(task["data"]["image"])), source=path)
        for annotation in task.get("completions", []) + task.get("annotations", []):
            for result in annotation.get("result", []):
                points = np.asarray(result.get("value", {}).get("points", []), np.float64)
                if points.ndim != 2 or points.shape[0] < 3 or points.shape[1] != 2:
                    label.skipped += 1
                    continue
                label.polygons.append(points)
        labels.append(label)
    return labels


LabelKey = tuple[tuple[str, ...], str]  # (sub-folders of the label file, GeoTIFF name)


def read_label_folder(
    folder: str | Path, problems: list[str] | None = None
) -> dict[LabelKey, PolygonLabel]:
    """All labels under ``folder`` (``**/*.json``) by (label sub-folders, GeoTIFF name); the
    polygons of an image labelled in several files of one sub-folder are merged.

    Args:
        problems: when given, an unreadable file or a degenerate polygon is appended to it
            as a message and the other files are still read; else the first error raises.
    """
    merged: dict[LabelKey, PolygonLabel] = {}
    for path in sorted(Path(folder).rglob("*.json")):
        try:
            labels = read_labels(path)
        except DatasetError as error:
            if problems is None:
                raise
            problems.append(str(error))
            continue
        for label in labels:
            if label.skipped and problems is not None:
                problems.append(
                    f"{path}: {label.skipped} polygons with fewer than 3 vertices (ignored)"
                )
            label.folder = path.parent.relative_to(folder).parts
            key = (label.folder, label.image)
            if key in merged:
                merged[key].polygons += label.polygons
                merged[key].skipped += label.skipped
            else:
                merged[key] = label
    return merged


def rasterize_polygons(
    polygons: Sequence[np.ndarray], height: int, width: int, all_touched: bool = True
) -> np.ndarray:
    """Burn polygons given in percent of the image into a mask, uint8 [height, width].

    Args:
        polygons: float [N, 2] arrays of (x %, y %) vertices.
        height, width: the image size in pixels.
        all_touched: mark every pixel a polygon touches (as the datasets' own code does),
            not only those whose centre it covers.
    """
    scale = np.array([width / 100.0, height / 100.0])
    shapes = [Polygon(points * scale) for points in polygons]
    shapes = [s if s.is_valid else s.buffer(0) for s in shapes]
    shapes = [(s, 1) for s in shapes if not s.is_empty]
    if not shapes:
        return np.zeros((height, width), np.uint8)
    return rasterize(shapes, out_shape=(height, width), all_touched=all_touched, dtype=np.uint8)
