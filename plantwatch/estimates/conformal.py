"""Split-conformal prediction intervals for regression (Vovk et al. 2005; Lei et al. 2018).

On a calibration set (the validation split, never the test split) the nonconformity score
of a labelled case is its error in units of its predicted spread, s = |y − μ| / σ (σ = 1:
plain absolute errors, intervals of constant width). With n scores, the ⌈(n + 1)·level⌉-th
smallest, q, makes μ ± q·σ cover a new exchangeable case with probability ≥ level (and
< level + 1/(n + 1) when scores are distinct). Too few scores for the level give q = ∞.
"""

from __future__ import annotations

import math

import numpy as np


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The conformal quantile of nonconformity ``scores`` [n] at coverage ``level`` (0–1)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    scores = np.sort(np.asarray(scores, dtype=np.float64)[np.isfinite(scores)])
    rank = math.ceil((len(scores) + 1) * level)
    return float(scores[rank - 1]) if rank <= len(scores) else math.inf


def nonconformity(
    target: np.ndarray, mean: np.ndarray, sigma: np.ndarray | None = None
) -> np.ndarray:
    """Scores |y − μ| / σ [n] (σ None: |y − μ|)."""
    error = np.abs(np.asarray(target, np.float64) - np.asarray(mean, np.float64))
    return error if sigma is None else error / np.maximum(np.asarray(sigma, np.float64), 1e-12)


def interval(
    mean: np.ndarray, sigma: np.ndarray | float, quantile: float, lower_bound: float | None = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) = μ ∓ q·σ, the low end clipped at ``lower_bound`` (None: unclipped)."""
    half = quantile * np.asarray(sigma, np.float64)
    low, high = np.asarray(mean, np.float64) - half, np.asarray(mean, np.float64) + half
    return (low if lower_bound is None else np.maximum(low, lower_bound)), high
