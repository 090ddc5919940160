"""`DatasetSource`: something that can produce a canonical dataset in a folder (a generator,
a converter, a download), run by `DataModule.prepare_data` before the data is read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from plantwatch.data.format import layout
from plantwatch.data.format.writer import dataset_lock


class DatasetSource(ABC):
    """Base of dataset sources. Subclasses implement :meth:`write`; :meth:`prepare` runs it
    under a lock when the folder holds no complete dataset, so concurrent processes (DDP
    ranks on several nodes, ``compare --jobs N``) produce the dataset once."""

    @abstractmethod
    def write(self, root: Path) -> None:
        """Produce the dataset in ``root`` (resuming a killed attempt where possible)."""

    def complete(self, root: Path) -> bool:
        """Whether ``root`` holds a complete dataset (default: its ``dataset.json``, which
        the writer adds last)."""
        return (root / layout.DATASET_JSON).is_file()

    def check(self, root: Path) -> None:  # noqa: B027 - an optional hook
        """Called when ``root`` already holds a dataset: warn if it differs from this source
        (by default, nothing to compare)."""

    def prepare(self, root: str | Path) -> Path:
        """Make sure ``root`` holds the complete dataset; returns ``root``."""
        root = Path(root)
        with dataset_lock(root):
            if self.complete(root):
                self.check(root)
            else:
                self.write(root)
        return root
