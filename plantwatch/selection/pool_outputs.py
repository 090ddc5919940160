"""Run one checkpoint or an ensemble (seeds, earlier rounds) over the selection pool: per
observation the uncertainty of one task (`uncertainty.py`) and the first model's encoder
features, average-pooled over space (the embedding k-center greedy spreads out over)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from plantwatch.data.loading.contract import SampleDataset
from plantwatch.data.loading.sample import collate_samples
from plantwatch.selection import uncertainty
from plantwatch.task_registry import TaskSpec, get_tasks
from plantwatch.tasks.intervals import sigma_key
from plantwatch.tasks.multitask_task import MultiTaskTask

# measure name → (what it is, its unit — "" for the task's —, the task kinds it applies to)
MEASURES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "entropy": ("entropy", "bits", ("binary_segmentation", "multiclass")),
    "area": ("area std", "px", ("binary_segmentation",)),
    "std": ("std", "", ("regression",)),
}


@dataclass
class PoolOutputs:
    """What the models say of the pool, in the dataset's sample order.

    Attributes:
        obs_ids, plant_ids: [N] str.
        scores: the task's uncertainty, [N] float, in ``score_unit``.
        embeddings: pooled encoder features of the first model, [N, D] float.
        score_name, score_unit: e.g. ``plume entropy`` and ``bits``.
    """

    obs_ids: list[str]
    plant_ids: list[str]
    scores: np.ndarray
    embeddings: np.ndarray
    score_name: str
    score_unit: str


def default_measure(spec: TaskSpec) -> str:
    """``std`` for a regression task, ``entropy`` else."""
    return "std" if spec.kind == "regression" else "entropy"


def _scorer(spec: TaskSpec, measure: str) -> Callable[[list[dict]], torch.Tensor]:
    """outputs of the K models for a batch → the task's uncertainty [B]."""
    name, _, kinds = MEASURES[measure]
    if spec.kind not in kinds:
        fitting = [m for m, (_, _, k) in MEASURES.items() if spec.kind in k]
        raise ValueError(f"measure {measure!r} ({name}) does not apply to {spec.name} "
                         f"({spec.kind}); choose among {fitting}")  # fmt: skip
    if spec.kind == "binary_segmentation":
        score = (uncertainty.plume_entropy_bits if measure == "entropy"
                 else uncertainty.plume_area_std_px)  # fmt: skip
        return lambda outs: score(torch.stack([o[spec.name].float().sigmoid() for o in outs]))
    if spec.kind == "multiclass":
        return lambda outs: uncertainty.class_entropy_bits(
            torch.stack([o[spec.name].float().softmax(-1) for o in outs]))  # fmt: skip
    key = sigma_key(spec.name)

    def regression(outs: list[dict]) -> torch.Tensor:
        values = torch.stack([o[spec.name].float() for o in outs])
        sigmas = (torch.stack([o[key].float().exp() * spec.scale for o in outs])
                  if all(key in o for o in outs) else None)  # fmt: skip
        return uncertainty.regression_std(values, sigmas)

    return regression


def pool_outputs(
    models: Sequence[MultiTaskTask],
    dataset: SampleDataset,
    task: str,
    measure: str | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> PoolOutputs:
    """Score every observation of ``dataset`` (the training pool, without augmentation)
    for ``task`` with the ensemble ``models`` (the same task selection and bands)."""
    spec = get_tasks([task])[0]
    measure = measure or default_measure(spec)
    score = _scorer(spec, measure)
    for model in models:
        if task not in model.hparams.tasks:
            raise ValueError(f"a checkpoint does not predict {task}: it predicts "
                             f"{list(model.hparams.tasks)}")  # fmt: skip
        model.eval()
    pooled: dict[str, torch.Tensor] = {}
    hook = models[0].model.encoder.register_forward_hook(
        lambda module, inputs, features: pooled.update(last=features[-1].float().mean((2, 3)))
    )
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_samples)
    ids, plants, scores, embeddings = [], [], [], []
    try:
        with torch.inference_mode():
            for batch in tqdm(loader, desc=f"scoring the pool ({task})", disable=not progress):
                outs = [model(batch) for model in models[:1]]
                embeddings.append(pooled["last"].cpu())
                outs += [model(batch) for model in models[1:]]
                scores.append(score(outs).cpu())
                ids += list(batch["obs_id"])
                plants += list(batch["plant_id"])
    finally:
        hook.remove()
    name, unit, _ = MEASURES[measure]
    return PoolOutputs(ids, plants, torch.cat(scores).double().numpy(),
                       torch.cat(embeddings).double().numpy(), f"{spec.name} {name}",
                       unit or spec.unit)  # fmt: skip
