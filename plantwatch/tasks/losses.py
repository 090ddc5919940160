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
from segmentation_models_pytorch import losses as smp_losses
from torch import nn

from plantwatch.task_registry import SEGMENTATION_IGNORE, TaskSpec

RegressionLoss = Literal["huber", "l1"]
SegmentationLoss = Literal["cross_entropy", "focal", "lovasz"]
Uncertainty = Literal["none", "gaussian", "laplace"]


def _none(prediction: torch.Tensor) -> torch.Tensor:
    """A zero that keeps ``prediction`` in the graph."""
    return prediction.sum() * 0.0


def binary_segmentation_loss(
    logits: torch.Tensor,
    mask: torch.Tensor,
    has_mask: torch.Tensor,
    dice_weight: float = 0.0,
    loss: SegmentationLoss = "cross_entropy",
    class_weights: torch.Tensor | None = None,
    focal_gamma: float = 2.0,
) -> torch.Tensor:
    """A binary segmentation loss (+ ``dice_weight`` × soft Dice) over labelled pixels of
    labelled images: ``cross_entropy`` (BCE), ``focal`` (smp's focal loss, γ =
    ``focal_gamma``) or ``lovasz`` (BCE + smp's Lovász hinge).

    Args:
        logits: [B, H, W]; mask: [B, H, W] with 0/1 and 255 = unlabelled; has_mask: bool [B].
        class_weights: [2] (background, foreground) or None: BCE weighs each pixel by its
            class (a weighted mean); focal takes α = w₁ / (w₀ + w₁).
    """
    valid = (mask != SEGMENTATION_IGNORE) & has_mask[:, None, None]
    if not valid.any():
        return _none(logits)
    target = mask[valid].float()
    picked = logits[valid].float()
    if loss == "focal":
        alpha = None if class_weights is None else float(class_weights[1] / class_weights.sum())
        total = smp_losses.FocalLoss("binary", alpha=alpha, gamma=focal_gamma)(picked, target)
    else:
        weight = None if class_weights is None else class_weights.to(picked)[target.long()]
        total = F.binary_cross_entropy_with_logits(picked, target, weight=weight, reduction="sum")
        total = total / (weight.sum() if weight is not None else target.numel())
        if loss == "lovasz":
            total = total + smp_losses.LovaszLoss("binary")(picked, target)
    if dice_weight > 0:
        prob = torch.sigmoid(picked)
        dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
        total = total + dice_weight * dice
    return total


def multiclass_segmentation_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    present: torch.Tensor,
    loss: SegmentationLoss = "cross_entropy",
    class_weights: torch.Tensor | None = None,
    focal_gamma: float = 2.0,
) -> torch.Tensor:
    """A multiclass segmentation loss over labelled pixels: ``cross_entropy``, ``focal``
    (smp's: the mean of one-vs-rest focal losses, γ = ``focal_gamma``) or ``lovasz``
    (cross-entropy + smp's Lovász-softmax over the classes in the batch).

    Args:
        logits: [B, C, H, W]; labels: long [B, H, W] (255 = unlabelled); present: bool [B].
        class_weights: [C] or None: cross-entropy weighs each pixel by its class (a weighted
            mean); focal weighs each class's one-vs-rest loss.
    """
    valid = (labels != SEGMENTATION_IGNORE) & present[:, None, None]
    if not valid.any():
        return _none(logits)
    target = torch.where(valid, labels, SEGMENTATION_IGNORE)
    logits = logits.float()
    weight = None if class_weights is None else class_weights.to(logits)
    if loss == "focal":
        focal = smp_losses.FocalLoss(
            "multiclass", gamma=focal_gamma, ignore_index=SEGMENTATION_IGNORE, class_weights=weight
        )
        return focal(logits, target)
    total = F.cross_entropy(logits, target, weight=weight, ignore_index=SEGMENTATION_IGNORE)
    if loss == "lovasz":
        lovasz = smp_losses.LovaszLoss("multiclass", ignore_index=SEGMENTATION_IGNORE)
        total = total + lovasz(logits, target)
    return total


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
    segmentation: SegmentationLoss = "cross_entropy",
    class_weights: torch.Tensor | None = None,
    focal_gamma: float = 2.0,
) -> torch.Tensor:
    """The loss of one task on a batch, by the task's kind (``scale``: regression only;
    ``segmentation``, ``class_weights``, ``focal_gamma``: segmentation kinds only)."""
    target, present = batch[spec.target], batch[spec.flag]
    if spec.kind == "binary_segmentation":
        return binary_segmentation_loss(prediction, target, present, dice_weight, segmentation,
                                        class_weights, focal_gamma)  # fmt: skip
    if spec.kind == "multiclass_segmentation":
        return multiclass_segmentation_loss(prediction, target, present, segmentation,
                                            class_weights, focal_gamma)  # fmt: skip
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
