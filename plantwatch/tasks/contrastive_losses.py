"""Contrastive losses and their diagnostics, as plain functions on embeddings [N, D].

- `nt_xent`: SimCLR's normalised-temperature cross-entropy (Chen et al. 2020) over all 2N
  anchors — each view's positive is the other view of its image, the 2N − 2 other views are
  its negatives — by lightly's ``NTXentLoss`` (which can also gather negatives across DDP
  ranks).
- `info_nce`: the cross-modal InfoNCE of CLIP-style training (Radford et al. 2021): the
  positive of a Sentinel-2 embedding is the Sentinel-1 embedding of the same place, the
  negatives are the other places' Sentinel-1 embeddings (and the other way round), averaged
  over both directions.
- `pair_accuracy`: the share of anchors whose nearest embedding of the other view is their
  positive (top-1 retrieval); `embedding_std`: the mean per-dimension standard deviation of
  L2-normalised embeddings, ≈ 1/√D when healthy, → 0 when the embeddings collapse.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss


def nt_xent(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, gather_distributed: bool = False
) -> torch.Tensor:
    """SimCLR's NT-Xent: the mean over all 2N anchors of −log softmax of the positive pair's
    cosine similarity / ``temperature``. z1, z2: [N, D], row i of each from image i."""
    return NTXentLoss(temperature=temperature, gather_distributed=gather_distributed)(z1, z2)


def similarity(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Cosine similarities [N, M] of the rows of z1 [N, D] and z2 [M, D]."""
    return F.normalize(z1.float(), dim=1) @ F.normalize(z2.float(), dim=1).T


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Symmetric cross-modal InfoNCE: mean of the cross-entropies of each z1 row against all
    z2 rows and of each z2 row against all z1 rows, cosine similarity / ``temperature``;
    the positive is the same row. z1: [N, D] (e.g. Sentinel-2), z2: [N, D] (Sentinel-1)."""
    logits = similarity(z1, z2) / temperature
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def pair_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Share of rows of z1 whose most similar row of z2 is the same row (top-1 matching)."""
    predicted = similarity(z1, z2).argmax(dim=1)
    return (predicted == torch.arange(len(z1), device=z1.device)).float().mean()


def embedding_std(z: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of the standard deviation of L2-normalised embeddings [N, D]."""
    return F.normalize(z.float(), dim=1).std(dim=0).mean()
