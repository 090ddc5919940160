"""`BaseTask`: what every plantwatch LightningModule shares.

``__init__`` saves the hyperparameters (the subclass's signature is the config schema), then
calls the subclass's ``configure_models``, ``configure_losses`` and ``configure_metrics`` and
freezes the modules named in ``freeze``. The base provides:

- the optimizer (AdamW or SGD) with parameter groups: a learning-rate multiplier per module
  name (``{"model.encoder": 0.1}``), and no weight decay on biases, normalisation weights
  and learned loss weights; a cosine schedule per step;
- freezing by module name: no gradients, and kept in eval mode so BatchNorm statistics do
  not drift (``["model.encoder", "model.decoder"]`` with a head = a linear probe);
- input normalisation with the training statistics of the data, held in buffers so it
  travels in every checkpoint: a model normalises any later dataset as it was trained —
  the optical bands, further spatial modalities (``image_s1``, ``dem`` …, by channel name)
  and ``aux``; scalar modalities for fusion as vectors (``scalar_vector``);
- checks that the data serves the bands, modalities and aux columns the model was built for;
- TensorBoard figures and HPARAMS through public APIs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import nn
from torch.utils.tensorboard.summary import hparams

from plantwatch.data.format.statistics import Statistics
from plantwatch.data.loading.sample import REFERENCE_KEY, flag_key
from plantwatch.scalar_modalities import SCALAR_MODALITIES

NO_DECAY_NAMES = ("log_vars",)  # learned loss weights


def scalar_vector(batch: Mapping[str, Any], key: str, aux: torch.Tensor | None) -> torch.Tensor:
    """A scalar modality of a batch as a float vector [B, A]: ``aux`` normalised; ``season``
    (0 winter – 1 summer solstice) mapped to [-1, 1]; ``climate_zone`` one-hot over the 30
    Köppen–Geiger classes. Unknown values (flag false) are zeros."""
    if key == "aux":
        if aux is None:
            raise ValueError("the model fuses aux (weather), which the batch does not hold")
        return aux.float()
    known = batch[f"has_{key}"].bool()[:, None]
    if key == "season":
        value = batch["season"].float()[:, None] * 2 - 1
    else:
        classes = SCALAR_MODALITIES[key]
        value = torch.nn.functional.one_hot(batch[key].long().clamp(0, classes - 1), classes)
    return torch.where(known, value.float(), 0.0)


class BaseTask(L.LightningModule):
    """Base of plantwatch task modules (see the module docstring).

    Args:
        bands: input band names, in order.
        aux_features: length of the ``aux`` vector (0: none).
        extra_modalities: further spatial inputs by sample key with their channel names, in
            order (``{"image_s1": ["VV", "VH"], "dem": ["DEM"]}``); None: the image only.
        scalar_modalities: scalar modalities to fuse, by key (``SCALAR_MODALITIES``).
        optimizer: ``adamw`` or ``sgd`` (with momentum).
        lr: base learning rate.
        weight_decay: weight decay of weights (not of biases, norms and loss weights).
        momentum: SGD momentum.
        scheduler: ``cosine`` (per step, to zero at the end of training) or ``none``.
        lr_multipliers: learning-rate multiplier by module name (longest matching prefix).
        freeze: names of modules to freeze (``model.encoder`` …).
    """

    monitor: str = "val/loss"
    mode: Literal["min", "max"] = "min"

    def __init__(
        self,
        bands: Sequence[str],
        aux_features: int = 0,
        extra_modalities: Mapping[str, Sequence[str]] | None = None,
        scalar_modalities: Sequence[str] | None = None,
        optimizer: Literal["adamw", "sgd"] = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        scheduler: Literal["cosine", "none"] = "cosine",
        lr_multipliers: Mapping[str, float] | None = None,
        freeze: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.bands = tuple(bands)
        self.extra_modalities = {k: tuple(v) for k, v in (extra_modalities or {}).items()}
        self.scalar_modalities = tuple(scalar_modalities or ())
        unknown = sorted(set(self.scalar_modalities) - set(SCALAR_MODALITIES))
        if unknown or ("aux" in self.scalar_modalities and not aux_features):
            raise ValueError(
                f"scalar_modalities {list(self.scalar_modalities)}: choose from "
                f"{list(SCALAR_MODALITIES)} (aux needs aux_features > 0)"
            )
        extra_channels = sum(len(v) for v in self.extra_modalities.values())
        self.register_buffer("input_mean", torch.zeros(len(self.bands)))
        self.register_buffer("input_std", torch.ones(len(self.bands)))
        self.register_buffer("extra_mean", torch.zeros(extra_channels))
        self.register_buffer("extra_std", torch.ones(extra_channels))
        self.register_buffer("aux_mean", torch.zeros(aux_features))
        self.register_buffer("aux_std", torch.ones(aux_features))
        self.register_buffer("normalization_set", torch.tensor(False))
        # (mean, std) by channel that a pretrained encoder was trained with: they replace the
        # data's statistics for those channels (set by configure_models where it loads one).
        self.encoder_statistics: dict[str, tuple[float, float]] = {}
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()
        self.frozen = tuple(freeze or ())
        for name in self.frozen:
            self.get_submodule(name).requires_grad_(False).eval()
        self._hparams_written = False

    @property
    def needs_reference(self) -> bool:
        """The model reads the plant's clear-sky reference (``reference`` modality): a task
        with a ``reference_fusion`` hyperparameter other than ``none``."""
        return self.hparams.get("reference_fusion", "none") != "none"

    # ------------------------------------------------------------------ subclass hooks
    def configure_models(self) -> None:
        """Build the networks."""

    def configure_losses(self) -> None:
        """Build the loss functions and their weighting."""

    def configure_metrics(self) -> None:
        """Build the metrics per stage."""

    def configure_statistics(self, statistics: Statistics) -> None:
        """Take further statistics from the training data (e.g. target scales)."""

    # ------------------------------------------------------------------ data
    def normalize(
        self, batch: Mapping[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """(image [B, C, H, W], aux [B, A] or None, further modalities by key: spatial
        [B, C_k, H, W] and scalar [B, A_k]) standardised with the training statistics."""
        band_mean, band_std = self.input_mean[:, None, None], self.input_std[:, None, None]
        image = (batch["image"] - band_mean) / band_std
        aux = batch.get("aux")
        if aux is not None and self.aux_mean.numel():
            aux = (aux - self.aux_mean) / self.aux_std
        extras, start = {}, 0
        for key, channels in self.extra_modalities.items():
            span = slice(start, start + len(channels))
            mean, std = self.extra_mean[span, None, None], self.extra_std[span, None, None]
            extras[key] = (batch[key].float() - mean) / std
            start = span.stop
        for key in self.scalar_modalities:
            extras[key] = scalar_vector(batch, key, aux)
        if REFERENCE_KEY in batch:  # the plant's reference: reflectance of the image's bands
            extras[REFERENCE_KEY] = (batch[REFERENCE_KEY].float() - band_mean) / band_std
            extras[flag_key(REFERENCE_KEY)] = batch[flag_key(REFERENCE_KEY)]
        return image, aux, extras

    def set_statistics(self, statistics: Statistics, aux_columns: Sequence[str]) -> None:
        """Copy the training statistics of the model's bands and aux columns into buffers
        (for channels a pretrained encoder records, its statistics)."""
        extra = [c for v in self.extra_modalities.values() for c in v]
        buffers = ((self.bands, self.input_mean, self.input_std),
                   (extra, self.extra_mean, self.extra_std))  # fmt: skip
        for names, mean_buffer, std_buffer in buffers:
            if not names:
                continue
            mean, std = statistics.of(names)
            for i, name in enumerate(names):
                mean[i], std[i] = self.encoder_statistics.get(name, (mean[i], std[i]))
            mean_buffer.copy_(torch.from_numpy(mean))
            std_buffer.copy_(torch.from_numpy(std))
        if self.aux_mean.numel():
            mean, std = statistics.of(aux_columns)
            self.aux_mean.copy_(torch.from_numpy(mean))
            self.aux_std.copy_(torch.from_numpy(std))
        self.configure_statistics(statistics)
        self.normalization_set.fill_(True)

    def setup(self, stage: str) -> None:
        """Check that the data serves the model's bands and aux length; on first use, take the
        normalisation from the data's training statistics (a checkpoint's prevail)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        datasets = getattr(datamodule, "datasets", {})
        for name, dataset in datasets.items():
            if tuple(dataset.bands) != self.bands:
                raise ValueError(
                    f"the {name} data serves bands {list(dataset.bands)} but the model was built "
                    f"for {list(self.bands)}; set model.bands and data.bands alike"
                )
            served = {k: tuple(v) for k, v in getattr(dataset, "modalities", {}).items()}
            if self.needs_reference and served.get(REFERENCE_KEY) != self.bands:
                raise ValueError(
                    f"the model reads the plant's reference, which the {name} data does not "
                    "serve; set data.init_args.dataset.init_args.modalities: [image, reference]"
                )
            for key, channels in self.extra_modalities.items():
                if served.get(key) != channels:
                    raise ValueError(
                        f"the {name} data serves {key} as {served.get(key)}, the model was "
                        f"built for {list(channels)}; choose the dataset's modalities alike"
                    )
            if self.aux_mean.numel() and len(dataset.aux_columns) != self.aux_mean.numel():
                raise ValueError(
                    f"the {name} data has {len(dataset.aux_columns)} aux columns "
                    f"{list(dataset.aux_columns)}, the model takes {self.aux_mean.numel()}"
                )
        if bool(self.normalization_set):
            return
        if datasets:
            dataset = next(iter(datasets.values()))
            self.set_statistics(dataset.statistics, dataset.aux_columns)
        else:
            warnings.warn(
                "the data exposes no training statistics (use plantwatch.data.loading.datamodule."
                "DataModule, or call set_statistics): inputs are fed unnormalised",
                stacklevel=2,
            )

    # ------------------------------------------------------------------ optimisation
    def train(self, mode: bool = True) -> BaseTask:
        """Train mode, except for frozen modules, which stay in eval mode."""
        super().train(mode)
        for name in self.frozen:
            self.get_submodule(name).eval()
        return self

    def on_fit_start(self) -> None:
        """Frozen modules are in eval mode on purpose: Lightning's warning about modules in
        eval mode is for those that are not (it stays on for a model without ``freeze``)."""
        if self.frozen:
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")

    def on_train_epoch_start(self) -> None:
        """Lightning restores the modes it saw before validation; frozen stay in eval."""
        for name in self.frozen:
            self.get_submodule(name).eval()

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Trainable parameters grouped by learning rate and weight decay, each group named
        by its learning-rate multiplier and decay (``lr_x0.1_decay``)."""
        h = self.hparams
        multipliers = dict(h.lr_multipliers or {})
        unknown = [m for m in multipliers if m not in dict(self.named_modules())]
        if unknown:
            raise ValueError(f"lr_multipliers name modules that do not exist: {unknown}")
        groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
        for name, parameter in self.named_parameters():
            if not parameter.requires_grad:
                continue
            prefixes = [m for m in multipliers if name.startswith(f"{m}.")]
            factor = multipliers[max(prefixes, key=len)] if prefixes else 1.0
            decay = parameter.ndim > 1 and not any(n in name for n in NO_DECAY_NAMES)
            groups.setdefault((factor, decay), []).append(parameter)
        return [  # the name is the group's tag in TensorBoard: lr-AdamW/lr_x0.1_no_decay
            {"params": params, "lr": h.lr * factor,
             "weight_decay": h.weight_decay if decay else 0.0,
             "name": f"lr_x{factor:g}_{'decay' if decay else 'no_decay'}"}
            for (factor, decay), params in groups.items()
        ]  # fmt: skip

    def configure_optimizers(self) -> dict[str, Any]:
        h = self.hparams
        groups = self.parameter_groups()
        if h.optimizer == "adamw":
            optimizer = torch.optim.AdamW(groups, lr=h.lr)
        else:
            optimizer = torch.optim.SGD(groups, lr=h.lr, momentum=h.momentum)
        if h.scheduler == "none":
            return {"optimizer": optimizer}
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # ------------------------------------------------------------------ TensorBoard
    def tensorboard(self) -> TensorBoardLogger | None:
        """The run's TensorBoard logger on rank 0, else None."""
        if not self._trainer or not self.trainer.is_global_zero:
            return None
        return next((lg for lg in self.loggers if isinstance(lg, TensorBoardLogger)), None)

    def log_figure(self, tag: str, figure: Figure) -> None:
        """Add a matplotlib figure to TensorBoard at the current step (rank 0)."""
        logger = self.tensorboard()
        if logger is not None:
            logger.experiment.add_figure(tag, figure, self.global_step)

    def write_hparams(self, metric_tags: Sequence[str]) -> None:
        """Record hyperparameters and the metric tags for TensorBoard's HPARAMS tab, once.

        HPARAMS shows the last logged value of each listed scalar tag, so the final metrics
        appear as they are logged (a run never tested shows empty test columns).
        """
        logger = self.tensorboard()
        if self._hparams_written or logger is None:
            return
        params = {k: v for k, v in self.hparams.items() if not k.startswith("_")}
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            params.update(
                {f"data/{k}": v for k, v in datamodule.hparams.items() if not k.startswith("_")}
            )
        params["seed"] = int(os.environ.get("PL_GLOBAL_SEED", -1))
        params["run"] = f"{logger.name}/{logger.version}"
        params = {
            k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in params.items()
        }
        metrics = dict.fromkeys(metric_tags, float("nan"))
        for summary in hparams(params, metrics):
            logger.experiment.file_writer.add_summary(summary)
        self._hparams_written = True

    def gather(self, *tensors: torch.Tensor) -> list[torch.Tensor]:
        """Concatenate each tensor [N_rank, …] over the processes (N may differ by rank);
        the tensors themselves on a single process."""
        if self._trainer is None or self.trainer.world_size == 1:
            return list(tensors)
        counts = self.all_gather(torch.tensor(len(tensors[0]), device=self.device)).flatten()
        largest = int(counts.max())
        gathered = []
        for tensor in tensors:
            padded = tensor.new_zeros((largest, *tensor.shape[1:]))
            padded[: len(tensor)] = tensor
            parts = self.all_gather(padded)
            gathered.append(torch.cat([p[: int(n)] for p, n in zip(parts, counts, strict=True)]))
        return gathered
