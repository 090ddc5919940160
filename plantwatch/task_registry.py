"""The task registry: one `TaskSpec` per task; a new task is one `register_task` call.

A spec says what a task predicts (its ``kind``), where its target and presence flag sit in
the sample dict, its classes or unit, and, for the plant tasks, which physics hook shapes
the output. The kind decides everything else, in one place each:

- ``binary_segmentation``: a 1-channel head on the U-Net decoder; BCE + soft Dice; IoU, F1,
  detection precision/recall (plume).
- ``multiclass_segmentation``: a C-channel head on the decoder; cross-entropy; mIoU, pixel
  accuracy (land-cover map).
- ``multiclass``: an MLP on the pooled features; cross-entropy; accuracy, macro-F1,
  confusion matrix (fuel, climate zone).
- ``multilabel``: an MLP; BCE per class; macro- and micro-F1 and mean average precision
  over the classes that occur (land-cover labels).
- ``composition``: an MLP whose softmax gives class fractions that sum to 1; KL divergence
  from the true fractions; MAE and RMSE in percentage points, R² (land-cover fractions).
- ``regression``: an MLP; Huber or L1 in units of the training standard deviation; MAE,
  RMSE, R² in the task's unit (power, CO₂).

Heads live in ``models/heads.py``, losses in ``tasks/losses.py``, metrics in
``tasks/metrics.py``. This module imports nothing heavy: the model (``models/``), the task
modules, the metrics, the figures, the prediction writer and the baselines all iterate over
the selected specs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from plantwatch import physics
from plantwatch.bands import WORLDCOVER_CLASSES

TaskKind = Literal[
    "binary_segmentation",
    "multiclass_segmentation",
    "multiclass",
    "multilabel",
    "composition",
    "regression",
]
OutputHook = Literal["capacity_load_factor", "physics_co2"]
SEGMENTATION_IGNORE = 255  # a segmentation target pixel that is not labelled


@dataclass(frozen=True)
class TaskSpec:
    """What one task predicts and where its labels are.

    Attributes:
        name: task name used in configs, metric names (``<name>_<metric>``) and logs.
        kind: see the module table.
        target: sample key of the target (``mask`` [H, W]; ``fuel`` long []; ``power`` float
            []; a multilabel target is float [C] of 0/1; a composition float [C] summing to 1).
        flag: sample key of the presence flag (bool []); unlabelled samples never count.
        classes: class names (classification and segmentation kinds; binary: empty).
        unit: unit of a regression target, e.g. ``MW`` (of a composition's errors:
            ``percentage points``).
        unit_tag: the unit in metric names: ``power_mae_mw``.
        scale: typical magnitude of a regression target in ``unit``: the head's output scale,
            and the loss scale when the training data carries no statistics of the target.
        nonnegative: a regression target that is ≥ 0 (softplus output).
        title: the task's name in tables and figures (default: ``name``).
        hook: a plant-physics output hook (``capacity_load_factor``: power = capacity ×
            load factor where the capacity is known; ``physics_co2``: CO₂ = power ×
            Σ p(fuel)·EF(fuel)), applied by the model.
        per_plant: a class that is the plant's, the same in all its observations (fuel): its
            probabilities are also pooled over each plant's observations in a split and
            scored per plant (``<name>_plant_accuracy``, ``<name>_plant_macro_f1``).
    """

    name: str
    kind: TaskKind
    target: str
    flag: str
    classes: tuple[str, ...] = ()
    unit: str = ""
    unit_tag: str = ""
    scale: float = 1.0
    nonnegative: bool = False
    title: str = ""
    hook: OutputHook | None = None
    per_plant: bool = False

    def __post_init__(self) -> None:
        if self.kind not in get_args(TaskKind):
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} not in {get_args(TaskKind)}")
        if (
            self.kind in ("multiclass_segmentation", "multiclass", "multilabel", "composition")
            and not self.classes
        ):
            raise ValueError(f"task {self.name!r}: a {self.kind} task needs its class names")

    @property
    def display(self) -> str:
        """The task's name in tables and figures."""
        return self.title or self.name

    @property
    def dense(self) -> bool:
        """Predicted per pixel by the decoder (segmentation kinds)."""
        return self.kind.endswith("segmentation")

    @property
    def num_outputs(self) -> int:
        """Channels (dense) or features (global) of the task's head."""
        return len(self.classes) if self.kind != "binary_segmentation" and self.classes else 1


TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec, replace: bool = False) -> TaskSpec:
    """Add ``spec`` to the registry (``replace`` to redefine a name); returns it."""
    if spec.name in TASKS and not replace and TASKS[spec.name] != spec:
        raise ValueError(f"task {spec.name!r} is registered already; pass replace=True")
    TASKS[spec.name] = spec
    return spec


def get_tasks(names: Sequence[str]) -> tuple[TaskSpec, ...]:
    """The specs of ``names`` in registry order.

    Raises:
        ValueError: for an empty selection or unknown names, listing the registered tasks.
    """
    unknown = sorted(set(names) - set(TASKS))
    if unknown or not names:
        raise ValueError(
            f"tasks must be a non-empty selection of the registered tasks {list(TASKS)}, "
            f"got {list(names)}"
        )
    return tuple(spec for name, spec in TASKS.items() if name in names)


PLANT_TASKS: tuple[str, ...] = ("plume", "fuel", "power", "co2")

register_task(TaskSpec("plume", "binary_segmentation", target="mask", flag="has_mask"))
register_task(
    TaskSpec("fuel", "multiclass", target="fuel", flag="has_fuel", classes=physics.FUEL_NAMES,
             per_plant=True)
)
register_task(
    TaskSpec("power", "regression", target="power", flag="has_power", unit="MW", unit_tag="mw",
             scale=1000.0, nonnegative=True, hook="capacity_load_factor")
)  # fmt: skip
register_task(
    TaskSpec("co2", "regression", target="co2", flag="has_co2", unit="t/h", unit_tag="t_per_h",
             scale=1000.0, nonnegative=True, title="CO₂", hook="physics_co2")
)  # fmt: skip


# ben-ge (Mommert et al. 2023): ESA WorldCover land cover as a map, as the classes present
# in a patch, as the share of each class in the patch, and the Köppen–Geiger climate zone
# (Beck et al. 2018, codes 1–30 → 0–29).
WORLDCOVER_NAMES: tuple[str, ...] = tuple(WORLDCOVER_CLASSES.values())
KOPPEN_GEIGER: tuple[str, ...] = (
    "Af", "Am", "Aw", "BWh", "BWk", "BSh", "BSk", "Csa", "Csb", "Csc", "Cwa", "Cwb", "Cwc",
    "Cfa", "Cfb", "Cfc", "Dsa", "Dsb", "Dsc", "Dsd", "Dwa", "Dwb", "Dwc", "Dwd", "Dfa", "Dfb",
    "Dfc", "Dfd", "ET", "EF",
)  # fmt: skip
register_task(
    TaskSpec("land_cover", "multiclass_segmentation", target="lulc", flag="has_lulc",
             classes=WORLDCOVER_NAMES, title="land cover")
)  # fmt: skip
register_task(
    TaskSpec("land_cover_labels", "multilabel", target="lulc_multilabel",
             flag="has_lulc_multilabel", classes=WORLDCOVER_NAMES, title="land-cover labels")
)  # fmt: skip
register_task(
    TaskSpec("land_cover_fractions", "composition", target="lulc_fractions",
             flag="has_lulc_fractions", classes=WORLDCOVER_NAMES, unit="percentage points",
             unit_tag="pp", title="land-cover fractions")
)  # fmt: skip
register_task(
    TaskSpec("climate_zone", "multiclass", target="climate_zone", flag="has_climate_zone",
             classes=KOPPEN_GEIGER, title="climate zone")
)  # fmt: skip
BENGE_TASKS: tuple[str, ...] = (
    "land_cover", "land_cover_labels", "land_cover_fractions", "climate_zone",
)  # fmt: skip
