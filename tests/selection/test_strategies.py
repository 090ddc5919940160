"""Selection strategies: never a labelled observation, the budget and the per-plant cap
kept, the same choice under a seed, k-center greedy as brute force computes it, the most
uncertain first."""

from __future__ import annotations

import numpy as np
import pytest

from plantwatch.selection.diversity_selection import DiversitySelection
from plantwatch.selection.pool import SelectionPool
from plantwatch.selection.random_selection import RandomSelection
from plantwatch.selection.strategies import STRATEGIES
from plantwatch.selection.uncertainty_selection import UncertaintySelection


def pool(n: int = 40, plants: int = 8, labelled_every: int = 5, seed: int = 0) -> SelectionPool:
    rng = np.random.default_rng(seed)
    return SelectionPool(
        obs_ids=[f"O{i:03d}" for i in range(n)],
        plant_ids=[f"P{i % plants}" for i in range(n)],
        labelled=[i % labelled_every == 0 for i in range(n)],
        scores=rng.random(n),
        embeddings=rng.normal(size=(n, 3)),
        score_name="plume entropy",
        score_unit="bits",
    )


def make(name: str, cap: int):
    return STRATEGIES[name](max_per_plant=cap)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_strategy_keeps_the_budget_the_cap_and_off_labelled_scenes(name):
    p = pool()
    chosen = make(name, cap=2).select(p, budget=12)
    indices = [c.index for c in chosen]
    assert len(indices) == 12 == len(set(indices))
    assert not p.labelled[indices].any()
    per_plant = np.unique(p.plant_ids[indices], return_counts=True)[1]
    assert per_plant.max() <= 2
    assert all(c.reason for c in chosen)
    assert make(name, cap=2).select(p, budget=12) == chosen  # the same again
    # the cap runs out: 8 plants × 1 = 8, fewer than asked
    assert len(make(name, cap=1).select(p, budget=20)) == 8


def test_the_random_order_follows_its_seed():
    p = pool()
    first = [c.index for c in RandomSelection(seed=1, max_per_plant=5).select(p, 10)]
    again = [c.index for c in RandomSelection(seed=1, max_per_plant=5).select(p, 10)]
    other = [c.index for c in RandomSelection(seed=2, max_per_plant=5).select(p, 10)]
    assert first == again and first != other


def test_the_most_uncertain_come_first():
    p = pool(labelled_every=1000)  # only O000 labelled
    p.scores = np.linspace(0, 1, len(p))  # O039 the least certain
    chosen = UncertaintySelection(max_per_plant=100).select(p, 5)
    assert [p.obs_ids[c.index] for c in chosen] == ["O039", "O038", "O037", "O036", "O035"]
    assert "rank 1 of the pool" in chosen[0].reason


def test_k_center_greedy_equals_brute_force():
    p = pool(n=14, plants=14, labelled_every=6, seed=3)
    chosen = [c.index for c in DiversitySelection(max_per_plant=1).select(p, 6)]
    centres = list(np.flatnonzero(p.labelled))
    expected = []
    for _ in range(6):  # each step: the point whose nearest centre is farthest, recomputed
        best, best_distance = None, -1.0
        for i, e in enumerate(p.embeddings):
            if p.labelled[i] or i in expected:
                continue
            nearest = min(np.linalg.norm(e - p.embeddings[c]) for c in centres)
            if nearest > best_distance:
                best, best_distance = i, nearest
        expected.append(best)
        centres.append(best)
    assert chosen == expected


def test_k_center_without_labels_starts_far_from_the_mean_and_covers_clusters():
    clusters = np.array([[0, 0], [10, 0], [0, 10]], float)
    points = np.concatenate([c + np.random.default_rng(i).normal(0, 0.1, (5, 2))
                             for i, c in enumerate(clusters)])  # fmt: skip
    p = SelectionPool([f"O{i:02d}" for i in range(15)], [f"P{i}" for i in range(15)],
                      np.zeros(15, bool), embeddings=points)  # fmt: skip
    chosen = [c.index for c in DiversitySelection(max_per_plant=1).select(p, 3)]
    assert sorted(i // 5 for i in chosen) == [0, 1, 2]  # one scene of each cluster


def test_a_strategy_without_its_inputs_says_so():
    p = SelectionPool(["a", "b"], ["P", "Q"], [False, False])
    for name in ("uncertainty", "diversity", "hybrid"):
        with pytest.raises(ValueError, match="the pool has none"):
            make(name, cap=1).select(p, 1)
    assert len(make("random", cap=1).select(p, 1)) == 1
    with pytest.raises(ValueError, match="twice"):
        SelectionPool(["a", "a"], ["P", "P"], [False, False])


def test_the_pool_is_in_obs_id_order_whatever_the_input_order():
    ids = ["c", "a", "b"]
    forward = SelectionPool(ids, ["P1", "P2", "P3"], [False, True, False], scores=[3, 1, 2])
    assert list(forward.obs_ids) == ["a", "b", "c"] and list(forward.scores) == [1, 2, 3]
    assert list(forward.labelled) == [True, False, False]
    assert list(forward.plant_ids) == ["P2", "P3", "P1"]
