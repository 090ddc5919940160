"""The industrial smoke-plume dataset (Mommert et al. 2020) → the canonical format.

Native layout (Zenodo record 4250706; their code: HSG-AIML/IndustrialSmokePlumeDetection)::

    images/**/positive/*.tif         13-band Sentinel-2 L1C, 120 × 120 px (a few smaller)
    images/**/negative/*.tif
    segmentation_labels/**/*.json    Label Studio polygons (``data/readers/labelstudio.py``)

What the conversion does and assumes:

- images smaller than 120 px are padded at the bottom and right by repeating the last row and
  column, as the authors' code does; the padding is marked unlabelled (255) in the mask and
  counted in ``padded_pixels``;
- positives get the rasterised polygons of their label file; negatives an empty mask;
  positives without a label file, or whose file holds no polygon, get no mask (``has_mask``
  false), never an empty one;
- no fuel, generation, capacity or weather: those cells stay empty (absent, not zero);
- sites: images whose footprints lie within ``site_distance_m`` of each other are one site
  (``data/format/sites.py``, from the georeference, not from the file names); the site is the
  ``plant_id``, so splits are grouped by site;
- ``source`` keeps each image's path in the original layout; ``positive`` its folder class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from shapely.geometry import Point
from tqdm.auto import tqdm

from plantwatch.data.format.sites import group_sites
from plantwatch.data.format.writer import DatasetWriter
from plantwatch.data.loading.source import DatasetSource
from plantwatch.data.readers.labelstudio import read_label_folder
from plantwatch.data.readers.native import (
    datetime_from_name,
    find_scenes,
    match_labels,
    scene_centres,
    scene_info,
    write_scene,
)

DOI = "10.5281/zenodo.4250706"
CITATION = (
    "Mommert, M., Sigel, M., Neuhausler, M., Scheibenreif, L., Borth, D. (2020): "
    "Characterization of Industrial Smoke Plumes from Remote Sensing Data. Tackling Climate "
    "Change with Machine Learning workshop, NeurIPS 2020."
)


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
    observations = find_scenes(src, "smoke-plume (Zenodo 4250706)")
    labels = match_labels(observations, read_label_folder(src / "segmentation_labels"))
    centres = scene_centres(observations, progress)
    sites = group_sites(centres[:, 0], centres[:, 1], float(centres[:, 2].max()), site_distance_m)
    info = scene_info(
        {"name": "industrial-smoke-plumes", "layout": "smoke-plumes", "doi": DOI,
         "citation": CITATION, "path": str(src)},
        {"size": size, "site_distance_m": site_distance_m, "all_touched": all_touched,
         "small_images": "edge-padded, padding unlabelled"},
    )  # fmt: skip
    info["aux_columns"] = []  # no weather
    with DatasetWriter(out, info) as writer:
        for observation, site in tqdm(list(zip(observations, sites, strict=True)), desc="convert",
                                      unit="image", disable=not progress):  # fmt: skip
            if writer.has(observation.obs_id):
                continue
            row = {
                "obs_id": observation.obs_id, "plant_id": f"site{site:05d}",
                "datetime": datetime_from_name(observation.path.stem), "fuel_type": "",
                "capacity_mw": None, "generation_mw": None, "co2_t_per_h": None,
                "positive": int(observation.positive),
                "source": str(observation.path.relative_to(src)),
            }  # fmt: skip
            write_scene(writer, observation, row, labels, size, all_touched)
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
