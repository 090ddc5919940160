"""`DiversitySelection`: k-center greedy on the encoder's pooled embeddings — each step the
observation farthest from everything labelled or chosen, so the chosen scenes cover what
the labelled ones do not (Sener & Savarese 2018, core-set selection)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances

from plantwatch.selection.pool import SelectionPool
from plantwatch.selection.strategy import SelectionStrategy


def distances_to_centres(embeddings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distance of each embedding [N, D] to its nearest centre [K, D], [N]; +inf
    for every embedding when there is no centre."""
    if len(centres) == 0:
        return np.full(len(embeddings), np.inf)
    return pairwise_distances(embeddings, centres).min(axis=1)


class DiversitySelection(SelectionStrategy):
    """k-center greedy: the labelled observations are the first centres; with none, the
    first pick is the observation farthest from the pool's mean embedding.

    Args:
        max_per_plant: at most this many observations of one plant per round.
    """

    needs_embeddings = True

    def start(self, pool: SelectionPool) -> tuple[np.ndarray, bool]:
        """(distance of each observation to its nearest centre — to the mean while there is
        no centre —, whether there are centres)."""
        if pool.labelled.any():
            return distances_to_centres(pool.embeddings, pool.embeddings[pool.labelled]), True
        return distances_to_centres(pool.embeddings, pool.embeddings.mean(0)[None]), False

    def values(self, pool: SelectionPool, state: tuple[np.ndarray, bool]) -> np.ndarray:
        return state[0]

    def update(
        self, pool: SelectionPool, state: tuple[np.ndarray, bool], chosen: int
    ) -> tuple[np.ndarray, bool]:
        distance, centred = state
        new = distances_to_centres(pool.embeddings, pool.embeddings[[chosen]])
        return (np.minimum(distance, new) if centred else new), True

    def reason(self, pool: SelectionPool, index: int, state: tuple[np.ndarray, bool]) -> str:
        what = "the nearest labelled or chosen scene" if state[1] else "the pool's mean"
        return f"unlike the others: embedding distance {state[0][index]:.3g} to {what}"
