"""Scalar modalities: per-sample values (not images) that can be fused into the network as
constant channels, with the length of their vector. Read by the data, the encoders and the
task modules alike."""

from plantwatch.task_registry import KOPPEN_GEIGER

# aux: the weather vector, its length set by the task (0 here); season: one value (winter 0
# to summer solstice 1); climate_zone: one-hot over the Köppen-Geiger classes.
SCALAR_MODALITIES: dict[str, int] = {"aux": 0, "season": 1, "climate_zone": len(KOPPEN_GEIGER)}
