"""`UncertaintySelection`: the observations the model is least sure of first (the pool's
``scores``: plume pixel entropy, fuel entropy, the spread head's σ …)."""

from __future__ import annotations

import numpy as np

from plantwatch.selection.pool import SelectionPool
from plantwatch.selection.strategy import SelectionStrategy


class UncertaintySelection(SelectionStrategy):
    """Highest uncertainty first.

    Args:
        max_per_plant: at most this many observations of one plant per round.
    """

    needs_scores = True

    def values(self, pool: SelectionPool, state: None) -> np.ndarray:
        return np.nan_to_num(pool.scores, nan=-np.inf)

    def reason(self, pool: SelectionPool, index: int, state: None) -> str:
        rank = int((pool.scores[~pool.labelled] > pool.scores[index]).sum()) + 1
        value = f"{pool.score_name} {pool.scores[index]:.3g} {pool.score_unit}".rstrip()
        return f"uncertain: {value} (rank {rank} of the pool)"
