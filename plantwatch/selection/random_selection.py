"""`RandomSelection`: the baseline every other strategy has to beat — a seeded random order
under the same per-plant cap."""

from __future__ import annotations

import numpy as np

from plantwatch.selection.pool import SelectionPool
from plantwatch.selection.strategy import SelectionStrategy


class RandomSelection(SelectionStrategy):
    """Observations in a random order drawn from ``seed``.

    Args:
        seed: the order's seed (the same seed and pool give the same choice).
        max_per_plant: at most this many observations of one plant per round.
    """

    def __init__(self, seed: int = 0, max_per_plant: int = 2) -> None:
        super().__init__(max_per_plant)
        self.seed = seed

    def start(self, pool: SelectionPool) -> np.ndarray:
        return np.random.default_rng(self.seed).random(len(pool))

    def values(self, pool: SelectionPool, state: np.ndarray) -> np.ndarray:
        return state

    def reason(self, pool: SelectionPool, index: int, state: np.ndarray) -> str:
        return f"random draw (seed {self.seed})"
