"""The industrial smoke-plume dataset (Mommert et al. 2020) → the canonical format.

Native layout (Zenodo record 4250706; their code: HSG-AIML/IndustrialSmokePlumeDetection)::

    images/**/positive/*.tif         13-band Sentinel-2 L1C, 120 × 120 px (a few smaller)
    images/**/negative/*.tif
    segmentation_labels/**/*.json    Label Studio polygons (``data/labelstudio.py``)

What the conversion does and assumes:

- images smaller than 120 px are padded at the bottom and right by repeating the last row and
  column, as the authors' code does; the padding is marked unlabelled (255) in the mask and
  counted in ``padded_pixels``;
- positives get the rasterised polygons of their label file; negatives an empty mask;
  positives without a label file, or whose file holds no polygon, get no mask (``has_mask``
  false), never an empty one;
- no fuel, generation, capacity or weather: those cells stay empty (absent, not zero);
- sites: images whose footprints lie within ``site_distance_m`` of each other are one site
  (``data/sites.py``, from the georeference, not from the file names); the site is the
  ``plant_id``, so splits are grouped by site;
- ``source`` keeps each image's path in the original layout; ``positive`` its folder class.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import Point
from tqdm.auto import tqdm

from plantwatch.bands import L1C_BAND_NAMES
from plantwatch.data import layout
from plantwatch.data.errors import DatasetError
from plantwatch.data.labelstudio import PolygonLabel, rasterize_polygons, read_label_folder
from plantwatch.data.native import fit_to_size, read_header, read_native_image
from plantwatch.data.sites import footprint_centre, group_sites
from plantwatch.data.source import DatasetSource
from plantwatch.data.writer import DatasetWriter

DOI = "10.5281/zenodo.4250706"
CITATION = (
    "Mommert, M., Sigel, M., Neuhausler, M., Scheibenreif, L., Borth, D. (2020): "
    "Characterization of Industrial Smoke Plumes from Remote Sensing Data. Tackling Climate "
    "Change with Machine Learning workshop, NeurIPS 2020."
)
_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T_ ]?(\d{2})[:\-_]?(\d{2})[:\-_]?(\d{2}))?")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(name: str) -> str:
    """A file-system-safe observation id: ``1234_2019-01-01T10:30:00`` →
    ``1234_2019-01-01T10-30-00``."""
    return _UNSAFE.sub("-", name.replace(":", "-")).strip("-")


def datetime_from_name(name: str) -> str:
    """ISO 8601 UTC time found in a file name (``…2019-05-01T10:30:31…``, ``…20190501…``);
    empty when the name holds none."""
    found = _DATE.search(name)
    if not found:
        return ""
    year, month, day, hour, minute, second = found.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return ""
    clock = f"T{hour}:{minute}:{second}Z" if hour else "T00:00:00Z"
    return f"{year}-{month}-{day}{clock}"


@dataclass
class NativeObservation:
    """An image of a published dataset: its path, observation id and folder class."""

    path: Path
    obs_id: str
    positive: bool


def scan_images(images: Path) -> list[NativeObservation]:
    """Every ``*.tif`` below ``images`` whose path has a ``positive`` or ``negative`` folder,
    with unique observation ids (the file stem; prefixed by its sub-folders where the stem
    repeats)."""
    paths = [p for p in sorted(images.rglob("*.tif")) if {"positive", "negative"} & set(p.parts)]
    stems = Counter(p.stem for p in paths)
    found = []
    for path in paths:
        name = path.stem
        if stems[name] > 1:
            name = "_".join((*path.relative_to(images).parent.parts, name))
        found.append(NativeObservation(path, safe_id(name), "positive" in path.parts))
    return found


def plume_mask(
    observation: NativeObservation,
    labels: dict[str, PolygonLabel],
    shape: tuple[int, int],
    all_touched: bool,
) -> np.ndarray | None:
    """The observation's plume mask at its native size, uint8 [H, W]; None when unknown."""
    if not observation.positive:
        return np.zeros(shape, np.uint8)
    label = labels.get(observation.path.name)
    if label is None or not label.polygons:
        return None
    return rasterize_polygons(label.polygons, *shape, all_touched=all_touched)


