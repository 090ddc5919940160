"""Per-task losses masked by presence flags, and the weighting of their sum.

Every term is averaged over the samples (pixels) that carry its label and is exactly zero
— with a zero gradient, but still attached to the graph so that DDP sees every parameter
used — when none do. Regression terms are computed in normalised units (MW / scale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from plantwatch.data.sample import MASK_UNLABELLED


def _none(prediction: torch.Tensor) -> torch.Tensor:
    """A zero that keeps ``prediction`` in the graph."""
    return prediction.sum() * 0.0


def plume_loss(
    logits: torch.Tensor, mask: torch.Tensor, has_mask: torch.Tensor, dice_weight: float = 0.0
) -> torch.Tensor:
    """BCE (+ ``dice_weight`` × soft Dice) over labelled pixels of labelled images.

    Args:
        logits: [B, H, W]; mask: [B, H, W] with 0/1 and 255 = unlabelled; has_mask: bool [B].
    """
    valid = (mask != MASK_UNLABELLED) & has_mask[:, None, None]
    if not valid.any():
        return _none(logits)
    target = mask[valid].float()
    picked = logits[valid].float()
    loss = F.binary_cross_entropy_with_logits(picked, target)
    if dice_weight > 0:
        prob = torch.sigmoid(picked)
        dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
        loss = loss + dice_weight * dice
    return loss


def fuel_loss(logits: torch.Tensor, fuel: torch.Tensor, has_fuel: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over samples with a fuel label. logits [B, F], fuel long [B]."""
    if not has_fuel.any():
        return _none(logits)
    return F.cross_entropy(logits[has_fuel].float(), fuel[has_fuel])


def regression_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    present: torch.Tensor,
    scale: float,
    kind: Literal["l1", "huber"] = "huber",
) -> torch.Tensor:
    """L1 or Huber (δ = 1) on ``(prediction - target) / scale`` over labelled samples."""
    if not present.any():
        return _none(prediction)
    p, t = prediction[present].float() / scale, target[present].float() / scale
    return F.l1_loss(p, t) if kind == "l1" else F.huber_loss(p, t, delta=1.0)


class LossWeighting(nn.Module):
    """Combine task losses into one objective.

    ``fixed``: Σ w_t · L_t with weights from the config (default 1).
    ``uncertainty``: homoscedastic uncertainty weighting (Kendall, Gal & Cipolla 2018),
    Σ ½·exp(−s_t)·L_t + ½·s_t with a learned s_t = log σ_t² per task. A task without labels
    in the batch contributes nothing, its s_t included, so s_t does not drift.

    Args:
        tasks: task names.
        strategy: ``fixed`` or ``uncertainty``.
        weights: fixed weights by task (missing tasks get 1); for ``uncertainty`` they
            multiply the learned terms.
    """

    def __init__(
        self,
        tasks: Sequence[str],
        strategy: Literal["fixed", "uncertainty"] = "fixed",
        weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        unknown = sorted(set(weights or {}) - set(tasks))
        if unknown:
            raise ValueError(f"loss weights for tasks that are not trained: {unknown}")
        self.tasks = tuple(tasks)
        self.strategy = strategy
        self.fixed = {t: float((weights or {}).get(t, 1.0)) for t in self.tasks}
        if strategy == "uncertainty":
            self.log_vars = nn.Parameter(torch.zeros(len(self.tasks)))
        elif strategy != "fixed":
            raise ValueError(f"strategy must be 'fixed' or 'uncertainty', got {strategy!r}")

    def effective_weights(self) -> dict[str, float]:
        """Current weight of each task's loss (for logging)."""
        if self.strategy == "fixed":
            return dict(self.fixed)
        factors = 0.5 * torch.exp(-self.log_vars.detach())
        return {t: self.fixed[t] * float(f) for t, f in zip(self.tasks, factors, strict=True)}

    def forward(
        self, losses: Mapping[str, torch.Tensor], present: Mapping[str, bool]
    ) -> torch.Tensor:
        """The weighted total of ``losses``; ``present[t]`` says whether the batch had labels."""
        total = torch.zeros((), device=next(iter(losses.values())).device)
        for i, task in enumerate(self.tasks):
            term = losses[task]
            if self.strategy == "uncertainty":
                s = self.log_vars[i]
                term = 0.5 * torch.exp(-s) * term + 0.5 * s * float(present[task])
            total = total + self.fixed[task] * term
        return total
