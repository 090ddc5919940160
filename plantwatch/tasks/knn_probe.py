"""The k-nearest-neighbour probe of self-supervised encoders: how well the pooled features
of the validation split classify a label (the plant's fuel, an acquisition's climate zone)
by their nearest neighbours *of other plants* (or acquisitions), so that several scenes of
one plant cannot vote for each other; beside it the same probe on random features
(`knn_chance`), the level an encoder must beat. Every pretraining task logs both
(``val/knn_accuracy``, ``val/knn_chance``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from plantwatch.tasks.contrastive_losses import similarity

if TYPE_CHECKING:
    from plantwatch.tasks.base import BaseTask


def knn_accuracy(
    features: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, k: int = 5
) -> torch.Tensor:
    """Leave-one-group-out k-NN accuracy: each row of ``features`` [N, D] is classified by
    the majority label of its ``k`` most cosine-similar rows of *other* groups ([N] each).
    NaN when no row has a neighbour of another group."""
    scores = similarity(features, features)
    scores = scores.masked_fill(groups[:, None] == groups[None, :], float("-inf"))
    others = int((groups[:, None] != groups[None, :]).sum(dim=1).min())
    k = min(k, others)
    if k < 1:
        return torch.tensor(float("nan"))
    nearest = scores.topk(k, dim=1).indices
    votes = torch.nn.functional.one_hot(labels[nearest], int(labels.max()) + 1).sum(dim=1)
    return (votes.argmax(dim=1) == labels).float().mean()


def knn_chance(labels: torch.Tensor, groups: torch.Tensor, k: int = 5, draws: int = 20,
               seed: int = 0) -> torch.Tensor:  # fmt: skip
    """The chance level of `knn_accuracy` on these labels and groups: its mean over
    ``draws`` sets of random features. Not the majority share: with few groups, leaving a
    sample's own group out leaves its label under-represented among the neighbours, so
    label-blind features score below the class shares (four groups labelled 0, 0, 1, 1 and
    k = 3: exactly 0)."""
    generator = torch.Generator().manual_seed(seed)
    scores = [knn_accuracy(torch.randn(len(labels), 16, generator=generator), labels.cpu(),
                           groups.cpu(), k) for _ in range(draws)]  # fmt: skip
    return torch.stack(scores).mean()


def group_codes(ids: Sequence[str]) -> torch.Tensor:
    """Stable integer codes of group ids (the same in every process)."""
    return torch.tensor([zlib.crc32(str(i).encode()) for i in ids], dtype=torch.long)


class KnnProbe:
    """Collects the validation split's features, labels and plants batch by batch, and
    scores them at the epoch's end.

    Args:
        label: sample key of the probed label (None: no probe).
        k: neighbours.
    """

    def __init__(self, label: str | None, k: int = 5) -> None:
        self.label = label
        self.k = k
        self.parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.chance: torch.Tensor | None = None  # of the validation split: once a fit

    def reset(self) -> None:
        """Forget what was collected (a new validation epoch)."""
        self.parts = []

    def wants(self, batch: Mapping[str, Any]) -> bool:
        """Whether ``batch`` carries the probed label."""
        return bool(self.label) and self.label in batch

    def add(self, features: torch.Tensor, batch: Mapping[str, Any]) -> None:
        """Keep the labelled rows of ``features`` [B, F] (pooled, of the unaugmented batch)."""
        known = batch[f"has_{self.label}"].bool()
        groups = group_codes(batch.get("plant_id", batch.get("obs_id", [])))
        self.parts.append((features.float()[known], batch[self.label][known].long(),
                           groups.to(known.device)[known]))  # fmt: skip

    def scores(
        self, gather: Callable[..., list[torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """``knn_accuracy`` and ``knn_chance`` of what was collected over every process
        (``gather``); empty when nothing was. Starts the next epoch afresh."""
        if not self.parts:
            return {}
        features, labels, groups = gather(*(torch.cat(p) for p in zip(*self.parts, strict=True)))
        self.reset()
        if not len(labels):
            return {}
        if self.chance is None:  # labels and plants of the split, the same every epoch
            self.chance = knn_chance(labels, groups, self.k)
        return {"knn_accuracy": knn_accuracy(features, labels, groups, self.k),
                "knn_chance": self.chance}  # fmt: skip

    def log_epoch(self, task: BaseTask) -> None:
        """At a validation epoch's end: log the scores of the whole split (every process's
        part, on rank 0) as ``val/knn_accuracy`` and ``val/knn_chance``; nothing of the
        sanity check."""
        if task.trainer.sanity_checking:
            self.reset()
            return
        for name, value in self.scores(task.gather).items():
            task.log(f"val/{name}", value, sync_dist=False, rank_zero_only=True)
