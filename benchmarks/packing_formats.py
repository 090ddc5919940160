"""Which packed format feeds a loader faster: litdata chunks or plantwatch's memory-mapped
shards? The measurement behind the choice in the README (``data pack``).

Needs litdata, which plantwatch does not depend on::

    pip install litdata && python benchmarks/packing_formats.py

Both formats hold the same 1024 samples (128 synthetic scenes, each 8 times, so that an epoch
is long enough for litdata's start-up not to dominate; 12 × 120 × 120 uint16 reflectance
numbers and uint8 masks); each is read and collated into shuffled batches of 16 with 0 and 2
loader workers, over whole epochs for ``SECONDS``, page cache warm for both.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from litdata import StreamingDataLoader, StreamingDataset, optimize
from torch.utils.data import DataLoader

from plantwatch.bench import loader_rate
from plantwatch.data.loading.sample import collate_samples
from plantwatch.data.packing.reader import PackedDataset
from plantwatch.data.packing.writer import pack_dataset
from plantwatch.data.readers.observations import PlantObservations
from plantwatch.data.synthetic.power_plants import synthesize_power_plants

SECONDS, BATCH, SCENES, REPEATS = 5.0, 16, 128, 8


class _Stored:
    """What litdata stores per sample: the packed dataset's arrays as stored."""

    def __init__(self, packed: Path) -> None:
        self.packed = PackedDataset(packed)

    def __call__(self, index: int) -> dict[str, np.ndarray | float | str]:
        batch = self.packed.__getitems__([index])
        return {k: (v[0] if isinstance(v, list) else v[0].numpy()) for k, v in batch.items()}


def repeated(packed: Path) -> PackedDataset:
    """The packed dataset with every sample ``REPEATS`` times."""
    dataset = PackedDataset(packed)
    dataset.positions = np.tile(dataset.positions, REPEATS)
    return dataset


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, packed, chunks = Path(tmp) / "src", Path(tmp) / "packed", Path(tmp) / "litdata"
        synthesize_power_plants(root, plants=SCENES // 8, per_plant=8, size=120, progress=False)
        start = time.perf_counter()
        pack_dataset(lambda s, k: PlantObservations(root, s, split_seed=k), packed, root,
                     progress=False)  # fmt: skip
        packed_s = time.perf_counter() - start
        start = time.perf_counter()
        optimize(fn=_Stored(packed), inputs=[i % SCENES for i in range(SCENES * REPEATS)],
                 output_dir=str(chunks),
                 chunk_bytes="64MB", num_workers=1)  # fmt: skip
        print(
            f"write: memmap shards {packed_s:.1f} s (from GeoTIFF), litdata chunks "
            f"{time.perf_counter() - start:.1f} s (from the shards)"
        )
        for workers in (0, 2):
            memmap = DataLoader(repeated(packed), BATCH, shuffle=True, num_workers=workers,
                                collate_fn=collate_samples,
                                persistent_workers=workers > 0)  # fmt: skip
            stream = StreamingDataLoader(StreamingDataset(str(chunks), shuffle=True),
                                         batch_size=BATCH, num_workers=workers)  # fmt: skip
            print(
                f"workers={workers}: memmap {loader_rate(memmap, SECONDS):.0f} samples/s, "
                f"litdata {loader_rate(stream, SECONDS):.0f} samples/s"
            )


if __name__ == "__main__":
    main()
