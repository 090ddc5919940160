"""`PlantwatchCLI`: LightningCLI for ``plantwatch fit | validate | test | predict``.

Configs stack (``--config a.yaml --config b.yaml``); the model is any `BaseTask` subclass and
the data any LightningDataModule, each given by ``class_path`` (default: `MultiTaskTask` on
the generic `DataModule`). Model selection monitors the task's ``monitor`` metric
(``val/selection_loss`` for `MultiTaskTask`), or ``--checkpoint.monitor``. Every run gets a
TensorBoard logger under ``runs/`` (no default hp_metric: HPARAMS carry the real final
metrics) with the learning rates, a checkpoint callback that keeps the checkpoint chosen on
validation as ``checkpoints/best.ckpt`` and always ``last.ckpt`` (resume with
``--ckpt_path``), a prediction writer, a one-line model summary, and its resolved
``config.yaml`` plus ``versions.txt`` (Python and package versions) in the run folder.
``test``, ``validate``, ``predict`` and a resumed ``fit`` with a checkpoint of a run write into
that run's folder. Each command ends by printing what it wrote and what to run next
(``run_report.py``). The optimiser is the task's (``--model.init_args.lr``, ``optimizer``,
``scheduler`` and the per-module multipliers): LightningCLI's ``--optimizer`` and
``--lr_scheduler`` flags, which would silently replace it, are not offered. The data serves
the bands that ``model.init_args.bands`` names (set them there).
"""

from __future__ import annotations

import logging
import platform
import sys
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from jsonargparse import Namespace
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.plugins.environments import SLURMEnvironment

from plantwatch.bundled_configs import with_bundled_configs
from plantwatch.errors import UserError
from plantwatch.files.checkpoints import load_checkpoint, local_checkpoint
from plantwatch.tasks.base import BaseTask
from plantwatch.tasks.multitask_task import MultiTaskTask
from plantwatch.training.best_checkpoint import BestCheckpoint
from plantwatch.training.number_arguments import int_before_float
from plantwatch.training.parameter_summary import ParameterSummary
from plantwatch.training.prediction_writer import PredictionWriter
from plantwatch.training.run_report import (
    checkpoint_run,
    evaluation_report,
    fit_report,
    prediction_report,
)

LIGHTNING_CHECKPOINT_NAMES = ("best", "last", "hpc", "registry")  # the trainer's own files
DEFAULT_MODEL = {"class_path": "plantwatch.tasks.multitask_task.MultiTaskTask"}
DEFAULT_DATA = {"class_path": "plantwatch.data.loading.datamodule.DataModule"}

VERSIONED_PACKAGES = (
    "plantwatch", "torch", "torchvision", "lightning", "segmentation-models-pytorch", "timm",
    "torchmetrics", "albumentations", "numpy", "pandas", "rasterio", "geopandas", "scikit-learn",
)  # fmt: skip
_WHERE = (
    " Configs: --config quickstart (bundled; also the trainer presets cpu, gpu, ddp) or a YAML"
    " file, stacked left to right, then single values (--trainer.max_epochs 5). The model's"
    " options: --model.help MultiTaskTask; the data's: --data.help DataModule; the dataset's:"
    " --data.init_args.dataset.help PlantObservations; the whole resolved config:"
    " --print_config. The Trainer's own options follow."
)
SUBCOMMAND_HELP = {
    "fit": "Train a model and choose its checkpoint on validation (checkpoints/best.ckpt in"
    " the run folder). Example: plantwatch fit --config quickstart --trainer.max_epochs 3."
    + _WHERE,
    "validate": "Score a checkpoint on the validation split. Example: plantwatch validate"
    " --config RUN/config.yaml --ckpt_path RUN/checkpoints/best.ckpt." + _WHERE,
    "test": "Score a checkpoint on the test split, into its run folder. Example: plantwatch"
    " test --config RUN/config.yaml --ckpt_path RUN/checkpoints/best.ckpt." + _WHERE,
    "predict": "Write predictions.csv and mask GeoTIFFs for a split (default test) or another"
    " dataset (--data.init_args.predict_root). Example: plantwatch predict --config"
    " RUN/config.yaml --ckpt_path RUN/checkpoints/best.ckpt." + _WHERE,
}
DEFAULT_LOGGER = {
    "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
    "init_args": {"save_dir": "runs", "name": "plantwatch", "default_hp_metric": False},
}


def _no_advertisements(record: logging.LogRecord) -> bool:
    """Drop Lightning's tips that advertise its cloud products from the run's output."""
    return "💡 Tip" not in record.getMessage()


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_advertisements)
# `--trainer.limit_val_batches 1` is one batch whatever was imported before (number_arguments).
int_before_float(L.Trainer.__init__)
# Lightning 2.6 calls a pytree function that torch ≥ 2.10 deprecates; nothing a user can change.
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages that decide a run's numbers."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _per_stage(name: str, stage: Any, suffix: str) -> str:
    """``config.yaml`` for fit, ``config_test.yaml`` for test (a string or a `TrainerFn`)."""
    stage = str(getattr(stage, "value", stage))
    return f"{name}.{suffix}" if stage == "fit" else f"{name}_{stage}.{suffix}"


