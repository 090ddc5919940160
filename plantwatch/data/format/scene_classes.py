"""Clouds, shadows and snow inside a patch from Sentinel-2 L2A's scene classification
(SCL, ESA's Sen2Cor classes at 20 m): the share of the patch's pixels in each, and of those
within a radius of the plant (the patch centre), so that a patch whose plant is under a
cloud or its shadow — read by a model as a plume — can be left out or stratified."""

from __future__ import annotations

import numpy as np

SCL_NO_DATA = 0
# Sen2Cor's scene classes by stored value (dataset.json's "class_maps" of ``scl``).
SCL_CLASS_NAMES: tuple[str, ...] = (
    "no_data", "saturated_or_defective", "dark_area", "cloud_shadow", "vegetation",
    "not_vegetated", "water", "unclassified", "cloud_medium_probability",
    "cloud_high_probability", "thin_cirrus", "snow_ice",
)  # fmt: skip
# Sen2Cor's classes, grouped as the observation table reports them.
SCL_GROUPS: dict[str, tuple[int, ...]] = {
    "cloud": (8, 9),  # cloud, medium and high probability
    "cirrus": (10,),  # thin cirrus
    "shadow": (3,),  # cloud shadows
    "snow": (11,),  # snow and ice
}
OBSCURED = ("cloud", "cirrus", "shadow")  # what `--max-patch-cloud` limits
OBSCURED_CODES: tuple[int, ...] = tuple(c for g in OBSCURED for c in SCL_GROUPS[g])


def scl_fractions(scl: np.ndarray, radius_px: float) -> dict[str, float]:
    """Percent of the classified pixels of ``scl`` [H, W] in each group of `SCL_GROUPS`,
    over the patch (``patch_<group>_pct``) and within ``radius_px`` of its centre
    (``plant_<group>_pct``); NaN where no pixel is classified."""
    rows, columns = np.indices(scl.shape)
    centre = ((scl.shape[0] - 1) / 2, (scl.shape[1] - 1) / 2)
    near = (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= radius_px**2
    classified = scl != SCL_NO_DATA
    fractions = {}
    for where, inside in (("patch", classified), ("plant", classified & near)):
        count = int(inside.sum())
        for group, codes in SCL_GROUPS.items():
            hits = int((np.isin(scl, codes) & inside).sum())
            fractions[f"{where}_{group}_pct"] = 100.0 * hits / count if count else float("nan")
    return fractions


def obscured_pct(fractions: dict[str, float], where: str = "patch") -> float:
    """Percent of ``where`` (``patch`` or ``plant``) under cloud, cirrus or cloud shadow."""
    return float(sum(fractions[f"{where}_{group}_pct"] for group in OBSCURED))
