from collections import Counter

import pytest
import torch

from plantwatch.data.loading.plant_pair_batches import PlantPairBatches
from plantwatch.tasks.ssl import SamePlantTask
from tests.data.loading.test_datamodule import module

# 5 plants with 1 to 7 scenes (A 7, B 4, C 1, D 3, E 2), interleaved as a dataset lists them
PLANTS = list("ABADEABACDABEBDAA")


def epoch(sampler: PlantPairBatches, seed: int) -> list[list[int]]:
    torch.manual_seed(seed)
    return list(sampler)


@pytest.mark.parametrize("batch_size", [4, 6, 8])
def test_pairs_are_two_scenes_of_one_plant_and_a_batch_holds_each_plant_once(batch_size):
    sampler = PlantPairBatches(PLANTS, batch_size)
    for seed in range(20):
        batches = epoch(sampler, seed)
        assert len(batches) == len(sampler) > 0
        used = [i for b in batches for i in b]
        assert len(used) == len(set(used))  # each scene at most once an epoch
        assert "C" not in {PLANTS[i] for i in used}  # a plant with one scene has no pair
        for batch in batches:
            assert 4 <= len(batch) <= batch_size and len(batch) % 2 == 0
            firsts, seconds = batch[0::2], batch[1::2]
            assert all(a != b for a, b in zip(firsts, seconds, strict=True))  # never itself
            assert [PLANTS[i] for i in firsts] == [PLANTS[i] for i in seconds]  # one plant
            assert max(Counter(PLANTS[i] for i in firsts).values()) == 1  # others: negatives


def test_the_pairing_follows_the_seed_and_validation_keeps_one():
    sampler = PlantPairBatches(PLANTS, 4)
    assert epoch(sampler, 3) == epoch(sampler, 3) != epoch(sampler, 4)
    fixed = PlantPairBatches(PLANTS, 4, shuffle=False)
    assert epoch(fixed, 3) == epoch(fixed, 4)


def test_pairs_need_even_batches_and_a_plant_with_two_scenes():
    with pytest.raises(ValueError, match="even batch_size of at least 4"):
        PlantPairBatches(PLANTS, 5)
    with pytest.raises(ValueError, match="a plant with two or more scenes"):
        PlantPairBatches(["A", "B", "C"], 4)
    lone = PlantPairBatches(["A", "B", "A", "A"], 4)  # one plant to pair: a pair a batch
    assert len(lone) == 1 and [sorted(b) for b in lone] in ([[0, 2]], [[0, 3]], [[2, 3]])


def test_the_datamodule_serves_plant_pairs_that_the_same_plant_task_reads(tmp_path):
    dm = module(tmp_path / "ds", plants=16, batches="plant_pairs", batch_size=4,
                augmentation=None)  # fmt: skip
    dm.prepare_data()
    dm.setup("fit")
    for loader in (dm.val_dataloader(), dm.train_dataloader()):
        batch = next(iter(loader))
        plants = list(batch["plant_id"])
        assert plants[0::2] == plants[1::2] and len(set(plants[0::2])) == len(plants) // 2
        assert list(batch["obs_id"][0::2]) != list(batch["obs_id"][1::2])
    assert len(plants) == 4  # training: two pairs of two plants
    task = SamePlantTask(augment=False, knn_label=None)
    task.configure_models()
    task.configure_statistics(dm.statistics)
    z1, z2 = task.pairs(batch)
    assert z1.shape == z2.shape == (2, task.hparams.projection_dim)
    shuffled = {**batch, "plant_id": [plants[0], plants[2], plants[1], plants[3]]}
    with pytest.raises(ValueError, match="batches: plant_pairs"):
        task.pairs(shuffled)
