"""`SelectionStrategy`: the interface every strategy fills. A strategy picks greedily: at
each step the eligible observation of highest value — unlabelled, not yet chosen, of a plant
below ``max_per_plant`` — where the value may depend on what was chosen before (diversity);
it says in words why each one was chosen."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from plantwatch.selection.pool import SelectionPool


@dataclass(frozen=True)
class Selected:
    """One chosen observation: its index in the pool, the value it was chosen by, the reason
    in words."""

    index: int
    value: float
    reason: str


class SelectionStrategy(ABC):
    """Greedy selection under a per-plant cap; subclasses define ``start``, ``values`` and
    ``reason`` (and ``update`` when the values change with each choice).

    Args:
        max_per_plant: at most this many observations of one plant per round.
    """

    needs_scores = False
    needs_embeddings = False

    def __init__(self, max_per_plant: int = 2) -> None:
        if max_per_plant < 1:
            raise ValueError(f"max_per_plant {max_per_plant}: give at least 1")
        self.max_per_plant = max_per_plant

    def select(self, pool: SelectionPool, budget: int) -> list[Selected]:
        """Up to ``budget`` observations of ``pool``, best first (fewer where the cap or the
        unlabelled pool runs out)."""
        self._check(pool)
        per_plant: Counter[str] = Counter()
        taken = pool.labelled.copy()
        state = self.start(pool)
        chosen: list[Selected] = []
        while len(chosen) < budget:
            capped = np.isin(pool.plant_ids, [p for p, n in per_plant.items()
                                              if n >= self.max_per_plant])  # fmt: skip
            eligible = ~taken & ~capped
            if not eligible.any():
                break
            values = np.where(eligible, self.values(pool, state), -np.inf)
            best = int(np.argmax(values))  # the first of equals: pool order, by obs_id
            chosen.append(Selected(best, float(values[best]), self.reason(pool, best, state)))
            taken[best] = True
            per_plant[pool.plant_ids[best]] += 1
            state = self.update(pool, state, best)
        return chosen

    def _check(self, pool: SelectionPool) -> None:
        if self.needs_scores and pool.scores is None:
            raise ValueError(f"{type(self).__name__} ranks by uncertainty: the pool has none")
        if self.needs_embeddings and pool.embeddings is None:
            raise ValueError(f"{type(self).__name__} needs embeddings: the pool has none")

    def start(self, pool: SelectionPool) -> Any:
        """The state before the first choice."""
        return None

    @abstractmethod
    def values(self, pool: SelectionPool, state: Any) -> np.ndarray:
        """The value of every observation of the pool now, [N]; higher is chosen first."""

    def update(self, pool: SelectionPool, state: Any, chosen: int) -> Any:
        """The state after choosing ``chosen``."""
        return state

    @abstractmethod
    def reason(self, pool: SelectionPool, index: int, state: Any) -> str:
        """Why ``index`` is chosen now, in words."""
