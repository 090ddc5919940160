import math

import numpy as np
import pytest
import torch

from plantwatch.tasks.ssl import info_nce, nt_xent


def test_nt_xent_of_a_hand_derived_two_by_two_case():
    # Identical orthogonal views: each anchor's positive has cosine 1, its three negatives
    # (the other image in both views) have cosine 0, so every anchor costs
    # -log(e^{1/t} / (e^{1/t} + 2)) = log(1 + 2 e^{-1/t}).
    z = torch.eye(2)
    for t in (0.5, 0.1):
        expected = math.log(1 + 2 * math.exp(-1 / t))
        assert nt_xent(z, z, t).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # Cross-modal InfoNCE has only the other modality's rows as negatives: log(1 + e^{-1/t}).
    expected = math.log(1 + math.exp(-1 / 0.07))
    assert info_nce(z, z, 0.07).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def reference_nt_xent(z1: np.ndarray, z2: np.ndarray, t: float) -> float:
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    losses = []
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        others = [j for j in range(2 * n) if j != i]
        logits = np.array([z[i] @ z[j] / t for j in others])
        losses.append(-(z[i] @ z[positive] / t) + np.log(np.exp(logits).sum()))
    return float(np.mean(losses))


def reference_info_nce(z1: np.ndarray, z2: np.ndarray, t: float) -> float:
    a = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    b = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    logits = a @ b.T / t
    rows = [np.log(np.exp(logits[i]).sum()) - logits[i, i] for i in range(len(a))]
    columns = [np.log(np.exp(logits[:, i]).sum()) - logits[i, i] for i in range(len(a))]
    return float((np.mean(rows) + np.mean(columns)) / 2)


def test_the_losses_equal_a_straightforward_reimplementation_and_fall_for_identical_views():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 16)), rng.normal(size=(6, 16))
    a, b = torch.tensor(z1, dtype=torch.float32), torch.tensor(z2, dtype=torch.float32)
    assert nt_xent(a, b, 0.5).item() == pytest.approx(reference_nt_xent(z1, z2, 0.5), rel=1e-4)
    assert info_nce(a, b, 0.07).item() == pytest.approx(reference_info_nce(z1, z2, 0.07), 1e-4)
    assert nt_xent(a, a, 0.5) < nt_xent(a, b, 0.5)
    assert info_nce(a, a, 0.07) < info_nce(a, b, 0.07)
