"""`PlantwatchCLI`: LightningCLI for ``plantwatch fit | validate | test | predict``.

Configs stack (``--config a.yaml --config b.yaml``); the model is a `MultiTaskTask`, the
data any LightningDataModule given by ``class_path``. Every run gets a TensorBoard logger
under ``runs/`` (no default hp_metric: HPARAMS carry the real final metrics), a checkpoint
callback that always keeps ``last.ckpt`` (resume with ``--ckpt_path``), a prediction writer,
and its resolved ``config.yaml`` plus ``versions.txt`` (Python and package versions) in
the run folder. The data serves the bands ``model.bands`` names (set bands there, not under data).
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.tasks.multitask import MultiTaskTask
from plantwatch.tasks.prediction_writer import PredictionWriter

VERSIONED_PACKAGES = (
    "plantwatch", "torch", "torchvision", "lightning", "segmentation-models-pytorch", "timm",
    "torchmetrics", "albumentations", "numpy", "pandas", "rasterio", "geopandas", "scikit-learn",
)  # fmt: skip
DEFAULT_LOGGER = {
    "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
    "init_args": {"save_dir": "runs", "name": "plantwatch", "default_hp_metric": False},
}


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
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("seed_everything_default", 0)
        super().__init__(MultiTaskTask, L.LightningDataModule, *args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.monitor": "val/loss"})
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        # The model names its input bands (the 12 L2A bands unless configured); the data
        # serves exactly those, and both record the same list in their hparams.
        parser.set_defaults({"model.bands": list(L2A_BAND_NAMES)})
        parser.link_arguments("model.bands", "data.init_args.bands", compute_fn=list)


def fit_and_test(
    args: list[str], ckpt_path: str | None = None
) -> tuple[dict[str, float], PlantwatchCLI]:
    """Fit a model from LightningCLI ``args``, test its best validation checkpoint.

    Args:
        args: LightningCLI arguments without a subcommand (``--config …``, overrides).
        ckpt_path: a checkpoint to resume the fit from (e.g. a killed run's last.ckpt).

    Returns:
        (test metrics by name without the ``test/`` prefix, the CLI with model, data, trainer).
    """
    cli = PlantwatchCLI(args=args, run=False)
    trainer = cli.trainer
    trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path)
    checkpoint = trainer.checkpoint_callback
    best = "best" if checkpoint is not None and checkpoint.best_model_path else None
    trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=best)
    metrics = {
        k.removeprefix("test/"): v
        for k, v in cli.model.final_metrics.items()
        if k.startswith("test/")
    }
    return metrics, cli
