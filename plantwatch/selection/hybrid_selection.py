"""`HybridSelection`: uncertainty-weighted k-center greedy — each step the observation with
the largest product of its uncertainty and its distance to the nearest labelled or chosen
scene, so that the model's doubts are asked about in different scenes rather than in ten
near-copies of one."""

from __future__ import annotations

import numpy as np

from plantwatch.selection.diversity_selection import DiversitySelection
from plantwatch.selection.pool import SelectionPool


class HybridSelection(DiversitySelection):
    """Uncertainty (rescaled to [0, 1] over the unlabelled pool) × k-center distance.

    Args:
        max_per_plant: at most this many observations of one plant per round.
    """

    needs_scores = True

    def values(self, pool: SelectionPool, state: tuple[np.ndarray, bool]) -> np.ndarray:
        return _unit(pool) * state[0]

    def reason(self, pool: SelectionPool, index: int, state: tuple[np.ndarray, bool]) -> str:
        value = f"{pool.score_name} {pool.scores[index]:.3g} {pool.score_unit}".rstrip()
        return f"uncertain and unlike the others: {value}, embedding distance {state[0][index]:.3g}"


def _unit(pool: SelectionPool) -> np.ndarray:
    """The scores rescaled to [0, 1] over the unlabelled pool (NaN → 0)."""
    scores = np.nan_to_num(pool.scores, nan=-np.inf)
    free = scores[~pool.labelled & np.isfinite(scores)]
    if free.size == 0:
        return np.zeros(len(pool))
    low, high = free.min(), free.max()
    span = high - low if high > low else 1.0
    return np.clip((np.where(np.isfinite(scores), scores, low) - low) / span, 0.0, 1.0)
