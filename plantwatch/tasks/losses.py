"""Per-task losses by kind, masked by presence flags, and the weighting of their sum.

Every term is averaged over the samples (pixels) that carry its label and is exactly zero
— with a zero gradient, but still attached to the graph so that DDP sees every parameter
used — when none do. Regression terms are computed in normalised units: (prediction −
target) / scale, with the scale taken from the training split's standard deviation of the
target, and Huber is divided by its δ: an error of one standard deviation costs about 1 for
every regression task, as a nat of cross-entropy does, so with equal fixed weights the terms
of an untrained model start on comparable magnitudes (``test_an_untrained_models_task_
losses_are_within_one_order_of_magnitude``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from plantwatch.task_registry import SEGMENTATION_IGNORE, TaskSpec

RegressionLoss = Literal["huber", "l1"]
Uncertainty = Literal["none", "gaussian", "laplace"]


def _none(prediction: torch.Tensor) -> torch.Tensor:
    """A zero that keeps ``prediction`` in the graph."""
    return prediction.sum() * 0.0


def binary_segmentation_loss(
    logits: torch.Tensor, mask: torch.Tensor, has_mask: torch.Tensor, dice_weight: float = 0.0
) -> torch.Tensor:
    """BCE (+ ``dice_weight`` × soft Dice) over labelled pixels of labelled images.

    Args:
        logits: [B, H, W]; mask: [B, H, W] with 0/1 and 255 = unlabelled; has_mask: bool [B].
    """
    valid = (mask != SEGMENTATION_IGNORE) & has_mask[:, None, None]
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


def multiclass_segmentation_loss(
    logits: torch.Tensor, labels: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy over labelled pixels. logits [B, C, H, W]; labels long [B, H, W] (255 =
    unlabelled); present bool [B]."""
    valid = (labels != SEGMENTATION_IGNORE) & present[:, None, None]
    if not valid.any():
        return _none(logits)
    target = torch.where(valid, labels, SEGMENTATION_IGNORE)
    return F.cross_entropy(logits.float(), target, ignore_index=SEGMENTATION_IGNORE)


def classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy over samples with a label. logits [B, C], labels long [B]."""
    if not present.any():
        return _none(logits)
    return F.cross_entropy(logits[present].float(), labels[present])


def multilabel_loss(
    logits: torch.Tensor, labels: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """BCE per class over samples with labels. logits [B, C], labels 0/1 [B, C]."""
    if not present.any():
        return _none(logits)
    return F.binary_cross_entropy_with_logits(logits[present].float(), labels[present].float())


def composition_loss(
    logits: torch.Tensor, fractions: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """KL divergence KL(true ‖ softmax(logits)) over samples with fractions, in nats (0 for a
    perfect prediction). logits [B, C]; fractions [B, C], each row summing to 1."""
    if not present.any():
        return _none(logits)
    log_predicted = F.log_softmax(logits[present].float(), dim=1)
    return F.kl_div(log_predicted, fractions[present].float(), reduction="batchmean")


def regression_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    present: torch.Tensor,
    scale: float,
    kind: RegressionLoss = "huber",
    delta: float = 0.1,
) -> torch.Tensor:
    """L1, or Huber(δ)/δ (PyTorch's smooth L1), on ``(prediction - target) / scale`` over
    labelled samples ([B] each). Huber/δ equals |e| − δ/2 beyond δ, so it costs what L1 costs
    for large errors, and is quadratic within δ, so training settles instead of oscillating
    around the optimum as plain L1 does."""
    if not present.any():
        return _none(prediction)
    p, t = prediction[present].float() / scale, target[present].float() / scale
    return F.l1_loss(p, t) if kind == "l1" else F.smooth_l1_loss(p, t, beta=delta)


def spread_loss(
    log_sigma: torch.Tensor,
    prediction: torch.Tensor,
    target: torch.Tensor,
    present: torch.Tensor,
    scale: float,
    kind: Uncertainty = "gaussian",
) -> torch.Tensor:
    """Negative log-likelihood of the error under the predicted spread, per labelled sample
    ([B] each; ``log_sigma`` in units of ``scale``), without constants: Gaussian
    ½·e²/σ² + log σ, Laplace |e|/σ + log σ, with e = (prediction − target) / scale. The
    prediction is detached: the spread learns the size of the mean's errors and does not
    pull the mean (which keeps its own loss)."""
    if not present.any():
        return _none(log_sigma)
    s = log_sigma[present].float()
    e = (prediction[present].detach().float() - target[present].float()) / scale
    if kind == "laplace":
        return (e.abs() * torch.exp(-s) + s).mean()
    return (0.5 * e.square() * torch.exp(-2 * s) + s).mean()


def task_loss(
    spec: TaskSpec,
    prediction: torch.Tensor,
    batch: Mapping[str, torch.Tensor],
    scale: float = 1.0,
    dice_weight: float = 0.5,
    regression: RegressionLoss = "huber",
    huber_delta: float = 0.1,
) -> torch.Tensor:
    """The loss of one task on a batch, by the task's kind (``scale``: regression only)."""
    target, present = batch[spec.target], batch[spec.flag]
    if spec.kind == "binary_segmentation":
        return binary_segmentation_loss(prediction, target, present, dice_weight)
    if spec.kind == "multiclass_segmentation":
        return multiclass_segmentation_loss(prediction, target, present)
    if spec.kind == "multiclass":
        return classification_loss(prediction, target, present)
    if spec.kind == "multilabel":
        return multilabel_loss(prediction, target, present)
    if spec.kind == "composition":
        return composition_loss(prediction, target, present)
    return regression_loss(prediction, target, present, scale, regression, huber_delta)


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