def convert_smoke_plumes(
    src: str | Path,
    out: str | Path,
    size: int = 120,
    site_distance_m: float = 1000.0,
    all_touched: bool = True,
    split_seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write the smoke-plume dataset in ``src`` as a canonical dataset into ``out``
    (resumable: a rerun after a kill continues). Returns ``out``.

    Raises:
        DatasetError: no images in the expected layout, or a bad image (named).
    """
    src, out = Path(src), Path(out)
    images = src / "images"
    observations = scan_images(images)
    if not observations:
        raise DatasetError(
            f"{images}: no images/**/positive/*.tif or images/**/negative/*.tif; point SRC at "
            "the unpacked smoke-plume dataset (Zenodo 4250706)"
        )
    labels = read_label_folder(src / "segmentation_labels")
    headers = [read_header(o.path) for o in tqdm(observations, desc="georeferences",
                                                  unit="image", disable=not progress)]  # fmt: skip
    centres = np.array([footprint_centre(*h) for h in headers])
    sites = group_sites(centres[:, 0], centres[:, 1], float(centres[:, 2].max()), site_distance_m)
    info = {
        "format": layout.FORMAT_NAME,
        "format_version": layout.FORMAT_VERSION,
        "source": {"name": "industrial-smoke-plumes", "layout": "smoke-plumes", "doi": DOI,
                   "citation": CITATION, "path": str(src)},
        "conversion": {"size": size, "site_distance_m": site_distance_m,
                       "all_touched": all_touched, "small_images": "edge-padded, unlabelled"},
        "product": "S2L1C",
        "bands": list(L1C_BAND_NAMES),
        "reflectance_scale": layout.REFLECTANCE_SCALE,
        "pixel_size_m": layout.PIXEL_SIZE_M,
        "boa_add_offset_dn": 0,
    }  # fmt: skip
    writer = DatasetWriter(out, info)
    for observation, site in tqdm(list(zip(observations, sites, strict=True)), desc="convert",
                                  unit="image", disable=not progress):  # fmt: skip
        if writer.has(observation.obs_id):
            continue
        image = read_native_image(observation.path, len(L1C_BAND_NAMES))
        mask = plume_mask(observation, labels, image.dn.shape[1:], all_touched)
        fitted = fit_to_size(image, mask, size)
        row = {
            "obs_id": observation.obs_id, "plant_id": f"site{site:05d}",
            "datetime": datetime_from_name(observation.path.stem), "fuel_type": "",
            "capacity_mw": None, "generation_mw": None, "co2_t_per_h": None,
            "positive": int(observation.positive), "padded_pixels": fitted.padded_pixels,
            "source": str(observation.path.relative_to(src)),
        }  # fmt: skip
        writer.add(row, fitted.dn, image.crs, fitted.transform, fitted.mask)
    plants = [
        {"plant_id": f"site{site:05d}", "name": "", "fuel_type": "", "capacity_mw": None,
         "geometry": Point(*centres[sites == site, :2].mean(axis=0))}
        for site in np.unique(sites)
    ]  # fmt: skip
    return writer.close(plants, split_seed=split_seed, progress=progress)


class SmokePlumes(DatasetSource):
    """Converts the unpacked smoke-plume dataset in ``src`` on first use (``DataModule``'s
    ``source``); the arguments are those of :func:`convert_smoke_plumes`."""

    def __init__(
        self,
        src: str,
        size: int = 120,
        site_distance_m: float = 1000.0,
        all_touched: bool = True,
        split_seed: int = 0,
    ) -> None:
        self.src, self.size, self.site_distance_m = src, size, site_distance_m
        self.all_touched, self.split_seed = all_touched, split_seed

    def write(self, root: Path) -> None:
        convert_smoke_plumes(self.src, root, self.size, self.site_distance_m,
                             self.all_touched, self.split_seed)  # fmt: skip
