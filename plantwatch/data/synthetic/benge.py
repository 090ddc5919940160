"""`plantwatch synth benge OUT`: a synthetic ben-ge in ben-ge's native layout, exactly as
`plantwatch.data.readers.benge.dataset.BenGe` reads the real one.

Patches come in acquisitions of four neighbouring patches (one Sentinel-2 product, as in
BigEarthNet), over Europe (36–70° N, 9° W–28° E) between June 2017 and May 2018. Each is
one scene (``benge_scene.py``) written as::

    BigEarthNet-S2/<patch_id>/<patch_id>_<band>.tif      L2A DN; 20 m and 60 m bands averaged
    BigEarthNet-S1/<patch_id_s1>/<patch_id_s1>_<VV|VH>.tif   dB, float32
    dem/<patch_id>_dem.tif                                  int16, m
    esaworldcover/<patch_id>_esaworldcover.tif              uint8 WorldCover codes
    <subset>_meta.csv, <subset>_era-5.csv, <subset>_esaworldcover.csv (fractions 0–1)
    splits/<subset>_{train,val,test}.csv                    80/10/10, grouped by acquisition
    synthetic_benge.json                                    the settings; written last

Deterministic by seed; files are written atomically and a rerun skips the patches that are
complete, so a killed run resumes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer
from rasterio.transform import from_origin
from tqdm.auto import tqdm

from plantwatch.bands import L2A_BAND_NAMES, WORLDCOVER_CLASSES, resolutions_m
from plantwatch.data.format.geotiff import write_geotiff
from plantwatch.data.format.splits import split_by_plant
from plantwatch.data.synthetic.benge_scene import PatchScene, make_patch
from plantwatch.files.atomic import write_text_atomic

PATCHES_PER_ACQUISITION = 4
SETTINGS_JSON = "synthetic_benge.json"  # written last: a folder with it is complete
FIRST_DAY = dt.datetime(2017, 6, 1, tzinfo=dt.timezone.utc)


def season(when: dt.datetime) -> float:
    """ben-ge's seasonal encoding: 0 at the winter solstice (22 Dec), 1 at the summer one."""
    days = (when - dt.datetime(when.year - 1, 12, 22, tzinfo=dt.timezone.utc)).days % 365.25
    return round(float(np.sin(np.pi * days / 365.25)), 4)


