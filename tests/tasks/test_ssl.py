import pytest
import torch

from plantwatch.data.augmentation.views import MultispectralViews
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.tasks.ssl import CrossModalTask, SimCLRTask


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
