"""The dataset contract: what the datamodule, task modules, prediction writer, baselines and
demo may rely on. Any dataset class that satisfies it plugs into `DataModule` by class path.

A dataset class derives from `PlantwatchDataset` (so ``--data.help DataModule`` lists it,
and a class path of something else is refused when the config is read). A conforming class is
constructed as ``cls(root, split, bands=…, transforms=…, split_seed=…,
**its own arguments)`` and returns sample dicts (``data/loading/sample.py``) in raw physical units;
``statistics`` are those of the *training* split of the split set in use, whatever split the
object reads, so every split is normalised alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import pandas as pd
from torch.utils.data import Dataset

from plantwatch.data.format.statistics import Statistics


@runtime_checkable
class SampleDataset(Protocol):
    """A map-style dataset of sample dicts.

    Attributes:
        bands: channel names of ``image`` (Sentinel-2 band names), in order.
        modalities: channel names of every spatial input by sample key (``image`` included;
            ``image_s1``: ``("VV", "VH")``, ``dem``: ``("DEM",)`` …).
        aux_columns: names of the ``aux`` entries, in order.
        statistics: mean and std by band, aux column and regression target key, computed on
            the training split.
    """

    bands: tuple[str, ...]
    modalities: Mapping[str, tuple[str, ...]]
    aux_columns: tuple[str, ...]
    statistics: Statistics

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

    def labels(self) -> pd.DataFrame:
        """One row per sample without reading images: ``obs_id`` (the sample's ``obs_id``),
        ``plant_id``, scalar targets and every
        ``has_*`` presence flag."""
        ...


class PlantwatchDataset(Dataset):
    """The base of the dataset classes `DataModule` takes by class path
    (``data.init_args.dataset``): `PlantObservations`, `BenGe`, or one of yours. A subclass
    satisfies `SampleDataset`."""
