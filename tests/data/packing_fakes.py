"""Helpers of the packing tests: a source that dies mid-shard, run as a real process."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from plantwatch.data.packing.writer import pack_dataset
from plantwatch.data.readers.observations import PlantObservations


class DyingObservations(PlantObservations):
    """`PlantObservations` whose process is killed (SIGKILL) when sample ``die_at`` is read."""

    def __init__(self, *args: Any, die_at: int = -1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.die_at = die_at

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index == self.die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(index)


def pack(source: str, out: str, die_at: int, shard_size: int) -> None:
    """Pack ``source`` into ``out``; the process is killed at sample ``die_at`` (-1: never)."""

    def make(split: str | None, split_seed: int | None) -> PlantObservations:
        return DyingObservations(source, split, split_seed=split_seed, die_at=die_at)

    pack_dataset(make, out, source, shard_size=shard_size, progress=False)


if __name__ == "__main__":
    pack(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
