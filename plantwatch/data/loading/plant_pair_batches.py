"""`PlantPairBatches`: training batches of same-plant pairs for contrastive pretraining in the
manner of Seasonal Contrast (Mañas et al. 2021), where two scenes of one place on different
dates are a positive pair.

A batch is ``[a₁, b₁, a₂, b₂, …]``: ``aᵢ`` and ``bᵢ`` are two different scenes of one plant,
and no plant appears in two pairs of a batch, so every other scene of the batch is another
plant's (a negative). Each scene is used at most once an epoch; plants with a single scene
are left out. The order is drawn from torch's generator when an epoch's iterator starts (the
datamodule seeds it from the run seed and the epoch).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class PlantPairBatches(Sampler[list[int]]):
    """Batches of sample indices, two scenes of a plant after each other.

    Args:
        plant_ids: the plant of each sample, by sample index.
        batch_size: samples per batch (even; ``batch_size / 2`` pairs of as many plants).
        shuffle: draw another pairing and order each epoch (False: a fixed one, for
            validation).
        seed: the seed of the fixed pairing (``shuffle=False``).
    """

    def __init__(self, plant_ids: Sequence[str], batch_size: int, shuffle: bool = True,
                 seed: int = 0) -> None:  # fmt: skip
        if batch_size < 4 or batch_size % 2:
            raise ValueError(f"same-plant pairs need an even batch_size of at least 4 (two "
                             f"pairs), got {batch_size}")  # fmt: skip
        scenes: dict[str, list[int]] = defaultdict(list)
        for index, plant in enumerate(plant_ids):
            scenes[str(plant)].append(index)
        self.scenes = {p: s for p, s in scenes.items() if len(s) >= 2}
        if not self.scenes:
            raise ValueError("same-plant pairs need a plant with two or more scenes; every "
                             f"plant of these {len(plant_ids)} samples has one")  # fmt: skip
        # a lone pair has no negative: kept only where one plant is all there is (a tiny
        # validation split), where its loss is zero
        self.min_pairs = 2 if len(self.scenes) >= 2 else 1
        self.pairs_per_batch = batch_size // 2
        self.shuffle = shuffle
        self.seed = seed

    def _rounds(self, generator: torch.Generator) -> list[list[tuple[int, int]]]:
        """Round r holds the r-th pair of every plant with more than r pairs (plants in a
        random order): a round never holds one plant twice."""
        plants = list(self.scenes)
        order = torch.randperm(len(plants), generator=generator).tolist()
        pairs_of = {}
        for p in (plants[i] for i in order):
            scenes = self.scenes[p]
            picked = [scenes[i] for i in torch.randperm(len(scenes), generator=generator)]
            pairs_of[p] = list(zip(picked[0::2], picked[1::2], strict=False))
        depth = max(len(v) for v in pairs_of.values())
        return [[v[r] for v in pairs_of.values() if len(v) > r] for r in range(depth)]

    def _batches(self, generator: torch.Generator) -> list[list[int]]:
        batches = []
        for pairs in self._rounds(generator):
            for start in range(0, len(pairs), self.pairs_per_batch):
                chunk = pairs[start:start + self.pairs_per_batch]
                if len(chunk) >= self.min_pairs:
                    batches.append([i for pair in chunk for i in pair])
        order = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[i] for i in order]

    def _generator(self) -> torch.Generator:
        seed = int(torch.randint(2**62, ())) if self.shuffle else self.seed
        return torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches(self._generator()))

    def __len__(self) -> int:
        counts = sorted((len(s) // 2 for s in self.scenes.values()), reverse=True)
        total = 0
        for r in range(counts[0]):
            plants = sum(1 for c in counts if c > r)
            full, rest = divmod(plants, self.pairs_per_batch)
            total += full + (rest >= self.min_pairs)
        return total
