"""How unsure a model (or an ensemble of K checkpoints: seeds, rounds) is of one observation,
per task kind — the scores `UncertaintySelection` and `HybridSelection` rank by:

- plume (binary segmentation): the mean binary entropy of the ensemble-mean pixel
  probability, bits (0: every pixel certain, 1: every pixel a coin flip) — or the standard
  deviation of the plume area it implies, px (pixels independent, ``√Σ p(1 − p)``), which
  weighs a doubtful large plume above a doubtful speck;
- fuel (multiclass): the entropy of the ensemble-mean class probabilities, bits;
- power, CO₂ (regression): the total standard deviation in the task's unit (MW, t/h): the
  spread head's σ (aleatoric) and, with K > 1, the members' disagreement (law of total
  variance).
"""

from __future__ import annotations

import torch

EPS = 1e-7


def binary_entropy_bits(probability: torch.Tensor) -> torch.Tensor:
    """Entropy of Bernoulli(``probability``), bits, elementwise."""
    p = probability.clamp(EPS, 1 - EPS)
    return -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))


def plume_entropy_bits(probabilities: torch.Tensor) -> torch.Tensor:
    """Mean pixel entropy of the ensemble-mean plume probability: [K, B, H, W] → [B], bits."""
    return binary_entropy_bits(probabilities.mean(0)).mean(dim=(-2, -1))


def plume_area_std_px(probabilities: torch.Tensor) -> torch.Tensor:
    """Standard deviation of the plume's area, px, pixels independent with the
    ensemble-mean probability: [K, B, H, W] → [B]."""
    p = probabilities.mean(0)
    return (p * (1 - p)).sum(dim=(-2, -1)).sqrt()


def class_entropy_bits(probabilities: torch.Tensor) -> torch.Tensor:
    """Entropy of the ensemble-mean class probabilities: [K, B, C] → [B], bits."""
    p = probabilities.mean(0).clamp_min(EPS)
    return -(p * torch.log2(p)).sum(dim=-1)


def regression_std(values: torch.Tensor, sigmas: torch.Tensor | None) -> torch.Tensor:
    """Total standard deviation of a regression ensemble, in the values' unit: [K, B]
    values and [K, B] spread-head σ (or None) → [B].

    Raises:
        ValueError: one member without a spread head: nothing measures its doubt.
    """
    if sigmas is None and values.shape[0] < 2:
        raise ValueError("one checkpoint without a spread head (model uncertainty: true) has "
                         "no uncertainty to rank by: give several checkpoints (seeds)")  # fmt: skip
    variance = values.var(0, unbiased=False)  # 0 for one member
    if sigmas is not None:
        variance = variance + (sigmas**2).mean(0)
    return variance.sqrt()
