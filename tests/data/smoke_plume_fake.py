"""A fake of the industrial smoke-plume dataset in its exact published layout: 13-band UTM
GeoTIFFs under ``images/<subset>/{positive,negative}/`` and Label Studio JSON exports
under ``segmentation_labels/<subset>/``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from plantwatch.data.geotiff import write_geotiff

UTM = "EPSG:32632"
SITE_SPACING_M = 20_000.0
# A square plume, in percent of the image: x 25–50 %, y 50–75 %.
SQUARE = [[25.0, 50.0], [50.0, 50.0], [50.0, 75.0], [25.0, 75.0]]


def label_task(image: str, polygons: list[list[list[float]]], upload: str = "1f3a9c2e") -> dict:
    """A Label Studio task export as the dataset ships it (``completions``, PNG upload)."""
    results = [{"type": "polygonlabels", "value": {"points": p, "polygonlabels": ["plume"]}}
               for p in polygons]  # fmt: skip
    return {
        "id": 1,
        "data": {"image": f"/data/upload/{upload}-{Path(image).stem}.png"},
        "completions": [{"id": 1, "result": results}],
    }


def _image(path: Path, site: int, east_m: float = 0.0, height: int = 120, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    dn = rng.integers(500, 3000, size=(13, height, 120)).astype(np.uint16)
    origin = (500_000.0 + site * SITE_SPACING_M + east_m, 5_600_000.0)
    write_geotiff(path, dn, UTM, from_origin(*origin, 10.0, 10.0))


def write_smoke_plume_fake(src: Path, sites: int = 2) -> Path:
    """Site 0: three positives (one 100 px high and 300 m east, one without a label file) and
    a negative 300 m east; every further site (20 km apart): a labelled positive and a
    negative. Returns ``src``."""
    images, labels = src / "images" / "subset1", src / "segmentation_labels" / "subset1"
    labels.mkdir(parents=True)
    labelled = ["plume_2019-03-04", "plume_small"]
    _image(images / "positive" / "plume_2019-03-04.tif", 0, seed=1)
    _image(images / "positive" / "plume_small.tif", 0, east_m=300.0, height=100, seed=2)
    _image(images / "positive" / "plume_unlabelled.tif", 0, seed=3)
    _image(images / "negative" / "clear_0.tif", 0, east_m=300.0, seed=4)
    for site in range(1, sites):
        _image(images / "positive" / f"plume_{site}.tif", site, seed=10 + site)
        _image(images / "negative" / f"clear_{site}.tif", site, seed=20 + site)
        labelled.append(f"plume_{site}")
    for name in labelled:
        (labels / f"{name}.json").write_text(json.dumps(label_task(f"{name}.tif", [SQUARE])))
    return src
