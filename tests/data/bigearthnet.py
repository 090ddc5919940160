"""The real BigEarthNet example patches shipped by the PyPI package bigearthnet-common."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.warp import transform as warp_points

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.data.format.geotiff import read_geotiff, write_geotiff
from plantwatch.data.format.resample import stack_at_10m
from plantwatch.data.synthetic.realism import bigearthnet_examples


def extract_examples(target: Path) -> dict[str, Path]:
    """Unpack the S1 and S2 example archives into ``target``; returns their folders."""
    s1, s2 = bigearthnet_examples(target)
    return {"S1": s1, "S2": s2}


def s2_patches(folder: Path) -> list[Path]:
    """The S2 patch folders, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir())


def stack_s2_patch(patch: Path) -> tuple[np.ndarray, dict]:
    """The 12 L2A bands of a patch at 10 m: uint16 [12, 120, 120] and the 10 m profile."""
    bands = {n: read_geotiff(patch / f"{patch.name}_{n}.tif") for n in L2A_BAND_NAMES}
    return stack_at_10m({n: d[0] for n, (d, _) in bands.items()}, L2A_BAND_NAMES), bands["B02"][1]


def write_bigearthnet_dataset(folder: Path, root: Path) -> Path:
    """A canonical observation dataset of the six real S2 patches (labels made up).

    No statistics are stored, so readers fall back to the documented defaults.
    """
    rows, plants = [], []
    for k, patch in enumerate(s2_patches(folder)):
        image, profile = stack_s2_patch(patch)
        path = root / "images" / f"{patch.name}.tif"
        write_geotiff(path, image, profile["crs"], profile["transform"])
        meta = json.loads((patch / f"{patch.name}_labels_metadata.json").read_text())
        with rasterio.open(patch / f"{patch.name}_B02.tif") as src:
            lon, lat = warp_points(src.crs, "EPSG:4326", [src.bounds.left], [src.bounds.top])
        rows.append({
            "obs_id": patch.name, "plant_id": f"B{k}",
            "datetime": meta["acquisition_date"].replace(" ", "T") + "Z",
            "image": f"images/{patch.name}.tif", "mask": "", "fuel_type": "",
            "capacity_mw": "", "generation_mw": "", "co2_t_per_h": "",
            "temperature_c": 10.0 + k, "relative_humidity_pct": 70.0 + k,
            "wind_u_ms": 1.0 * k, "wind_v_ms": -1.0,
        })  # fmt: skip
        plants.append({"plant_id": f"B{k}", "name": patch.name, "lon": lon[0], "lat": lat[0]})
    pd.DataFrame(rows).to_csv(root / "observations.csv", index=False)
    frame = pd.DataFrame(plants)
    points = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    gpd.GeoDataFrame(frame, geometry=points, crs=4326).to_file(root / "plants.geojson")
    info = {"source": "bigearthnet-common example patches", "product": "S2L2A"}
    (root / "dataset.json").write_text(json.dumps(info))
    return root
