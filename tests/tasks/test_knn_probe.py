import pytest
import torch

from plantwatch.tasks.knn_probe import group_codes, knn_accuracy, knn_chance


def test_knn_probe_never_lets_views_of_one_plant_vote_for_each_other():
    features = torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])  # plant a burns fuel 0, plant b fuel 1
    # Within a plant the views are each other's nearest: that would score 1.0. Across plants
    # each row's nearest is the other plant, whose fuel differs: 0.0.
    plants = group_codes(["a", "a", "b", "b"])
    assert knn_accuracy(features, labels, plants, k=1).item() == 0.0
    assert torch.isnan(knn_accuracy(features, labels, group_codes(["a"] * 4), k=1))
    apart = group_codes(["a", "b", "c", "d"])
    assert knn_accuracy(features, labels, apart, k=1).item() == 1.0


def test_the_probes_chance_level_is_what_label_blind_features_score_leaving_plants_out():
    labels, plants = torch.tensor([0, 0, 1, 1]), torch.arange(4)  # four plants, shares 1/2
    # k = 3: the three other plants always outvote a plant's own fuel 2 to 1
    assert knn_chance(labels, plants, k=3).item() == 0.0
    # k = 1: the nearest of the three others shares the fuel one time in three
    assert knn_chance(labels, plants, k=1, draws=300).item() == pytest.approx(1 / 3, abs=0.06)
    assert knn_chance(labels, plants, k=1, seed=1) == knn_chance(labels, plants, k=1, seed=1)
