"""`SelectionPool`: the observations a strategy may choose from for one task's labels — the
training split only — with what the strategies read of each: whether it is labelled
already, its plant, an uncertainty score and an embedding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SelectionPool:
    """The pool of one selection round, sorted by ``obs_id`` (ties break alike every run).

    Attributes:
        obs_ids: observation ids, [N] str.
        plant_ids: the plant of each, [N] str (the per-plant cap counts these).
        labelled: whether the task's label is known already, [N] bool (never selected; a
            diversity strategy counts them as covered).
        scores: an uncertainty per observation, higher = less certain, [N] float, in
            ``score_unit``; None if the model was not asked.
        embeddings: pooled encoder features, [N, D] float; None if not computed.
        score_name, score_unit: what ``scores`` is and its unit (``plume entropy``, ``bits``).
    """

    obs_ids: np.ndarray
    plant_ids: np.ndarray
    labelled: np.ndarray
    scores: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    score_name: str = "uncertainty"
    score_unit: str = ""

    def __post_init__(self) -> None:
        order = np.argsort(np.asarray(self.obs_ids, dtype=str), kind="stable")
        self.obs_ids = np.asarray(self.obs_ids, dtype=str)[order]
        self.plant_ids = np.asarray(self.plant_ids, dtype=str)[order]
        self.labelled = np.asarray(self.labelled, dtype=bool)[order]
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float64)[order]
        if self.embeddings is not None:
            self.embeddings = np.asarray(self.embeddings, dtype=np.float64)[order]
        if len(set(self.obs_ids)) != len(self.obs_ids):
            raise ValueError("the selection pool holds an observation twice")

    def __len__(self) -> int:
        return len(self.obs_ids)
