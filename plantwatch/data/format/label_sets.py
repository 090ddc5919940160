"""Label sets: which training observations keep one task's labels — the masks drawn so far
in an annotation loop. A label set is a JSON file (``flags``: the presence flags it governs,
e.g. ``["has_mask"]``; ``labelled``: the observation ids whose labels are kept; ``rounds``:
how each round chose them); ``DataModule(label_set=…)`` hides those flags' labels of every
other training observation, while its other labels (generation, fuel …) stay, and the
images all stay in training — unlike a label fraction, which drops whole observations."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from plantwatch.data.errors import DatasetError
from plantwatch.files.atomic import write_text_atomic


def write_label_set(
    path: str | Path,
    flags: Sequence[str],
    labelled: Iterable[str],
    rounds: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write a label set atomically; returns its path.

    Args:
        flags: the presence flags it governs (``has_mask`` for the plume).
        labelled: ids of the observations whose labels of ``flags`` are kept.
        rounds: one record per selection round (strategy, budget, checkpoint, the ids).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"flags": list(flags), "labelled": sorted(set(labelled)), "rounds": list(rounds)}
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    return path


def read_label_set(path: str | Path) -> dict[str, Any]:
    """A label set's record (``flags``, ``labelled``, ``rounds``).

    Raises:
        DatasetError: the file is missing or not a label set.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: no readable label set ({error}); give the file that "
                           "plantwatch select wrote") from None  # fmt: skip
    if not (isinstance(record, dict) and isinstance(record.get("flags"), list)
            and isinstance(record.get("labelled"), list)):  # fmt: skip
        raise DatasetError(f"{path}: a label set needs 'flags' and 'labelled' lists")
    return record


def hidden_labels(label_set: Mapping[str, Any], obs_ids: Sequence[str]) -> dict[str, set[int]]:
    """Per flag of the label set, the indices of ``obs_ids`` whose labels it hides (those
    not in ``labelled``)."""
    kept = set(label_set["labelled"])
    hidden = {i for i, obs in enumerate(obs_ids) if obs not in kept}
    return {flag: hidden for flag in label_set["flags"]}
