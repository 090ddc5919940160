"""`PlantwatchCLI`: LightningCLI for ``plantwatch fit | validate | test | predict``.

Configs stack (``--config a.yaml --config b.yaml``); the model is any `BaseTask` subclass and
the data any LightningDataModule, each given by ``class_path`` (default: `MultiTaskTask` on
the generic `DataModule`). Model selection monitors the task's ``monitor`` metric
(``val/selection_loss`` for `MultiTaskTask`), or ``--checkpoint.monitor``. Every run gets a
TensorBoard logger under ``runs/`` (no default hp_metric: HPARAMS carry the real final
metrics), a checkpoint callback that always keeps ``last.ckpt`` (resume with
``--ckpt_path``), a prediction writer, and its resolved ``config.yaml`` plus
``versions.txt`` (Python and package versions) in the run folder. The data serves the bands
that ``model.init_args.bands`` names (set them there).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from plantwatch.errors import UserError
from plantwatch.files.checkpoints import load_checkpoint, local_checkpoint
from plantwatch.tasks.base import BaseTask
from plantwatch.tasks.multitask_task import MultiTaskTask
from plantwatch.training.prediction_writer import PredictionWriter

LIGHTNING_CHECKPOINT_NAMES = ("best", "last", "hpc", "registry")  # the trainer's own files
DEFAULT_MODEL = {"class_path": "plantwatch.tasks.multitask_task.MultiTaskTask"}
DEFAULT_DATA = {"class_path": "plantwatch.data.loading.datamodule.DataModule"}

VERSIONED_PACKAGES = (
    "plantwatch", "torch", "torchvision", "lightning", "segmentation-models-pytorch", "timm",
    "torchmetrics", "albumentations", "numpy", "pandas", "rasterio", "geopandas", "scikit-learn",
)  # fmt: skip
DEFAULT_LOGGER = {
    "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
    "init_args": {"save_dir": "runs", "name": "plantwatch", "default_hp_metric": False},
}


def _no_advertisements(record: logging.LogRecord) -> bool:
    """Drop Lightning's tips that advertise its cloud products from the run's output."""
    return "💡 Tip" not in record.getMessage()


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_advertisements)


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages that decide a run's numbers."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class SaveConfigAndVersions(SaveConfigCallback):
    """Save the resolved config and ``versions.txt`` into the run folder (rank 0)."""

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Called on rank 0 only: trainer.log_dir would broadcast and hang, the logger's does not.
        folder = trainer.logger.log_dir if trainer.logger else trainer.default_root_dir
        lines = [f"{name}=={version}" for name, version in package_versions().items()]
        path = Path(folder) / "versions.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


class PlantwatchCLI(LightningCLI):
    """LightningCLI with plantwatch's defaults (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("save_config_callback", SaveConfigAndVersions)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("trainer_defaults", {"logger": DEFAULT_LOGGER})
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("seed_everything_default", 0)
        super().__init__(BaseTask, L.LightningDataModule, *args, **kwargs)

    def _parse_ckpt_path(self) -> None:
        """Lightning reads the hyperparameters of ``--ckpt_path`` here, before anything is
        built: the file is checked first (``plantwatch/files/checkpoints.py``: local, tensors and
        plain values only; a URL is refused), and the trainer loads it with
        ``weights_only=True`` whatever the torch default."""
        subcommand = self.config.get("subcommand")
        settings = self.config.get(subcommand) if subcommand else None
        if settings is not None:
            if "weights_only" in settings:
                settings["weights_only"] = True
            path = settings.get("ckpt_path")
            if path is not None and str(path) not in LIGHTNING_CHECKPOINT_NAMES:
                settings["ckpt_path"] = str(local_checkpoint(path, "--ckpt_path"))
                self._checkpoint = load_checkpoint(path, "--ckpt_path")  # checked once, here
        super()._parse_ckpt_path()

    def _check_ckpt_path(self) -> None:
        checkpoint = getattr(self, "_checkpoint", None)
        if checkpoint is not None:
            path = self.config_init[self.subcommand].get("ckpt_path")
            check_checkpoint_fits(self.model, checkpoint, path)

    before_fit = before_validate = before_test = before_predict = _check_ckpt_path

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # Selection on validation, never on test: the default model's monitor.
        monitor = {
            "checkpoint.monitor": MultiTaskTask.monitor,
            "checkpoint.mode": MultiTaskTask.mode,
        }
        parser.set_defaults({"checkpoint.save_last": True, **monitor})
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.set_defaults({"model": DEFAULT_MODEL, "data": DEFAULT_DATA})
        # The model names its input bands (None: the 12 L2A bands); the data serves exactly
        # those, and both record the same value in their hparams.
        parser.link_arguments("model.init_args.bands", "data.init_args.bands")


def check_checkpoint_fits(
    model: L.LightningModule, checkpoint: Mapping[str, Any], path: str | Path
) -> None:
    """Refuse a checkpoint (as `load_checkpoint` read it from ``path``) whose weights do not
    fit ``model`` (another task selection, encoder or band set), naming the first
    differences.

    Raises:
        UserError: no state dict, or weights of another model.
    """
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise UserError(f"--ckpt_path {path}: no state_dict; give a checkpoint of plantwatch fit")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} ≠ {tuple(v.shape)}" for k, v in own.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]  # fmt: skip
    if missing or unexpected or shapes:
        raise UserError(
            f"--ckpt_path {path}: the checkpoint is of another model (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}, shapes {shapes[:3]}); pass the config it was "
            "trained with (config.yaml in its run folder) before --ckpt_path"
        )


def fit_and_test(
    args: list[str], ckpt_path: str | None = None
) -> tuple[dict[str, float], PlantwatchCLI]:
    """Fit a model from LightningCLI ``args``; validate and test its best validation checkpoint.

    Args:
        args: LightningCLI arguments without a subcommand (``--config …``, overrides).
        ckpt_path: a checkpoint to resume the fit from (e.g. a killed run's last.ckpt).

    Returns:
        (metrics of the best checkpoint: test metrics by name without the ``test/`` prefix,
        validation metrics as ``val_<name>``; the CLI with model, data and trainer).
    """
    cli = PlantwatchCLI(args=args, run=False)
    trainer = cli.trainer
    if ckpt_path is not None:
        ckpt_path = str(local_checkpoint(ckpt_path, "resume checkpoint"))
    trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path, weights_only=True)
    checkpoint = trainer.checkpoint_callback
    best = "best" if checkpoint is not None and checkpoint.best_model_path else None
    trainer.validate(cli.model, datamodule=cli.datamodule, ckpt_path=best, weights_only=True)
    trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=best, weights_only=True)
    metrics = {}
    for key, value in cli.model.final_metrics.items():
        stage, name = key.split("/", 1)
        if stage in ("val", "test"):
            metrics[name if stage == "test" else f"val_{name}"] = value
    return metrics, cli
