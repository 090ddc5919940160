import pytest
import torch
import torch.nn.functional as F

from plantwatch.tasks.losses import (
    LossWeighting,
    binary_segmentation_loss,
    classification_loss,
    composition_loss,
    regression_loss,
)


def test_plume_loss_ignores_unlabelled_pixels_and_images():
    logits = torch.randn(2, 4, 4)
    mask = torch.randint(0, 2, (2, 4, 4))
    mask[0, :2] = 255
    has_mask = torch.tensor([True, False])
    valid = torch.zeros(2, 4, 4, dtype=torch.bool)
    valid[0, 2:] = True
    expected = F.binary_cross_entropy_with_logits(logits[valid], mask[valid].float())
    torch.testing.assert_close(binary_segmentation_loss(logits, mask, has_mask), expected)


def test_dice_term_is_added_with_its_weight():
    logits = torch.randn(1, 8, 8)
    mask = (torch.rand(1, 8, 8) > 0.5).long()
    has = torch.tensor([True])
    bce = binary_segmentation_loss(logits, mask, has)
    with_dice = binary_segmentation_loss(logits, mask, has, dice_weight=1.0)
    prob, target = torch.sigmoid(logits).flatten(), mask.flatten().float()
    dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
    torch.testing.assert_close(with_dice - bce, dice)


@pytest.mark.parametrize(
    "loss",
    [
        lambda p: binary_segmentation_loss(
            p.view(2, 1, 1), torch.full((2, 1, 1), 255), torch.tensor([True, True])
        ),
        lambda p: classification_loss(
            p.view(2, 1).repeat(1, 4), torch.tensor([0, 1]), torch.tensor([False, False])
        ),
        lambda p: regression_loss(p, torch.tensor([5.0, 6.0]), torch.tensor([False, False]), 100.0),
        lambda p: composition_loss(
            p.view(2, 1).repeat(1, 3), torch.full((2, 3), 1 / 3), torch.tensor([False, False])
        ),
    ],
)
def test_a_batch_without_labels_gives_exactly_zero_and_zero_gradient(loss):
    prediction = torch.randn(2, requires_grad=True)
    value = loss(prediction)
    value.backward()
    assert value.item() == 0.0 and prediction.grad is not None
    assert (prediction.grad == 0).all()


def test_composition_loss_is_the_kl_divergence_and_zero_when_exact():
    truth = torch.tensor([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    present = torch.tensor([True, True])
    assert composition_loss(truth.clamp_min(1e-12).log(), truth, present).item() == pytest.approx(
        0.0, abs=1e-6
    )
    logits = torch.randn(2, 3)
    predicted = logits.softmax(dim=1)
    terms = torch.where(truth > 0, truth * (truth.clamp_min(1e-12) / predicted).log(), 0.0)
    expected = terms.sum() / 2
    torch.testing.assert_close(composition_loss(logits, truth, present), expected)


def test_regression_losses_are_in_normalised_units_with_a_huber_delta():
    prediction, target = torch.tensor([1300.0, 0.0]), torch.tensor([1000.0, 0.0])
    present = torch.tensor([True, False])
    assert regression_loss(prediction, target, present, 100.0, "l1").item() == pytest.approx(3.0)
    # Huber(δ)/δ of an error of 3 standard deviations: |e| − δ/2 beyond δ, e²/(2δ) within
    assert regression_loss(prediction, target, present, 100.0, "huber", delta=1.0).item() == (
        pytest.approx(1.0 * (3.0 - 0.5))
    )
    assert regression_loss(prediction, target, present, 100.0, "huber", delta=5.0).item() == (
        pytest.approx(0.5 * 3.0**2 / 5.0)
    )


def test_fixed_weighting_multiplies_each_term():
    weighting = LossWeighting(["plume", "power"], "fixed", {"power": 3.0})
    losses = {"plume": torch.tensor(2.0), "power": torch.tensor(1.0)}
    assert weighting(losses, {"plume": True, "power": True}).item() == pytest.approx(5.0)
    assert weighting.effective_weights() == {"plume": 1.0, "power": 3.0}


def test_uncertainty_weighting_learns_and_skips_absent_tasks():
    weighting = LossWeighting(["plume", "power"], "uncertainty")
    losses = {"plume": torch.tensor(2.0), "power": torch.tensor(0.0)}
    total = weighting(losses, {"plume": True, "power": False})
    assert total.item() == pytest.approx(0.5 * 2.0)  # s = 0: ½·e⁰·L + ½·0
    total.backward()
    grad = weighting.log_vars.grad
    assert grad[0].item() == pytest.approx(-0.5 * 2.0 + 0.5)
    assert grad[1].item() == 0.0  # no labels → s_power does not move
    assert weighting.effective_weights() == {"plume": 0.5, "power": 0.5}


def test_weights_for_untrained_tasks_are_refused():
    with pytest.raises(ValueError, match=r"not trained: \['co2'\]"):
        LossWeighting(["plume"], "fixed", {"co2": 2.0})
