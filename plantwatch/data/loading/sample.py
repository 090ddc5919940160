"""The sample: the dict every plantwatch dataset returns, and how samples become batches.

Inputs (raw physical units; the task module normalises them with the training statistics)
    image     float32 [C, H, W]  Sentinel-2 reflectance (0–1), band order as requested
    aux       float32 [A]        scalar inputs (weather: temperature_c, relative_humidity_pct,
                                 wind_u_ms, wind_v_ms …) in their units
    further modalities by key (``MODALITIES``), when a dataset has them: ``image_s1``
    [2, H, W] backscatter in dB, ``dem`` [1, H, W] elevation in m, ``lulc`` [H, W] land-cover
    class map (long), ``reference`` [C, H, W] the plant's clear-sky reference (reflectance,
    the bands of ``image``) with its flag ``has_reference``, ``scl`` [H, W] the scene
    classification (long: Sen2Cor's classes, cloud and cloud shadow among them)
Targets
    mask      int64 [H, W]       plume 0/1, 255 = not labelled
    fuel      int64 []           fuel class index (``physics.FUEL_NAMES``), -1 = unknown
    power     float32 []         net generation, MW (0 where unknown)
    co2       float32 []         CO₂ emission, t/h (0 where unknown)
    capacity  float32 []         installed capacity, MW (0 where unknown)
    further targets by key, as the task registry names them
Presence flags (bool []): ``has_<target>`` — ``has_mask``, ``has_fuel``, ``has_power``,
``has_co2``, ``has_capacity`` …; a missing label never contributes to a loss or a metric.
Metadata
    obs_id, plant_id (str), datetime (ISO 8601 UTC str), lon, lat (float64, degrees)
    crs (str, e.g. ``EPSG:32633``) and transform (float64 [6], the affine a, b, c, d, e, f)
    of the image as read; geometric augmentation does not update them, so they are exact
    only for samples read without it (validation, test, prediction)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import default_collate

# The weather columns of an observation table, in the order of ``aux``: 2 m air temperature
# (°C), relative humidity (%), wind components towards east and north (m/s).
WEATHER_COLUMNS: tuple[str, ...] = (
    "temperature_c",
    "relative_humidity_pct",
    "wind_u_ms",
    "wind_v_ms",
)

MASK_UNLABELLED = 255
FUEL_UNKNOWN = -1

# Spatial inputs by sample key: geometric augmentation moves them with the image; only
# ``image`` (optical reflectance) gets radiometric augmentation.
MODALITIES: dict[str, str] = {
    "image": "Sentinel-2 reflectance (0–1) [C, H, W]",
    "image_s1": "Sentinel-1 backscatter in dB [2, H, W]",
    "dem": "elevation in m [1, H, W]",
    "lulc": "land-cover class map [H, W], long",
    "reference": "the plant's clear-sky reference: median reflectance (0–1) of its other "
    "observations [C, H, W], the bands of image; zeros where absent (has_reference false)",
    "scl": "Sentinel-2 L2A scene classification [H, W], long (Sen2Cor classes, 0 = no data)",
    "clm": "Sentinel-2 L1C cloud mask [H, W], long (1 clear, 2 cloud, 0 = no data)",
}
OPTICAL_KEY = "image"
REFERENCE_KEY = "reference"
SPATIAL_TARGETS: tuple[str, ...] = ("mask",)  # per-pixel targets moved with the image
METADATA_KEYS: tuple[str, ...] = ("obs_id", "plant_id", "datetime", "crs")


def flag_key(target: str) -> str:
    """The presence flag of a target key: ``mask`` → ``has_mask``."""
    return f"has_{target}"


def _fill_like(key: str, example: Any) -> Any:
    """What a sample without ``key`` carries instead: unlabelled, absent or empty."""
    if key.startswith("has_"):
        return torch.tensor(False)
    if isinstance(example, str):
        return ""
    if isinstance(example, float):
        return float("nan")
    if key == "fuel" or (example.dtype == torch.int64 and example.ndim == 0):
        return torch.full_like(example, FUEL_UNKNOWN)
    if example.dtype == torch.int64:
        return torch.full_like(example, MASK_UNLABELLED)
    return torch.zeros_like(example)


def collate_samples(samples: Sequence[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    """Batch samples that may come from different datasets with different targets (a batch
    that a dataset's ``__getitems__`` built already is returned as it is).

    A key that some samples lack is filled in those samples as unlabelled: flags false (so
    the missing label counts nowhere), masks 255, classes −1, values 0, strings empty. Then
    ``torch.utils.data.default_collate``.
    """
    if isinstance(samples, dict):
        return samples
    keys = {k for s in samples for k in s}
    if all(len(s) == len(keys) for s in samples):
        return default_collate(list(samples))
    examples = {k: next(s[k] for s in samples if k in s) for k in keys}
    filled = [{**s, **{k: _fill_like(k, examples[k]) for k in keys - set(s)}} for s in samples]
    return default_collate(filled)
