"""`BestCheckpoint`: Lightning's `ModelCheckpoint`, with the best checkpoint also by name."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

BEST_NAME = "best.ckpt"


class BestCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` that keeps ``<dirpath>/best.ckpt`` equal to the checkpoint chosen on
    the monitored metric (``epoch=…-step=….ckpt``), so that a command can name it without
    looking it up: ``--ckpt_path runs/<name>/version_<n>/checkpoints/best.ckpt``.

    ``best.ckpt`` is a hard link (a copy where the filesystem has none), replaced atomically
    each time a better checkpoint is saved; a run killed at any moment leaves it whole. Takes
    every argument of `ModelCheckpoint` (``--checkpoint.monitor``, ``--checkpoint.save_top_k``,
    …).
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self._fitting = stage == "fit"

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the selection state (best path and score, top k) only to go on fitting:
        ``validate``, ``test`` and ``predict`` with a checkpoint keep this run's own state,
        wherever the checkpoint was saved."""
        if getattr(self, "_fitting", True):
            super().load_state_dict(state_dict)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        super().on_train_batch_end(trainer, *args, **kwargs)
        self._name_best(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._name_best(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self._name_best(trainer)

    @property
    def best_path(self) -> Path | None:
        """``<dirpath>/best.ckpt``, or None before a checkpoint was saved."""
        return Path(self.dirpath) / BEST_NAME if self.best_model_path and self.dirpath else None

    def _name_best(self, trainer: L.Trainer) -> None:
        best, target = self.best_model_path, self.best_path
        if not trainer.is_global_zero or target is None or not Path(best).is_file():
            return
        if target.is_file() and os.path.samefile(best, target):
            return
        partial = target.with_name(f".{BEST_NAME}.partial")
        partial.unlink(missing_ok=True)
        try:
            os.link(best, partial)
        except OSError:  # no hard links here (some network and FAT filesystems)
            shutil.copyfile(best, partial)
        os.replace(partial, target)
