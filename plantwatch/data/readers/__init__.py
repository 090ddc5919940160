"""Dataset classes (`PlantwatchDataset`): the canonical format and ben-ge, imported here so
that ``--data.help DataModule`` lists both; converters of the published datasets."""

from plantwatch.data.readers.benge.dataset import BenGe
from plantwatch.data.readers.observations import PlantObservations

__all__ = ["BenGe", "PlantObservations"]
