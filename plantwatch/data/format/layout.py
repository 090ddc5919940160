"""The canonical on-disk layout of an observation dataset (written by synth and download).

```
<root>/dataset.json            provenance, product, bands, normalisation statistics and
                               ``boa_add_offset_dn``: the offset the image files carry
                               (1000 for unharmonised L2A of baseline ≥ 04.00, else 0);
                               readers subtract it; ``aux_columns``: the scalar inputs
                               it has (default: the four weather columns; [] for none);
                               ``source``: provenance (DOI, citation) of converted data
<root>/observations.csv        one row per observation (columns below)
<root>/plants.geojson          the plants: id, name, fuel, capacity_mw, point geometry
<root>/images/<obs_id>.tif     Sentinel-2 reflectance × 10000, uint16, UTM CRS
<root>/masks/<obs_id>.tif      plume mask, uint8 (0 background, 1 plume, 255 unlabelled)
<root>/images_s1/<obs_id>.tif  optional Sentinel-1 VV, VH σ⁰ in dB, float32, on the image's
                               grid (column ``image_s1``; ``dataset.json`` declares
                               ``modalities: {"image_s1": ["VV", "VH"]}``)
<root>/splits/<name>.txt       observation ids, one per line
<root>/truth_daily.csv         synthetic datasets: plant_id, date, generation_mwh, co2_t of
                               every day of the simulated period (observed or not)
```
Paths in ``observations.csv`` are relative to the root.
"""

from __future__ import annotations

DATASET_JSON = "dataset.json"
OBSERVATIONS_CSV = "observations.csv"
PLANTS_GEOJSON = "plants.geojson"
IMAGES_DIR = "images"
MASKS_DIR = "masks"
SPLITS_DIR = "splits"
TRUTH_DAILY_CSV = "truth_daily.csv"  # synthetic data: every plant's daily MWh and t CO₂
# Further spatial modalities: sample key (also the observations.csv column) → folder. A
# dataset declares the continuous ones in dataset.json's "modalities" (key → channels) and
# the class maps in "class_maps" (key → class names, index = stored value).
MODALITY_DIRS: dict[str, str] = {"image_s1": "images_s1", "scl": "scl", "clm": "clm"}

FORMAT_NAME = "plantwatch-observations"
FORMAT_VERSION = 1
REFLECTANCE_SCALE = 10_000
PIXEL_SIZE_M = 10.0

# Columns every observations.csv must have; the label columns may hold empty cells.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "obs_id",
    "plant_id",
    "datetime",
    "image",
    "mask",
    "fuel_type",
    "capacity_mw",
    "generation_mw",
    "co2_t_per_h",
)
