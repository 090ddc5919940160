"""Uncertainty measures: a coin flip is one bit, certainty none; an ensemble's disagreement
counts; the most uncertain toy inputs rank first."""

from __future__ import annotations

import pytest
import torch

from plantwatch.selection import uncertainty


def test_a_coin_flip_is_one_bit_and_certainty_none():
    bits = uncertainty.binary_entropy_bits(torch.tensor([0.5, 0.0, 1.0]))
    assert bits.tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-5)
    uniform = torch.full((1, 1, 4), 0.25)
    assert uncertainty.class_entropy_bits(uniform).item() == pytest.approx(2.0)


def test_the_most_uncertain_toy_images_rank_first():
    """Three 4 × 4 images of one model: certain, a doubtful corner, a doubtful whole."""
    probabilities = torch.zeros(1, 3, 4, 4)
    probabilities[0, 0] = 0.01
    probabilities[0, 1, :2, :2] = 0.5
    probabilities[0, 2] = 0.5
    entropy = uncertainty.plume_entropy_bits(probabilities)
    area = uncertainty.plume_area_std_px(probabilities)
    assert torch.argsort(entropy, descending=True).tolist() == [2, 1, 0]
    assert area[2].item() == pytest.approx((16 * 0.25) ** 0.5)  # 2 px
    assert area[1].item() == pytest.approx((4 * 0.25) ** 0.5)


def test_an_ensemble_that_disagrees_is_uncertain():
    certain_but_opposed = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
    assert uncertainty.plume_entropy_bits(certain_but_opposed).item() == pytest.approx(1.0)
    values = torch.tensor([[100.0], [110.0]])  # MW of two seeds
    assert uncertainty.regression_std(values, None).item() == pytest.approx(5.0)
    sigmas = torch.full((2, 1), 3.0)
    assert uncertainty.regression_std(values, sigmas).item() == pytest.approx((25 + 9) ** 0.5)
    with pytest.raises(ValueError, match="spread head"):
        uncertainty.regression_std(values[:1], None)
