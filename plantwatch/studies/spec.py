"""`Study`: a YAML file naming base configs, variants, seeds and label fractions.

```yaml
name: single_vs_multitask
base: [quickstart]          # LightningCLI configs stacked for every run
args: ["--trainer.max_epochs=8"]             # overrides for every run
seeds: [0, 1, 2]                             # training seeds
split_seeds: [0, 1]                          # data split seeds (default: the dataset's split)
label_fractions: [0.1, 1.0]                  # fractions with split files (train_10pct …)
cut_val_labels: true                         # validation labels cut to the label fraction
baselines: {plume: single_plume, power: single_power}   # single-task baseline per task
metrics: [power_mae_mw, plume_iou]           # the record's columns (default: the plant tasks')
headline: [power_mae_mw]                     # its headline table (default: see `headline`)
reference: multitask                         # variant the others are paired with (default: first)
selection: val_selection_loss                # validation score of "chosen on validation"
slurm: {partition: gpu, gpus_per_run: 1}     # resources per run on SLURM (`slurm_settings.py`)
variants:                                    # a config delta (YAML mapping) or config paths
  single_plume: {model: {tasks: [plume]}}
  multitask: [experiments/model/multitask.yaml]
```

With ``active_learning: {task: plume, max_per_plant: 2}`` the variants are selection
strategies and the label fractions the shares of the task's training labels after each
round (`active_learning.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plantwatch.bundled_configs import bundled_names, config_path
from plantwatch.errors import UserError
from plantwatch.files.ids import checked_id
from plantwatch.studies.active_learning import (
    ActiveLearning,
    check_active_learning,
    label_set_path,
)
from plantwatch.studies.run import Run
from plantwatch.studies.slurm_settings import SlurmSettings
from plantwatch.task_registry import TASKS
from plantwatch.tasks.metrics import describe_metric

# The record's columns of a plant study (headline test metrics, best first).
PLANT_METRICS: tuple[str, ...] = (
    "power_mae_mw", "power_r2", "co2_mae_t_per_h", "co2_r2",
    "fuel_accuracy", "fuel_macro_f1", "plume_iou", "plume_f1",
)  # fmt: skip
PLANT_HEADLINE = ("power_mae_mw", "co2_mae_t_per_h", "fuel_accuracy", "plume_iou")
SELECTION_LOSS = "val_selection_loss"


def _leaves(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """The leaf values of a nested mapping by dotted path (``model.init_args.lr``)."""
    if not isinstance(mapping, dict):
        return {prefix.rstrip("."): mapping} if prefix else {}
    return {path: leaf for key, value in mapping.items()
            for path, leaf in _leaves(value, f"{prefix}{key}.").items()}  # fmt: skip


def overridden_keys(args: Sequence[str], variants: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(variant, key) of every key a variant sets that an argument of ``args`` (``--key=value``)
    sets to another value, or sets above or below it: the argument comes after the variant's
    config on the command line, so the variant's value would be silently lost."""
    given = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
    given = {key: yaml.safe_load(value) for key, value in given.items()}
    found = []
    for name, delta in variants.items():
        for key, value in _variant_leaves(delta).items():
            for arg, set_to in given.items():
                same = key == arg and set_to == value
                if not same and (key == arg or f"{key}.".startswith(f"{arg}.")
                                 or arg.startswith(f"{key}.")):  # fmt: skip
                    found.append((name, key))
    return found


def _variant_leaves(delta: Any) -> dict[str, Any]:
    """The settings of a variant by dotted path: its mapping, or its config files read."""
    configs = [yaml.safe_load(Path(config_path(c)).read_text()) for c in delta] if (
        isinstance(delta, list)) else [delta]  # fmt: skip
    return {key: value for config in configs for key, value in _leaves(config).items()}


def encoder_names(variants: Mapping[str, Any]) -> list[str]:
    """The zoo entries or files that the variants load as ``encoder_checkpoint``, sorted."""
    return sorted({str(value) for delta in variants.values()
                   for key, value in _variant_leaves(delta).items()
                   if key.endswith("encoder_checkpoint") and value is not None})  # fmt: skip


