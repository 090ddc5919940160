import numpy as np
import pytest
import torch

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.task_registry import get_tasks
from plantwatch.tasks.plume_reference import plume_features, true_plume_reference


def sample(rows: int, cols: int, has_mask: bool = True) -> dict:
    """A 20 px scene whose plume is a rows × cols block, bright (0.5) on dark (0.1) ground;
    the plant generates 10 MW per plume pixel."""
    mask = torch.zeros(20, 20, dtype=torch.long)
    mask[2 : 2 + rows, 5 : 5 + cols] = 1
    image = torch.full((12, 20, 20), 0.1)
    image[:, mask == 1] = 0.5
    pixels = float(rows * cols)
    return {"image": image, "mask": mask if has_mask else torch.full((20, 20), 255),
            "has_mask": torch.tensor(has_mask), "aux": torch.zeros(4),
            "capacity": torch.tensor(1000.0), "has_capacity": torch.tensor(True),
            "fuel": torch.tensor(1), "has_fuel": torch.tensor(True),
            "power": torch.tensor(10 * pixels), "has_power": torch.tensor(True),
            "co2": torch.tensor(8.7 * pixels), "has_co2": torch.tensor(True)}  # fmt: skip


class Scenes(list):
    bands = L2A_BAND_NAMES


def test_plume_features_of_a_hand_made_plume():
    features = plume_features(sample(3, 4), L2A_BAND_NAMES)
    np.testing.assert_allclose(features, [12.0, 5.0, 0.4], rtol=1e-6)  # pixels, 3-4-5, contrast
    assert plume_features(sample(0, 0), L2A_BAND_NAMES).tolist() == [0.0, 0.0, 0.0]


def test_the_reference_learns_power_from_the_true_plume_and_skips_unmasked_scenes():
    train = Scenes(sample(r, c) for r in range(0, 9) for c in range(1, 9))
    unmasked = {**sample(4, 4, has_mask=False), "power": torch.tensor(1e6)}  # must not count
    test = Scenes([sample(3, 5), sample(6, 2), sample(5, 6), unmasked])
    metrics = true_plume_reference(train, test, get_tasks(["power", "co2"]))
    truth = np.array([150.0, 120.0, 300.0])  # MW
    mean_of_training = np.mean([10 * r * c for r in range(0, 9) for c in range(1, 9)])
    # a third of the error of predicting the training mean (coarse leaves on 72 samples)
    assert metrics["power_mae_mw"] < np.abs(truth - mean_of_training).mean() / 3
    assert metrics["co2_mae_t_per_h"] < 0.87 * np.abs(truth - mean_of_training).mean() / 3


def test_without_masks_there_is_no_reference():
    unmasked = Scenes([sample(2, 2, has_mask=False)] * 3)
    assert true_plume_reference(unmasked, unmasked, get_tasks(["power"])) == {}
    with pytest.raises(KeyError):
        true_plume_reference(unmasked, unmasked, get_tasks(["power"]))["power_mae_mw"]
