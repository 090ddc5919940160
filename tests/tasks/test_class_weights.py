import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from plantwatch.data.loading.datamodule import DataModule
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.errors import UserError
from plantwatch.task_registry import get_tasks
from plantwatch.tasks.class_weights import ClassWeights, class_pixel_counts, class_weights
from plantwatch.tasks.losses import binary_segmentation_loss, multiclass_segmentation_loss
from plantwatch.tasks.multitask_task import MultiTaskTask


def hand_made_maps() -> list[dict[str, torch.Tensor]]:
    """Three 4 × 4 land-cover maps of 3 classes; the third is unlabelled, and four pixels of
    the first are 255. Labelled pixels: class 0: 8 + 2 = 10, class 1: 4 + 12 = 16, class 2: 2."""
    first = torch.full((4, 4), 255)
    first[1:3] = 0  # 8 pixels of class 0
    first[3, :2], first[3, 2:] = 1, 2  # 2 of class 1, 2 of class 2
    first[0, :2] = 1  # 2 more of class 1; the other 2 of row 0 stay 255
    second = torch.ones(4, 4, dtype=torch.long)  # 12 of class 1 in rows 1-3
    second[0, :2], second[0, 2:] = 0, 255  # 2 of class 0, 2 unlabelled
    third = torch.full((4, 4), 2)  # not labelled: never counted
    return [{"lulc": m, "has_lulc": torch.tensor(flag)}
            for m, flag in ((first, True), (second, True), (third, False))]  # fmt: skip


def test_class_pixels_are_counted_over_labelled_pixels_of_labelled_samples():
    counts = class_pixel_counts(hand_made_maps(), {"lulc": ("has_lulc", 3)}, progress=False)
    np.testing.assert_array_equal(counts["lulc"], [10, 16, 2])


def test_class_weights_from_a_hand_made_count():
    counts = [10, 16, 2, 0]  # a fourth class without training pixels
    # inverse frequency: w ∝ 1/n, scaled so that Σ n·w = 28 (3 terms of c each: c = 28/3).
    inverse = [28 / 3 / 10, 28 / 3 / 16, 28 / 3 / 2, 1.0]
    np.testing.assert_allclose(class_weights(counts, "inverse_frequency"), inverse, rtol=1e-6)
    # square root: w ∝ 1/√n, Σ n·w = c·(√10 + √16 + √2) = 28.
    c = 28 / (np.sqrt(10) + 4 + np.sqrt(2))
    sqrt = [c / np.sqrt(10), c / 4, c / np.sqrt(2), 1.0]
    np.testing.assert_allclose(class_weights(counts, "sqrt_inverse_frequency"), sqrt, rtol=1e-6)
    np.testing.assert_array_equal(class_weights(counts, "none"), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="not all 0"):
        class_weights([0, 0], "inverse_frequency")


def test_a_weighted_loss_gives_every_class_the_same_total_weight():
    logits = torch.randn(1, 3, 4, 7)
    labels = torch.zeros(1, 4, 7, dtype=torch.long)
    labels[0, 0, :4] = 1  # 24 pixels of class 0, 4 of class 1, none of class 2
    counts = np.bincount(labels.flatten().numpy(), minlength=3)
    weights = torch.from_numpy(class_weights(counts, "inverse_frequency"))
    present = torch.tensor([True])
    per_pixel = F.cross_entropy(logits, labels, reduction="none")[0]
    balanced = (per_pixel[labels[0] == 0].mean() + per_pixel[labels[0] == 1].mean()) / 2
    weighted = multiclass_segmentation_loss(logits, labels, present, class_weights=weights)
    torch.testing.assert_close(weighted, balanced)
    mask = labels.clone()
    binary = binary_segmentation_loss(logits[:, 0], mask, present, class_weights=weights[:2])
    bce = F.binary_cross_entropy_with_logits(logits[0, 0], mask[0].float(), reduction="none")
    torch.testing.assert_close(binary, (bce[mask[0] == 0].mean() + bce[mask[0] == 1].mean()) / 2)


@pytest.mark.parametrize("loss", ["focal", "lovasz"])
def test_focal_and_lovasz_losses_fall_as_the_prediction_improves(loss):
    labels = torch.randint(0, 3, (2, 8, 8))
    labels[0, :2] = 255
    truth = F.one_hot(labels.clamp(max=2), 3).permute(0, 3, 1, 2).float()
    present = torch.tensor([True, True])
    values = [multiclass_segmentation_loss(s * (truth - 0.5), labels, present, loss).item()
              for s in (0.0, 2.0, 8.0)]  # fmt: skip
    assert values[0] > values[1] > values[2]
    mask = labels.clamp(max=1)
    binary = [binary_segmentation_loss(s * (mask.float() - 0.5), mask, present, 0.0, loss).item()
              for s in (0.0, 2.0, 8.0)]  # fmt: skip
    assert binary[0] > binary[1] > binary[2]


def test_only_trained_segmentation_tasks_can_be_weighted():
    with pytest.raises(ValueError, match="class_weighting for \\['power'\\]"):
        ClassWeights(get_tasks(["plume", "power"]), {"power": "inverse_frequency"})
    with pytest.raises(ValueError, match="segmentation_loss for \\['fuel'\\]"):
        MultiTaskTask(tasks=["plume", "fuel"], segmentation_loss={"fuel": "focal"})


def test_a_fit_weighs_the_plume_by_the_training_split_and_its_checkpoint_keeps_it(
    tiny_dataset, tmp_path
):
    task = MultiTaskTask(tasks=["plume"], class_weighting={"plume": "inverse_frequency"},
                         segmentation_loss={"plume": "lovasz"}, figure_examples=0)  # fmt: skip
    data = DataModule(root=str(tiny_dataset), batch_size=4)  # augmented training batches
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False, max_steps=1,
                        limit_val_batches=0)  # fmt: skip
    trainer.fit(task, datamodule=data)
    train = PlantObservations(tiny_dataset, split="train")
    counts = class_pixel_counts(train, {"mask": ("has_mask", 2)}, progress=False)["mask"]
    assert 0 < counts[1] < counts[0]
    expected = torch.from_numpy(class_weights(counts, "inverse_frequency"))
    torch.testing.assert_close(task.losses.class_weights.plume, expected)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = MultiTaskTask.load_from_checkpoint(tmp_path / "model.ckpt")
    torch.testing.assert_close(loaded.losses.class_weights.plume, expected)
    assert bool(loaded.losses.class_weights.counted)


def test_weighing_classes_without_a_labelled_pixel_is_one_clear_error():
    weights = ClassWeights(get_tasks(["land_cover"]), {"land_cover": "inverse_frequency"})
    unlabelled = [{**s, "has_lulc": torch.tensor(False)} for s in hand_made_maps()]
    with pytest.raises(UserError, match="land_cover: the training split has no labelled pixels"):
        weights.count(unlabelled, progress=False)
    weights.count(hand_made_maps(), progress=False)
    expected = class_weights(np.bincount([0] * 10 + [1] * 16 + [2] * 2, minlength=11),
                             "inverse_frequency")  # fmt: skip
    torch.testing.assert_close(weights.land_cover, torch.from_numpy(expected))