class SaveConfigAndVersions(SaveConfigCallback):
    """Save the resolved config and ``versions.txt`` into the run folder (rank 0): as
    ``config.yaml`` for ``fit``, ``config_<stage>.yaml`` for the other stages, so that testing
    a run's checkpoint in its folder keeps the config it was trained with."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.config_filename = _per_stage("config", stage, "yaml")
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Called on rank 0 only: trainer.log_dir would broadcast and hang, the logger's does not.
        folder = trainer.logger.log_dir if trainer.logger else trainer.default_root_dir
        lines = [f"{name}=={version}" for name, version in package_versions().items()]
        path = Path(folder) / _per_stage("versions", stage, "txt")
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
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("parser_kwargs", {name: {"description": SUBCOMMAND_HELP[name]}
                                            for name in SUBCOMMAND_HELP})  # fmt: skip
        super().__init__(BaseTask, L.LightningDataModule, *args, **kwargs)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # every rank waits for the others, then closes gloo/NCCL while all are alive: left to
            # interpreter exit, a rank whose peer had gone aborted now and then (SIGABRT).
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        # plantwatch passes `args` itself (demo, studies, notebooks; bundled configs by name);
        # Lightning's warning about that is meant for a user who passes both.
        if not isinstance(args, (dict, Namespace)):
            args = with_bundled_configs(sys.argv[1:] if args is None else args)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            super().parse_arguments(parser, args)

    def setup_parser(self, *args: Any, **kwargs: Any) -> None:
        super().setup_parser(*args, **kwargs)
        for stage in ("validate", "test"):  # plantwatch prints its own, rounded table
            if stage in getattr(self, "_subcommand_parsers", {}):
                self._subcommand_parsers[stage].set_defaults(verbose=False)

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

    def before_instantiate_classes(self) -> None:
        """A checkpoint of a run (``<run>/checkpoints/….ckpt``): log into that run."""
        settings = self.config.get(self.subcommand) if self.subcommand else None
        path = settings.get("ckpt_path") if settings else None
        run = checkpoint_run(path) if path else None
        logger = settings["trainer"].get("logger") if run is not None else None
        if not hasattr(logger, "get") or not str(logger.get("class_path")).endswith(
            "TensorBoardLogger"
        ):
            return
        logger["init_args"]["save_dir"] = str(run.parent.parent)
        logger["init_args"]["name"] = run.parent.name
        logger["init_args"]["version"] = run.name

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> L.Trainer:
        if config.get("enable_model_summary") is not False:  # ours instead of Lightning's
            callbacks = [*callbacks, ParameterSummary()]
            config = {**config, "enable_model_summary": False}
        if config.get("logger") not in (None, False, []):
            callbacks = [*callbacks, LearningRateMonitor()]
        return super()._instantiate_trainer(config, callbacks)

    def _check_ckpt_path(self) -> None:
        checkpoint = getattr(self, "_checkpoint", None)
        if checkpoint is not None:
            path = self.config_init[self.subcommand].get("ckpt_path")
            check_checkpoint_fits(self.model, checkpoint, path)

    before_fit = before_validate = before_test = before_predict = _check_ckpt_path

    def fit(self, model: L.LightningModule, **kwargs: Any) -> None:
        """``trainer.fit``; resuming a run's checkpoint (given, or the one Lightning saved when
        SLURM warned the job) goes on in that run's folder, which Lightning would call a folder
        of someone else's checkpoints."""
        requeued = SLURMEnvironment.detect() and any(
            Path(self.trainer.default_root_dir).glob("hpc_ckpt_*.ckpt")
        )
        with warnings.catch_warnings():
            if kwargs.get("ckpt_path") or requeued:
                warnings.filterwarnings("ignore", message="Checkpoint directory .* not empty")
            self.trainer.fit(model, **kwargs)

    def after_fit(self) -> None:
        checkpoint = self.trainer.checkpoint_callback
        best = getattr(checkpoint, "best_path", None)
        score = getattr(checkpoint, "best_model_score", None)
        self._report(fit_report(
            Path(self.trainer.log_dir or "."), best if best and best.is_file() else None,
            None if score is None else float(score), getattr(checkpoint, "monitor", None),
        ))  # fmt: skip

    def after_validate(self) -> None:
        self._report(evaluation_report(self.trainer.callback_metrics, "val", self._run()))

    def after_test(self) -> None:
        self._report(evaluation_report(self.trainer.callback_metrics, "test", self._run()))

    def after_predict(self) -> None:
        writer = next((c for c in self.trainer.callbacks if isinstance(c, PredictionWriter)), None)
        table = writer.written if writer is not None else None
        if table is not None and table.is_file():
            rows = len(pd.read_csv(table, usecols=[0]))
            self._report(prediction_report(table, rows, getattr(self.datamodule, "root", None)))

    def _run(self) -> Path:
        return Path(self.trainer.log_dir or ".")

    def _report(self, text: str) -> None:
        if self.trainer.is_global_zero:
            print(f"\n{text}")

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(BestCheckpoint, "checkpoint")
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
    cli.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path, weights_only=True)
    checkpoint = trainer.checkpoint_callback
    best = "best" if checkpoint is not None and checkpoint.best_model_path else None
    for evaluate in (trainer.validate, trainer.test):
        evaluate(cli.model, datamodule=cli.datamodule, ckpt_path=best, weights_only=True,
                 verbose=False)  # fmt: skip
    metrics = {}
    for key, value in cli.model.final_metrics.items():
        stage, name = key.split("/", 1)
        if stage in ("val", "test"):
            metrics[name if stage == "test" else f"val_{name}"] = value
    return metrics, cli
