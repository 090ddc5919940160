"""A cloud mask for every observation of an L1C dataset that has none — a published dataset
converted to the canonical format (the industrial smoke plumes) or L1C patches from
elsewhere — made here with Sentinel Hub's s2cloudless (its LightGBM model ships in its
wheel: nothing is downloaded), the same detector behind Sentinel Hub's ``clm``.

Each mask is stored as the class map ``clm`` (`scene_classes`: 1 clear, 2 cloud, 0 where
the image has no data) beside the images, ``observations.csv`` gets its ``clm`` column and
the cloud shares (``patch_cloud_pct``, ``plant_cloud_pct``), and ``dataset.json`` declares
the class map and how it was made; from then on the dataset serves ``clm`` as a modality,
``mask_obscured`` hides plume pixels under it and ``plantwatch errors`` stratifies by it.
A killed run resumes: masks already written are read, not made again.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from plantwatch.bands import product
from plantwatch.data.format import layout, scene_classes
from plantwatch.data.format.geotiff import read_geotiff, write_geotiff
from plantwatch.data.format.writer import dataset_lock
from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic

KEY = "clm"


def cloud_detector() -> type:
    """s2cloudless's ``S2PixelCloudDetector``.

    Raises:
        UserError: LightGBM's library cannot load (on macOS it needs OpenMP).
    """
    try:
        from s2cloudless import S2PixelCloudDetector
    except (ImportError, OSError) as error:
        raise UserError(f"s2cloudless cannot load its LightGBM model ({error}); on macOS "
                        "install OpenMP (brew install libomp), elsewhere reinstall "
                        "lightgbm") from None  # fmt: skip
    return S2PixelCloudDetector


def add_cloud_masks(
    root: str | Path,
    threshold: float = 0.4,
    average_over_px: int = 4,
    dilation_px: int = 2,
    plant_radius_m: float = 500.0,
    progress: bool = True,
) -> int:
    """Make and store the s2cloudless cloud mask of every observation of the canonical L1C
    dataset ``root`` (see the module docstring); returns how many masks were made now
    (0: the dataset has its ``clm`` already).

    Args:
        threshold: cloud probability above which a pixel is cloud, 0–1.
        average_over_px: radius of the disk the probabilities are averaged over, px.
        dilation_px: radius of the disk the cloud mask is dilated with, px.
        plant_radius_m: radius around the plant (the patch centre) of ``plant_cloud_pct``, m.

    Raises:
        UserError: not a canonical dataset, or its bands are not L1C's 13.
    """
    root = Path(root)
    info_path = root / layout.DATASET_JSON
    if not info_path.is_file():
        raise UserError(f"{root}: no {layout.DATASET_JSON}; give a canonical dataset "
                        "(plantwatch data convert makes one of a published dataset)")  # fmt: skip
    info = json.loads(info_path.read_text())
    if KEY in info.get("class_maps", {}):
        return 0
    if tuple(info.get("bands", ())) != product("S2L1C").bands:  # s2cloudless reads all 13
        raise UserError(
            f"{root}: s2cloudless reads the 13 L1C bands, this dataset has "
            f"{info.get('bands')}; an L2A download carries its scene classification (scl)"
        )
    detector = cloud_detector()(threshold=threshold, average_over=average_over_px,
                                dilation_size=dilation_px, all_bands=True)  # fmt: skip
    scale = float(info.get("reflectance_scale", layout.REFLECTANCE_SCALE))
    offset = float(info.get("boa_add_offset_dn", 0))
    radius_px = plant_radius_m / float(info.get("pixel_size_m", layout.PIXEL_SIZE_M))
    made = 0
    with dataset_lock(root):
        table = pd.read_csv(root / layout.OBSERVATIONS_CSV, dtype=str, keep_default_na=False)
        shares = []
        for obs_id, image_path in tqdm(zip(table["obs_id"], table["image"], strict=True),
                                       total=len(table), desc="cloud masks", unit="patch",
                                       disable=not progress):  # fmt: skip
            path = root / layout.MODALITY_DIRS[KEY] / f"{obs_id}.tif"
            if path.is_file():  # written whole (atomically) by a killed run
                classes = read_geotiff(path)[0][0]
            else:
                image, profile = read_geotiff(root / image_path)
                reflectance = (image.astype(np.float32) + offset) / scale
                cloud = detector.get_cloud_masks(np.moveaxis(reflectance, 0, 2)[None])[0]
                covered = (image > 0).any(axis=0)
                classes = np.where(covered, cloud.astype(np.uint8) + 1, scene_classes.NO_DATA)
                write_geotiff(path, classes.astype(np.uint8), profile["crs"],
                              profile["transform"])  # fmt: skip
                made += 1
            shares.append(scene_classes.class_fractions(classes, KEY, radius_px))
        table[KEY] = [f"{layout.MODALITY_DIRS[KEY]}/{o}.tif" for o in table["obs_id"]]
        for column, values in pd.DataFrame(shares).items():
            table[column] = values.round(3).to_numpy()
        write_text_atomic(root / layout.OBSERVATIONS_CSV, table.to_csv(index=False))
        info["class_maps"] = {**info.get("class_maps", {}),
                              KEY: list(scene_classes.CLASS_MAPS[KEY].class_names)}  # fmt: skip
        info["cloud_mask"] = {"source": "s2cloudless", "version": version("s2cloudless"),
                              "threshold": threshold, "average_over_px": average_over_px,
                              "dilation_px": dilation_px, "plant_radius_m": plant_radius_m}
        write_text_atomic(info_path, json.dumps(info, indent=2) + "\n")
    return made
