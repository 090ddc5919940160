"""`ParameterSummary`: the model summary in one line instead of Lightning's table."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import ModelSummary


def parameter_summary(pl_module: L.LightningModule) -> str:
    """One line: the task, its network and the parameter counts in millions."""
    parameters = list(pl_module.parameters())
    total = sum(p.numel() for p in parameters)
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    network = getattr(pl_module, "model", None)
    name = type(pl_module).__name__
    if network is not None:
        name += f" ({type(network).__name__})"
    return f"{name}: {total / 1e6:.1f} M parameters, {trainable / 1e6:.1f} M trainable"


class ParameterSummary(ModelSummary):
    """Print `parameter_summary` when fitting starts (rank 0). Lightning's table listed
    every submodule, a FLOPs column of zeros and a bf16 warning for the size estimate;
    ``--trainer.enable_model_summary=false`` turns this line off too."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            print(parameter_summary(pl_module))
