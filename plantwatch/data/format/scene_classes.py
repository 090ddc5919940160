"""Clouds, shadows and snow inside a patch from a per-pixel class map: Sentinel-2 L2A's
scene classification (``scl``: ESA's Sen2Cor classes at 20 m) or, for L1C, Sentinel Hub's
cloud mask (``clm``: s2cloudless at 160 m); the share of the patch's pixels in each group of
classes, and of those within a radius of the plant (the patch centre), so that a patch
whose plant is under a cloud or its shadow — read by a model as a plume — can be left out,
masked or stratified."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_DATA = 0  # the stored class of a pixel no scene covers, in every class map


@dataclass(frozen=True)
class ClassMap:
    """A class map of a dataset: the name of each stored value (``dataset.json``'s
    ``class_maps``) and the groups of values the observation table reports."""

    key: str
    class_names: tuple[str, ...]
    groups: dict[str, tuple[int, ...]]


CLASS_MAPS: dict[str, ClassMap] = {
    "scl": ClassMap("scl", (
        "no_data", "saturated_or_defective", "dark_area", "cloud_shadow", "vegetation",
        "not_vegetated", "water", "unclassified", "cloud_medium_probability",
        "cloud_high_probability", "thin_cirrus", "snow_ice",
    ), {"cloud": (8, 9), "cirrus": (10,), "shadow": (3,), "snow": (11,)}),
    # Sentinel Hub's CLM (0 clear, 1 cloud, 255 no data) stored as 1 clear, 2 cloud, 0 none
    "clm": ClassMap("clm", ("no_data", "clear", "cloud"), {"cloud": (2,)}),
}  # fmt: skip
OBSCURED = ("cloud", "cirrus", "shadow")  # what `--max-patch-cloud` limits


def obscured_codes(key: str) -> tuple[int, ...]:
    """The values of class map ``key`` that are cloud, cirrus or cloud shadow."""
    groups = CLASS_MAPS[key].groups
    return tuple(code for group in OBSCURED for code in groups.get(group, ()))


def class_fractions(values: np.ndarray, key: str, radius_px: float) -> dict[str, float]:
    """Percent of the classified pixels of the class map ``values`` [H, W] (of kind ``key``)
    in each of its groups, over the patch (``patch_<group>_pct``) and within ``radius_px``
    of its centre (``plant_<group>_pct``); NaN where no pixel is classified."""
    rows, columns = np.indices(values.shape)
    centre = ((values.shape[0] - 1) / 2, (values.shape[1] - 1) / 2)
    near = (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= radius_px**2
    classified = values != NO_DATA
    fractions = {}
    for where, inside in (("patch", classified), ("plant", classified & near)):
        count = int(inside.sum())
        for group, codes in CLASS_MAPS[key].groups.items():
            hits = int((np.isin(values, codes) & inside).sum())
            fractions[f"{where}_{group}_pct"] = 100.0 * hits / count if count else float("nan")
    return fractions


def obscured_pct(fractions: dict[str, float], where: str = "patch") -> float:
    """Percent of ``where`` (``patch`` or ``plant``) under cloud, cirrus or cloud shadow
    (the groups the class map has)."""
    return float(sum(fractions.get(f"{where}_{group}_pct", 0.0) for group in OBSCURED))