def _block_mean(band: np.ndarray, factor: int) -> np.ndarray:
    height, width = band.shape
    return band.reshape(height // factor, factor, width // factor, factor).mean(axis=(1, 3))


def _write_patch(
    out: Path, names: dict[str, str], scene: PatchScene, lon: float, lat: float
) -> None:
    zone = int((lon + 180) // 6) + 1
    crs = f"EPSG:{32600 + zone}"
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    size = scene.land_cover.shape[0]
    west, north = round(x - 5 * size, -1), round(y + 5 * size, -1)
    s2, s1 = out / "BigEarthNet-S2" / names["s2"], out / "BigEarthNet-S1" / names["s1"]
    for index, (band, resolution) in enumerate(
        zip(L2A_BAND_NAMES, resolutions_m(L2A_BAND_NAMES), strict=True)
    ):
        factor = int(resolution) // 10
        values = _block_mean(scene.reflectance[index], factor) * 10_000
        dn = np.clip(np.rint(values), 0, 65535).astype(np.uint16)
        write_geotiff(s2 / f"{names['s2']}_{band}.tif", dn, crs,
                      from_origin(west, north, float(resolution), float(resolution)))  # fmt: skip
    grid = from_origin(west, north, 10.0, 10.0)
    for index, polarisation in enumerate(("VV", "VH")):
        write_geotiff(
            s1 / f"{names['s1']}_{polarisation}.tif", scene.backscatter_db[index], crs, grid
        )
    write_geotiff(out / "dem" / f"{names['s2']}_dem.tif", scene.dem_m, crs, grid)
    write_geotiff(
        out / "esaworldcover" / f"{names['s2']}_esaworldcover.tif", scene.land_cover, crs, grid
    )


def synthesize_benge(
    out: str | Path,
    patches: int = 64,
    size: int = 120,
    seed: int = 0,
    subset: str = "ben-ge-synthetic",
    progress: bool = True,
) -> Path:
    """Write ``patches`` synthetic ben-ge patches of ``size`` px (a multiple of 6) into ``out``.

    Returns ``out``; its tables name the subset ``subset`` (split files ``<subset>_train.csv``).
    """
    if size % 6:
        raise ValueError(f"size {size} must be a multiple of 6 (60 m bands are size / 6 px)")
    out = Path(out)
    meta, era5, fractions = [], [], []
    for k in tqdm(range(patches), desc="synthetic ben-ge", unit="patch", disable=not progress):
        group = np.random.default_rng([seed, 1_000_000 + k // PATCHES_PER_ACQUISITION])
        lat, lon = group.uniform(36.0, 70.0), group.uniform(-9.0, 28.0)
        day, second = int(group.integers(0, 365)), int(group.integers(9 * 3600, 12 * 3600))
        when = FIRST_DAY + dt.timedelta(days=day, seconds=second)
        rng = np.random.default_rng([seed, k])
        row, col = divmod(k % PATCHES_PER_ACQUISITION, 2)
        lat, lon = lat - 0.011 * row, lon + 0.017 * col  # neighbouring 1.2 km patches
        scene = make_patch(rng, size, lat, when.timetuple().tm_yday)
        s1_time = when + dt.timedelta(hours=6, minutes=40)
        names = {"s2": f"S2A_MSIL2A_{when:%Y%m%dT%H%M%S}_{k // 90}_{k % 90}",
                 "s1": f"S1A_IW_GRDH_1SDV_{s1_time:%Y%m%dT%H%M%S}_{k // 90}_{k % 90}"}  # fmt: skip
        last = out / "esaworldcover" / f"{names['s2']}_esaworldcover.tif"
        if not last.is_file():
            _write_patch(out, names, scene, lon, lat)
        meta.append({"patch_id": names["s2"], "patch_id_s1": names["s1"],
                     "timestamp_s2": f"{when:%Y-%m-%d %H:%M:%S}",
                     "timestamp_s1": f"{s1_time:%Y-%m-%d %H:%M:%S}",
                     "season_s2": season(when), "season_s1": season(s1_time),
                     "lon": round(lon, 5), "lat": round(lat, 5),
                     "climatezone": scene.climate_zone})  # fmt: skip
        era5.append({"patch_id": names["s2"], "patch_id_s1": names["s1"],
                     "atmpressure_level": 1000,
                     **{f"{name}_{time}": value
                        for time, values in (("s2", scene.weather_s2), ("s1", scene.weather_s1))
                        for name, value in zip(("temperature", "relhumidity", "wind-u", "wind-v"),
                                               values, strict=True)}})  # fmt: skip
        counts = np.bincount(scene.land_cover.ravel(), minlength=256)
        fractions.append({"patch_id": names["s2"],
                          **{str(c): round(counts[c] / scene.land_cover.size, 5)
                             for c in WORLDCOVER_CLASSES}})  # fmt: skip
    _write_tables(out, subset, meta, era5, fractions, seed)
    settings = {"patches": patches, "size": size, "seed": seed, "subset": subset}
    write_text_atomic(out / SETTINGS_JSON, json.dumps(settings, indent=2) + "\n")
    return out


def _write_tables(out: Path, subset: str, meta: list[dict], era5: list[dict],
                  fractions: list[dict], seed: int) -> None:  # fmt: skip
    tables = {"meta": meta, "era-5": era5, "esaworldcover": fractions}
    for name, rows in tables.items():
        write_text_atomic(out / f"{subset}_{name}.csv", pd.DataFrame(rows).to_csv(index=False))
    frame = pd.DataFrame({"obs_id": [m["patch_id"] for m in meta], "fuel_type": ""})
    frame["plant_id"] = frame["obs_id"].str.rsplit("_", n=2).str[0]
    (out / "splits").mkdir(parents=True, exist_ok=True)
    for split, ids in split_by_plant(frame, 0.1, 0.1, seed).items():
        write_text_atomic(out / "splits" / f"{subset}_{split}.csv", "".join(f"{i}\n" for i in ids))