def variant_config(root: Path, name: str) -> Path:
    """Where a study writes the config of a variant given as a mapping."""
    return root / "variants" / f"{name}.yaml"


@dataclass(frozen=True)
class Study:
    """A parsed study file (see the module docstring)."""

    name: str
    base: tuple[str, ...]
    args: tuple[str, ...]
    variants: dict[str, Any]
    seeds: tuple[int, ...]
    label_fractions: tuple[float, ...]
    baselines: dict[str, str]
    path: Path
    split_seeds: tuple[int | None, ...] = (None,)
    cut_val_labels: bool = False
    metrics: tuple[str, ...] = PLANT_METRICS
    headline_metrics: tuple[str, ...] = ()
    reference_variant: str | None = None
    selection: str = SELECTION_LOSS
    active_learning: ActiveLearning | None = None
    slurm: SlurmSettings = field(default_factory=SlurmSettings)

    @property
    def headline(self) -> tuple[str, ...]:
        """The metrics of the record's headline table: the study's ``headline``, else the
        plant headline (power and CO₂ MAE, fuel accuracy, plume IoU) among its metrics,
        else its first two metrics."""
        if self.headline_metrics:
            return self.headline_metrics
        return tuple(m for m in PLANT_HEADLINE if m in self.metrics) or self.metrics[:2]

    @property
    def labels_name(self) -> str:
        """What the record's label axis counts."""
        if self.active_learning is None:
            return "labelled training images"
        return f"{self.active_learning.task} labels"

    @property
    def reference(self) -> str:
        """The variant the others are paired with: the study's ``reference``, else the
        first variant."""
        return self.reference_variant or next(iter(self.variants))

    @property
    def validation_metrics(self) -> tuple[str, ...]:
        """Validation columns of the record: the selection score and the first metric."""
        return tuple(dict.fromkeys((self.selection, f"val_{self.metrics[0]}")))

    @classmethod
    def from_yaml(cls, path: str | Path) -> Study:
        """Read and check a study file; errors name the file and the key."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such study file; see experiments/studies/")
        try:
            spec = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise UserError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(spec, dict):
            raise UserError(f"{path}: a study file is a mapping of keys (name, base, …)")
        missing = [k for k in ("name", "base", "variants", "seeds") if k not in spec]
        if missing:
            raise UserError(f"{path}: missing keys {missing}")
        try:
            study = cls(
                name=checked_id(spec["name"], "name", path),
                base=tuple(spec["base"]),
                args=tuple(str(a) for a in spec.get("args", [])),
                variants={
                    checked_id(k, "variant name", path): v
                    for k, v in dict(spec["variants"]).items()
                },
                seeds=tuple(int(s) for s in spec["seeds"]),
                label_fractions=tuple(float(f) for f in spec.get("label_fractions", [1.0])),
                baselines=dict(spec.get("baselines", {})),
                path=path,
                split_seeds=tuple(int(s) for s in spec.get("split_seeds", [])) or (None,),
                cut_val_labels=bool(spec.get("cut_val_labels", False)),
                metrics=tuple(spec.get("metrics", PLANT_METRICS)),
                headline_metrics=tuple(spec.get("headline", ())),
                reference_variant=spec.get("reference"),
                selection=str(spec.get("selection", SELECTION_LOSS)),
                active_learning=(ActiveLearning(**spec["active_learning"])
                                 if "active_learning" in spec else None),
                slurm=SlurmSettings.from_mapping(spec.get("slurm", {}), path),
            )
        except (TypeError, ValueError) as error:
            if isinstance(error, UserError):
                raise
            raise UserError(f"{path}: a key has a value of the wrong kind ({error})") from None
        try:
            for metric in (*study.metrics, *study.headline_metrics):
                describe_metric(metric)
            if study.selection != SELECTION_LOSS:
                describe_metric(study.selection.removeprefix("val_"))
        except KeyError as error:
            raise UserError(f"{path}: metrics: {error.args[0]}") from None
        if study.reference not in study.variants:
            raise UserError(f"{path}: reference {study.reference!r} is not a variant")
        if not study.selection.startswith("val_"):
            raise UserError(f"{path}: selection {study.selection!r} is no validation score "
                            "(val_<metric>)")  # fmt: skip
        for config in study.base + tuple(
            c for v in study.variants.values() if isinstance(v, list) for c in v
        ):
            if not Path(config_path(config)).is_file():
                raise UserError(
                    f"{path}: config {config} not found (paths are relative to the working "
                    f"folder; bundled configs by name: {', '.join(bundled_names())})"
                )
        clashes = overridden_keys(study.args, study.variants)
        if clashes:
            variant, key = clashes[0]
            raise UserError(f"{path}: variant {variant} sets {key}, which args set for every "
                            "run, overriding it; move that argument into a base config")
        unknown = {
            t: v for t, v in study.baselines.items() if v not in study.variants or t not in TASKS
        }
        if unknown:
            raise UserError(f"{path}: baselines {unknown} name unknown tasks or variants")
        for key, values in (("seeds", study.seeds), ("split_seeds", study.split_seeds)):
            if len(set(values)) != len(values) or not values:
                raise UserError(f"{path}: {key} must be distinct and at least one")
        if study.active_learning is not None:
            check_active_learning(path, study.active_learning, tuple(study.variants),
                                  study.label_fractions, study.metrics)  # fmt: skip
        return study

    def runs(self) -> list[Run]:
        """All runs, seed by seed, so early results cover every variant (an active-learning
        study's first fraction, the start, only of the reference)."""
        return [
            Run(variant, fraction, seed, split_seed)
            for split_seed, seed, fraction, variant in itertools.product(
                self.split_seeds, self.seeds, self.label_fractions, self.variants
            )
            if self.active_learning is None or fraction != self.label_fractions[0]
            or variant == self.reference
        ]

    @property
    def validation_labels(self) -> str:
        """How the validation labels were chosen, for the record."""
        if self.cut_val_labels:
            return (
                "cut to the training label fraction per task (at least min_val_labels "
                "labelled observations per task)"
            )
        return "all labels of the validation split, at every label fraction"

    def run_args(self, run: Run, root: Path) -> list[str]:
        """LightningCLI arguments of ``run`` with its TensorBoard folder under ``root``."""
        variant = self.variants[run.variant]
        configs = variant if isinstance(variant, list) else [str(variant_config(root, run.variant))]
        return [
            *(arg for config in (*self.base, *configs) for arg in ("--config", config)),
            *self.args,
            f"--seed_everything={run.seed}",
            *self.label_args(run, root),
            f"--data.init_args.split_seed={'null' if run.split_seed is None else run.split_seed}",
            f"--data.init_args.cut_val_labels={str(self.cut_val_labels).lower()}",
            f"--trainer.logger.init_args.save_dir={root}",
            f"--trainer.logger.init_args.name={run.group}",
            f"--trainer.logger.init_args.version={run.version}",
        ]

    def label_args(self, run: Run, root: Path) -> list[str]:
        """The training labels of ``run``: its label fraction, or (active learning) every
        image with the label set of its round."""
        if self.active_learning is None:
            return [f"--data.init_args.label_fraction={run.label_fraction}"]
        label_set = label_set_path(root, run, self.label_fractions[0])
        return ["--data.init_args.label_fraction=1.0", f"--data.init_args.label_set={label_set}"]

    def write_variant_configs(self, root: Path) -> None:
        """Write each mapping variant as ``<root>/variants/<name>.yaml`` (a stackable config)."""
        for name, delta in self.variants.items():
            if not isinstance(delta, list):
                path = variant_config(root, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(yaml.safe_dump(delta or {}, sort_keys=False))
