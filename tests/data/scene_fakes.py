"""Fakes of the published scene datasets in their exact layouts: 13-band UTM GeoTIFFs under
``images/<subset>/{positive,negative}/``, Label Studio JSON exports under
``segmentation_labels/<subset>/`` and, for Hanna et al., the label CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from rasterio.transform import from_origin

from plantwatch.data.format.geotiff import write_geotiff

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


def _image(path: Path, site: int, east_m: float = 0.0, height: int = 120, seed: int = 0,
           width: int = 120) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    dn = rng.integers(500, 3000, size=(13, height, width)).astype(np.uint16)
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


def add_second_subset(src: Path, flat_labels: bool = False) -> Path:
    """A ``subset2`` beside ``subset1`` whose positive image has the name of one in subset1
    (``plume_small.tif``) and a plume of its own (top-left corner, x and y 0–20 %), its label
    in ``segmentation_labels/subset2/`` — or, with ``flat_labels``, both subsets' labels of
    that name at the top of the label folder, where they cannot be told apart."""
    _image(src / "images" / "subset2" / "positive" / "plume_small.tif", 5, seed=40)
    corner = [[0.0, 0.0], [20.0, 0.0], [20.0, 20.0], [0.0, 20.0]]
    task = json.dumps(label_task("plume_small.tif", [corner], upload="2a2a2a2a"))
    labels = src / "segmentation_labels"
    if flat_labels:
        (labels / "subset1" / "plume_small.json").rename(labels / "plume_small.json")
        (labels / "plume_small_2.json").write_text(task)
    else:
        (labels / "subset2").mkdir()
        (labels / "subset2" / "plume_small.json").write_text(task)
    return src


# Hanna et al.: the table's rows (file name, generation MW, ENTSO-E fuel); weather in K and
# specific humidity (kg/kg) as the authors' ERA-5 builder took it at 1000 hPa.
HANNA_ROWS = [
    ("11_2019-03-04T10:30:00.tif", 450.0, "Fossil Brown coal/Lignite"),
    ("11_2019-05-06T10:30:00.tif", float("nan"), "Fossil Brown coal/Lignite"),
    ("22_2020-01-02T10:40:00.tif", 300.0, "Fossil Coal-derived gas"),
    ("33_2019-07-08T10:20:00.tif", 0.0, "Fossil Hard coal"),
    ("44_2019-09-10T10:20:00.tif", 120.0, "Fossil Peat"),
]


def write_hanna_fake(src: Path, fuel: str | None = None) -> Path:
    """Five plants' images: facility 11 twice (the second without generation), 22 as a 300 px
    image whose plume reaches beyond the central 120 px, 33 and 44 negatives; one more image
    (facility 55) without a table row. ``fuel`` overrides the first row's fuel name."""
    images, labels = src / "images", src / "segmentation_labels"
    folders = [
        "training/120x120/positive",
        "training/120x120/positive",
        "training/300x300/positive",
        "validation/negative",
        "training/120x120/negative",
    ]
    for site, ((name, _, _), folder) in enumerate(zip(HANNA_ROWS, folders, strict=True)):
        width = 300 if "300x300" in folder else 120
        _image(images / folder / name, site, height=width, width=width, seed=30 + site)
        if "positive" in folder:
            (labels / Path(folder).parent).mkdir(parents=True, exist_ok=True)
            # 300 px: x 20–80 % = 60–240 px; the central crop keeps 90–209, a third is cut
            square = [[20.0, 45.0], [80.0, 45.0], [80.0, 55.0], [20.0, 55.0]]
            task = label_task(name, [SQUARE if width == 120 else square])
            (labels / Path(folder).parent / f"{Path(name).stem}.json").write_text(json.dumps(task))
    _image(images / "validation/positive/55_2019-01-01T10:00:00.tif", 5, seed=40)
    rows = [{"filename": n, "gen_output": g, "fuel_type": f} for n, g, f in HANNA_ROWS]
    if fuel is not None:
        rows[0]["fuel_type"] = fuel
    table = pd.DataFrame(rows)
    table["temp"] = [283.15, 290.0, 275.0, 300.0, 270.0]
    table["humidity"] = [0.006, 0.008, 0.004, 0.012, 0.002]
    table["wind-u"], table["wind-v"] = [1.0, -2.0, 3.5, 0.0, 4.0], [0.5, 1.0, -1.0, 2.0, 0.0]
    table["lat"], table["lon"] = 50.5, 7.5
    table.to_csv(src / "hanna2021_labels.csv")  # with the unnamed index column
    return src
