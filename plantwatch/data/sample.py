"""The sample: the dict every plantwatch dataset returns (collated into batches as is).

Inputs
    image     float32 [C, H, W]  Sentinel-2, normalised per band, band order as requested
    aux       float32 [A]        normalised scalar inputs (weather: temperature_c,
                                 relative_humidity_pct, wind_u_ms, wind_v_ms …)
    (fusion modalities by name, e.g. ``image_s1`` [2, H, W], ``dem`` [1, H, W], when present)
Targets
    mask      int64 [H, W]       plume 0/1, 255 = not labelled
    fuel      int64 []           fuel class index (``physics.FUEL_NAMES``), -1 = unknown
    power     float32 []         net generation, MW (0 where unknown)
    co2       float32 []         CO₂ emission, t/h (0 where unknown)
    capacity  float32 []         installed capacity, MW (0 where unknown)
Presence flags (bool []): ``has_mask``, ``has_fuel``, ``has_power``, ``has_co2``,
``has_capacity``. A missing label never contributes to a loss or a metric.
Metadata
    obs_id, plant_id (str), datetime (ISO 8601 UTC str), lon, lat (float64, degrees)
"""

from __future__ import annotations

MASK_UNLABELLED = 255
FUEL_UNKNOWN = -1

# Per task: the sample key of its target and of its presence flag.
TASK_TARGETS: dict[str, str] = {"plume": "mask", "fuel": "fuel", "power": "power", "co2": "co2"}
TASK_FLAGS: dict[str, str] = {
    "plume": "has_mask",
    "fuel": "has_fuel",
    "power": "has_power",
    "co2": "has_co2",
}
