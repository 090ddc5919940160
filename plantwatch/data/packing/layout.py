"""The on-disk layout of a packed dataset (written by ``packing``, read by ``packed``).

```
<out>/packed.json                 the manifest, written last: its presence marks a complete
                                  pack (count, shard size, every key's storage, bands,
                                  modalities, aux columns, the source)
<out>/packing.json                the plan, while packing (a rerun resumes from it)
<out>/shards/<key>/<k:05d>.npy    samples k·S … (k+1)·S − 1 of one sample key, [n, …];
                                  written as ``.npy.partial`` and renamed when complete
<out>/labels.csv                  the source's label table (``SampleDataset.labels``)
<out>/splits/[seed<k>/]<name>.txt the split files (sample ids), as in the canonical layout,
                                  with the training split's ``statistics.json``
```
Keys are stored compactly and decoded on the device: ``image`` reflectance (and the
``reference``, reflectance of the same bands) as uint16
``round(reflectance × scale)`` (half the bytes of float32, exact), class maps and masks as
uint8; everything else in its own dtype; strings as numpy unicode arrays.
"""

from __future__ import annotations

from pathlib import Path

MANIFEST = "packed.json"
PLAN = "packing.json"
LABELS_CSV = "labels.csv"
SHARDS_DIR = "shards"
FORMAT_NAME = "plantwatch-packed"
FORMAT_VERSION = 1
# Reflectance keys, stored as uint16 DN / scale, with the bands of ``image``.
REFLECTANCE_KEYS: tuple[str, ...] = ("image", "reference")
# A key whose sample is larger than this is memory-mapped; smaller ones are held in memory.
MAPPED_BYTES = 4096


def shard_path(root: str | Path, key: str, shard: int) -> Path:
    """The file of shard ``shard`` of sample key ``key``."""
    return Path(root) / SHARDS_DIR / key / f"{shard:05d}.npy"
