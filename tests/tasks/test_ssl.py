import pytest
import torch

from plantwatch.data.augmentation.views import MultispectralViews
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.tasks.ssl import (
    CrossModalTask,
    SimCLRTask,
    group_codes,
    knn_accuracy,
    knn_chance,
)


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


def test_views_keep_the_batch_shape_and_differ_per_sample():
    torch.manual_seed(0)
    images = torch.randn(1, 3, 16, 16).expand(8, -1, -1, -1)
    views = MultispectralViews(noise_std=0.0, blur_probability=0.0)(images)
    assert views.shape == (8, 3, 16, 16)
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8  # one view per sample
    assert MultispectralViews(size=8)(images).shape == (8, 3, 8, 8)


def test_simclr_learns_to_match_the_views_of_a_tiny_batch(tiny_dataset):
    torch.manual_seed(0)
    data = PlantObservations(tiny_dataset, split="train")
    batch = collate_samples([data[i] for i in range(8)])
    task = SimCLRTask(view_size=32, projection_dim=32, hidden_dim=64)
    task.set_statistics(data.statistics, data.aux_columns)
    optimizer = torch.optim.AdamW(task.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss = task.loss(*task.pairs(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def test_the_cross_modal_task_pairs_the_image_with_one_modality():
    task = CrossModalTask(extra_modalities={"image_s1": ["VV", "VH"]}, projection_dim=16,
                          hidden_dim=32)  # fmt: skip
    assert task.temperature == 0.07 and SimCLRTask().temperature == 0.5
    batch = {"image": torch.rand(4, 12, 32, 32), "image_s1": torch.randn(4, 2, 32, 32) - 15}
    z1, z2 = task.pairs(batch)
    assert z1.shape == z2.shape == (4, 16)
    with pytest.raises(ValueError, match="one modality"):
        CrossModalTask(extra_modalities={"image_s1": ["VV", "VH"], "dem": ["DEM"]})
