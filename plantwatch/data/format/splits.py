"""Leakage-safe splits: grouped by plant, stratified by fuel; nested label-fraction subsets.

Observations of one plant look alike (same site, same towers), so a plant in both train and
test inflates every metric. Splits are therefore drawn over plants with scikit-learn's
``StratifiedGroupKFold`` (groups = plants, strata = fuel), and label-fraction subsets of the
training split are nested prefixes of one fuel-stratified random order, so the 1 % subset
lies inside the 10 % subset, which lies inside the 50 % one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from plantwatch.data.format.layout import SPLITS_DIR

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


def _hold_out(frame: pd.DataFrame, fraction: float, seed: int) -> pd.Index:
    """Index of a plant-grouped (site-grouped where ``site_id`` is given), fuel-stratified
    hold-out of about ``fraction`` of ``frame``."""
    groups = frame["site_id" if "site_id" in frame else "plant_id"].to_numpy()
    n_groups = len(np.unique(groups))
    if fraction <= 0 or n_groups < 2:
        return frame.index[:0]
    folds = min(max(2, round(1 / fraction)), n_groups)
    if frame["fuel_type"].value_counts().min() >= folds:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:  # a fuel with fewer observations than folds cannot be stratified
        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a rare fuel cannot fill every fold: stratify where possible
        warnings.simplefilter("ignore", UserWarning)
        _, held = next(splitter.split(frame, frame["fuel_type"], groups))
    return frame.index[held]


def split_by_plant(
    observations: pd.DataFrame,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Split observation ids into train/val/test with no plant in two splits.

    Args:
        observations: needs columns ``obs_id``, ``plant_id``, ``fuel_type``; an optional
            ``site_id`` groups plants that share a place (their patches overlap), which
            then share a split too.
        val_fraction: approximate share of observations for validation.
        test_fraction: approximate share of observations for testing.
        seed: random seed.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}`` with ids sorted.
    """
    frame = observations.reset_index(drop=True)
    test = _hold_out(frame, test_fraction, seed)
    rest = frame.drop(index=test)
    val = _hold_out(rest, val_fraction / max(1e-9, 1 - test_fraction), seed + 1)
    train = rest.drop(index=val)
    return {
        name: sorted(frame.loc[index, "obs_id"])
        for name, index in (("train", train.index), ("val", val), ("test", test))
    }


def nested_label_fractions(
    ids: Sequence[str], fuels: Sequence[str], fractions: Iterable[float], seed: int = 0
) -> dict[float, list[str]]:
    """Nested, fuel-stratified subsets of ``ids`` holding ``fraction`` of them (at least one).

    Each fuel's ids are shuffled and spread evenly over [0, 1); sorting by that position
    gives one order whose every prefix has about the fuel mix of the whole.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": list(ids), "fuel": list(fuels)})
    position = np.empty(len(frame))
    for _, members in frame.groupby("fuel").groups.items():
        members = rng.permutation(np.asarray(members))
        position[members] = (np.arange(len(members)) + rng.random()) / len(members)
    order = frame["id"].to_numpy()[np.argsort(position, kind="stable")]
    return {f: sorted(order[: max(1, math.ceil(f * len(order)))]) for f in fractions}


def fraction_split_name(fraction: float) -> str:
    """Name of the split file of a label fraction: 0.1 → ``train_10pct``."""
    return f"train_{100 * fraction:g}pct"


def extend_splits(
    splits: dict[str, list[str]],
    observations: pd.DataFrame,
    label_fractions: Iterable[float],
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> dict[str, list[str]]:
    """A split set grown by the observations it does not hold yet, moving none it holds.

    A new observation of a plant (or site) that is in a split joins that split; the new
    plants are split among themselves as `split_by_plant` splits a dataset; each
    label-fraction subset grows back to its fraction of the grown training split with new
    training observations, in the one fuel-stratified order of `nested_label_fractions`
    (same seed), so the subsets stay nested.

    Args:
        splits: ``train``, ``val``, ``test`` and ``train_<k>pct`` id lists.
        observations: every observation (``obs_id``, ``plant_id``, ``fuel_type``, optional
            ``site_id``), the held ones included.
        label_fractions: the fractions of the ``train_<k>pct`` subsets.

    Returns:
        The grown split set (ids sorted); ``splits`` itself where nothing is new.
    """
    held = {i: name for name in SPLIT_NAMES for i in splits.get(name, [])}
    new = observations[~observations["obs_id"].isin(held)]
    if new.empty:
        return splits
    known = observations[observations["obs_id"].isin(held)]
    group = "site_id" if "site_id" in observations else "plant_id"
    split_of_group = dict(zip(known[group], known["obs_id"].map(held), strict=True))
    joining = new[new[group].isin(split_of_group)]
    grown = {name: list(ids) for name, ids in splits.items()}
    for obs_id, key in zip(joining["obs_id"], joining[group], strict=True):
        grown[split_of_group[key]].append(obs_id)
    fresh = new[~new[group].isin(split_of_group)]
    if len(fresh):
        for name, ids in split_by_plant(fresh, val_fraction, test_fraction, seed).items():
            grown[name] += ids
    new_train = sorted(set(grown["train"]) - set(splits.get("train", [])))
    fuels = list(new.set_index("obs_id").loc[new_train, "fuel_type"].astype(object).fillna(""))
    for fraction in label_fractions:  # each subset grows back to its share of the training split
        name = fraction_split_name(fraction)
        need = math.ceil(fraction * len(grown["train"])) - len(grown.get(name, []))
        if need > 0 and new_train:
            share = min(1.0, need / len(new_train))
            ids = nested_label_fractions(new_train, fuels, [share], seed)[share]
            grown.setdefault(name, []).extend(ids)
    return {name: sorted(ids) for name, ids in grown.items()}


def split_folder(root: str | Path, split_seed: int | None = None) -> Path:
    """The folder of a split set: ``<root>/splits`` (the one written with the dataset) or,
    for another split seed, ``<root>/splits/seed<k>`` (written on demand by ``finalize``)."""
    folder = Path(root) / SPLITS_DIR
    return folder if split_seed is None else folder / f"seed{split_seed}"


def write_splits(folder: str | Path, splits: dict[str, list[str]]) -> None:
    """Write each split as ``<folder>/<name>.txt``, one observation id per line, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, ids in splits.items():
        partial = folder / f"{name}.txt.partial"
        partial.write_text("".join(f"{i}\n" for i in ids))
        partial.replace(folder / f"{name}.txt")


def read_split(root: str | Path, name: str, split_seed: int | None = None) -> list[str]:
    """Observation ids of split ``name`` (``train``, ``val``, ``test``, ``train_10pct`` …).

    Raises:
        FileNotFoundError: naming the file and the splits that exist.
    """
    path = split_folder(root, split_seed) / f"{name}.txt"
    if not path.is_file():
        existing = sorted(p.stem for p in path.parent.glob("*.txt"))
        raise FileNotFoundError(f"{path}: no such split; available splits: {existing}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
