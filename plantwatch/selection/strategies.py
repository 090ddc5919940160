"""The selection strategies by name (``plantwatch select --strategy NAME``)."""

from __future__ import annotations

from plantwatch.selection.diversity_selection import DiversitySelection
from plantwatch.selection.hybrid_selection import HybridSelection
from plantwatch.selection.random_selection import RandomSelection
from plantwatch.selection.strategy import SelectionStrategy
from plantwatch.selection.uncertainty_selection import UncertaintySelection

STRATEGIES: dict[str, type[SelectionStrategy]] = {
    "random": RandomSelection,
    "uncertainty": UncertaintySelection,
    "diversity": DiversitySelection,
    "hybrid": HybridSelection,
}
