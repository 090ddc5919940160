"""`EpochLoader`: a training loader whose every epoch starts from random states that depend
only on the run's seed and the epoch number, so a run resumed from an epoch's ``last.ckpt``
(killed, preempted, requeued) trains the following epochs exactly as the uninterrupted run.

Without it a resumed run draws its first epoch's shuffling, dropout and augmentation from the
state its process started with, not from the state that the earlier epochs left. The seeds
are set when an epoch's iterator is made, which Lightning does before any hook of the epoch
(and, for the first epoch of a process, before ``on_train_epoch_start``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

SEED_VARIABLE = "PL_GLOBAL_SEED"  # set by ``seed_everything`` (LightningCLI's --seed_everything)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of ``epoch`` of a run seeded with ``seed``, in [0, 2³¹) (room for the small
    offsets per rank and per transform that the augmentations add)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]) % 2**31


def run_seed() -> int | None:
    """The run's seed (``seed_everything``), or None when the run is not seeded."""
    value = os.environ.get(SEED_VARIABLE)
    return None if value is None else int(value)


def seed_generators(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the legacy global state that libraries draw from)
    torch.manual_seed(seed)


class EpochLoader(DataLoader):
    """A `DataLoader` that calls ``start_epoch()`` whenever an epoch's iterator is made,
    before the loader draws anything (worker seeds, the shuffled order).

    Args:
        *args, **kwargs: those of `DataLoader`.
        start_epoch: seeds the epoch (the datamodule's), or None.
    """

    def __init__(self, *args: Any, start_epoch: Callable[[], None] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.start_epoch = start_epoch

    def __iter__(self) -> Iterator[Any]:
        if self.start_epoch is not None:
            self.start_epoch()
        return super().__iter__()
