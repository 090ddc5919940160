"""A ben-ge folder around the six real BigEarthNet S1/S2 example patches: the patches as
published (``bigearthnet-common``), plus generated DEM and WorldCover GeoTIFFs on each
patch's 10 m grid, the meta, ERA-5, class-fraction tables and ben-ge-8k split files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

from plantwatch.bands import WORLDCOVER_CLASSES
from plantwatch.data.format.geotiff import write_geotiff
from tests.data.bigearthnet import extract_examples, s2_patches

CODES = np.array(list(WORLDCOVER_CLASSES))


def write_benge_fake(root: Path) -> Path:
    """ben-ge in its native layout at ``root``; patch k has elevation 100·k + row (m), its
    WorldCover map is tree cover (10) left of column 40 and cropland (40) right of it, its
    temperature is 280 + k K and its climate zone k (0: water, no class)."""
    folders = extract_examples(root)
    s2_by_s1 = {}
    for patch in sorted(p for p in folders["S1"].iterdir() if p.is_dir()):
        meta = json.loads((patch / f"{patch.name}_labels_metadata.json").read_text())
        s2_by_s1[meta["corresponding_s2_patch"]] = patch.name
    rows, era5, fractions = [], [], []
    for k, patch in enumerate(s2_patches(folders["S2"])):
        with rasterio.open(patch / f"{patch.name}_B02.tif") as src:
            crs, transform, shape = src.crs, src.transform, src.shape
        dem = (100 * k + np.arange(shape[0])[:, None] + np.zeros(shape)).astype(np.int16)
        write_geotiff(root / "dem" / f"{patch.name}_dem.tif", dem, crs, transform)
        lulc = np.where(np.arange(shape[1])[None, :] < 40, 10, 40).repeat(shape[0], 0)
        write_geotiff(root / "esaworldcover" / f"{patch.name}_esaworldcover.tif",
                      lulc.astype(np.uint8), crs, transform)  # fmt: skip
        rows.append({"patch_id": patch.name, "patch_id_s1": s2_by_s1[patch.name],
                     "timestamp_s2": "2017-06-13 10:10:31", "timestamp_s1": "2017-06-13 16:50:43",
                     "season_s2": 0.1 * k, "season_s1": 0.1 * k, "lon": 10.0 + k, "lat": 50.0,
                     "climatezone": k})  # fmt: skip
        era5.append({"patch_id": patch.name, "patch_id_s1": s2_by_s1[patch.name],
                     "atmpressure_level": 1000, "temperature_s2": 280.0 + k,
                     "temperature_s1": 281.0, "wind-u_s2": 1.0, "wind-u_s1": 0.0,
                     "wind-v_s2": -1.0, "wind-v_s1": 0.0, "relhumidity_s2": 60.0 + k,
                     "relhumidity_s1": 50.0})  # fmt: skip
        share = {str(c): 0.0 for c in CODES}
        share["10"], share["40"] = 40 / 120 * 100, 80 / 120 * 100  # in percent
        fractions.append({"patch_id": patch.name, **share})
    pd.DataFrame(rows).to_csv(root / "ben-ge-8k_meta.csv", index=False)
    pd.DataFrame(era5).to_csv(root / "ben-ge-8k_era-5.csv")  # with an unnamed index column
    pd.DataFrame(fractions).to_csv(root / "ben-ge-8k_esaworldcover.csv", index=False)
    ids = [r["patch_id"] for r in rows]
    splits = root / "splits"
    splits.mkdir()
    for split, members in (("train", ids[:4]), ("val", ids[4:5]), ("test", ids[5:])):
        (splits / f"ben-ge-8k_{split}.csv").write_text("".join(f"{i}\n" for i in members))
    return root
