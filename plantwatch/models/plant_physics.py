"""Output hooks of the plant tasks: physical bounds and physics-guided CO₂.

A regression head returns one raw value per sample; these functions turn it into a
physical quantity, so the model can never predict negative MW, more MW than the plant can
generate, or CO₂ that does not follow from the power and the fuel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from plantwatch import physics

CO2_CORRECTION = 0.2  # the learned correction of physics-guided CO₂ stays within ±20 %


def load_factor(raw: torch.Tensor) -> torch.Tensor:
    """Load factor in [0, 1] from a raw head output [B]: 0.5 + raw / 4 (sigmoid's value and
    slope at 0).

    The forward pass clamps it to [0, 1]; the backward pass lets the gradient through
    as if unclamped (straight-through). A sigmoid would bound it too, but its gradient vanishes
    once saturated: a plant predicted at full load whose truth is lower then never recovers.
    """
    linear = 0.5 + 0.25 * raw
    return linear + (linear.clamp(0.0, 1.0) - linear).detach()


def power_from_load_factor(
    raw: torch.Tensor, capacity_mw: torch.Tensor | None, scale_mw: float
) -> torch.Tensor:
    """Generation in MW [B]: capacity × load factor where the capacity is known (> 0), else
    softplus(raw) × ``scale_mw``. ``capacity_mw``: MW [B], NaN or ≤ 0 where unknown."""
    power = F.softplus(raw) * scale_mw
    if capacity_mw is None:
        return power
    known = torch.nan_to_num(capacity_mw.to(raw.dtype), nan=0.0)
    return torch.where(known > 0, known * load_factor(raw), power)


def physics_co2(
    power_mw: torch.Tensor, fuel_logits: torch.Tensor, correction_raw: torch.Tensor | None
) -> torch.Tensor:
    """CO₂ in t/h [B] = power (MW, [B]) × Σ_f p(f)·EF_f, times 1 + 0.2·tanh(correction_raw)
    when a correction is given (``fuel_logits``: [B, F])."""
    co2 = physics.co2_from_fuel_probs(power_mw, fuel_logits.float().softmax(dim=1))
    if correction_raw is not None:
        co2 = co2 * (1 + CO2_CORRECTION * torch.tanh(correction_raw))
    return co2
