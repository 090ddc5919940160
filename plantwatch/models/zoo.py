"""The model zoo: encoders with a card, carried from one training to the next.

An entry is a folder ``<zoo>/<name>/`` (zoo: ``$PLANTWATCH_ZOO``, default ``./models``)::

    encoder.pt    the encoder's state dict (a plain smp encoder)
    card.yaml     name, method (the task class), encoder architecture, input channels in
                  order, normalisation (mean and std per channel), data, epochs, metrics,
                  the config that made it, and the sha256 of encoder.pt

``plantwatch zoo export RUN_OR_CKPT NAME`` writes one from a run folder (its best
checkpoint) or a Lightning checkpoint; ``plantwatch zoo list`` prints the table. Configs name
an entry as ``encoder_checkpoint: NAME``; a card whose checksum does not match its weights is
refused (``models/encoders.py``), and fine-tuning normalises the channels the card records
with the card's statistics unless told otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml
from torch import nn

from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic
from plantwatch.files.checkpoints import checkpoint_callback_states, load_checkpoint
from plantwatch.files.ids import checked_id, inside
from plantwatch.models.encoders import (
    ZOO_CARD,
    ZOO_WEIGHTS,
    build_encoder,
    encoder_state,
    has_branches,
    input_channels,
    recorded_statistics,
    sha256,
    zoo_dir,
)

STUDY_METRICS = "metrics.json"  # written by the study worker next to the run's checkpoints


def best_checkpoint(source: Path) -> Path:
    """A run folder's best checkpoint (``checkpoints/best.ckpt``; in runs before it existed,
    the one its last.ckpt records), or ``source`` itself."""
    if source.is_file():
        return source
    if (source / "checkpoints" / "best.ckpt").is_file():
        return source / "checkpoints" / "best.ckpt"
    last = source / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise UserError(f"{source}: no checkpoints/last.ckpt; give a run folder or a .ckpt")
    for value in checkpoint_callback_states(load_checkpoint(last)):
        recorded = value.get("best_model_path")
        if not recorded:
            continue
        for candidate in (Path(recorded), source / "checkpoints" / Path(recorded).name):
            if candidate.is_file():
                return candidate
    return last


def export_encoder(source: str | Path, name: str, branch: str = "image",
                   zoo: str | Path | None = None, overwrite: bool = False) -> Path:  # fmt: skip
    """Write the encoder of a run or checkpoint (of a late-fusion model: ``branch``) as zoo
    entry ``name``; returns its folder. The weights are first loaded into the architecture
    the card will name, so a card never claims an encoder its weights do not fit.

    Raises:
        UserError: an unsafe name, an existing entry (unless ``overwrite``), an unreadable
            checkpoint, or weights that do not fit the recorded architecture.
    """
    name = checked_id(name, "zoo entry name", "plantwatch zoo export NAME")
    checkpoint = best_checkpoint(Path(source))
    state = load_checkpoint(checkpoint)
    if not isinstance(state.get("state_dict"), dict):
        raise UserError(f"{checkpoint}: no state_dict; give a Lightning checkpoint or a run folder")
    hparams = dict(state.get("hyper_parameters", {}))
    weights = state["state_dict"]
    channels = input_channels(hparams, branch, branched=has_branches(weights))
    encoder = encoder_state(weights, branch)
    architecture = str(hparams.get("encoder", "resnet18"))
    _check_fits(encoder, architecture, len(channels), checkpoint)
    statistics = recorded_statistics(weights, hparams)
    shown = [c for c in channels if c in statistics]
    normalisation = {"channels": shown, "mean": [statistics[c][0] for c in shown],
                     "std": [statistics[c][1] for c in shown]} if shown else None  # fmt: skip
    folder = inside(Path(zoo or zoo_dir()), name)
    if folder.exists() and not overwrite:
        raise UserError(f"{folder}: the zoo has an entry {name!r}; choose another name "
                        "or pass --overwrite")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{ZOO_WEIGHTS}.partial"
    torch.save(encoder, partial)
    partial.replace(folder / ZOO_WEIGHTS)
    run = checkpoint.parent.parent
    config = run / "config.yaml"
    settings = (yaml.safe_load(config.read_text()) or {}) if config.is_file() else {}
    metrics = run / STUDY_METRICS
    card = {
        "name": name,
        "method": _method(settings),
        "encoder": architecture,
        "branch": branch,
        "bands": channels,
        "normalisation": normalisation,
        "data": _data(settings),
        "epochs": int(state.get("epoch", -1)) + 1,
        "steps": int(state.get("global_step", 0)),
        "metrics": json.loads(metrics.read_text()) if metrics.is_file() else _scores(state),
        "checkpoint": str(checkpoint),
        "config": config.read_text() if config.is_file() else None,
        "sha256": sha256(folder / ZOO_WEIGHTS),
    }
    write_text_atomic(folder / ZOO_CARD, yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    return folder


def _check_fits(
    state: Mapping[str, torch.Tensor], architecture: str, channels: int, checkpoint: Path
) -> None:
    """Refuse weights that do not load, strictly, into ``architecture`` with ``channels``."""
    try:
        encoder = build_encoder(architecture, channels)
        nn.Module.load_state_dict(encoder, dict(state), strict=True)
    except (KeyError, RuntimeError, ValueError) as error:
        reason = str(error).split("\n")[0][:200]
        raise UserError(
            f"{checkpoint}: its encoder weights do not fit a {architecture} encoder with "
            f"{channels} input channels, as its hyperparameters say ({reason}); export a "
            "checkpoint of plantwatch's own training"
        ) from None


def _method(settings: Mapping[str, Any]) -> str:
    model = settings.get("model")
    if isinstance(model, dict) and "class_path" in model:
        return str(model["class_path"]).rsplit(".", 1)[-1]
    return "unknown (no config.yaml beside the run's checkpoints)"


def _data(settings: Mapping[str, Any]) -> dict[str, Any]:
    data = (settings.get("data") or {}).get("init_args", {})
    if not data:
        return {}
    dataset = data.get("dataset") or {}
    return {"root": data.get("root"), "dataset": dataset.get("class_path"),
            "label_fraction": data.get("label_fraction")}  # fmt: skip


def _scores(state: Mapping[str, Any]) -> dict[str, float]:
    for value in checkpoint_callback_states(state):
        if value.get("best_model_score") is not None:
            return {str(value.get("monitor")): float(value["best_model_score"])}
    return {}


def list_zoo(zoo: str | Path | None = None) -> pd.DataFrame:
    """One row per entry: name, method, encoder, channels, data root, epochs, size (MB) and
    whether the weights match the card's checksum."""
    rows = []
    for card_path in sorted(Path(zoo or zoo_dir()).glob(f"*/{ZOO_CARD}")):
        try:
            card = yaml.safe_load(card_path.read_text())
        except yaml.YAMLError:
            card = None
        if not isinstance(card, dict):
            rows.append({"name": card_path.parent.name, "checksum": "UNREADABLE card"})
            continue
        weights = card_path.parent / ZOO_WEIGHTS
        rows.append({
            "name": card_path.parent.name, "method": card.get("method"),
            "encoder": card.get("encoder"), "channels": len(card.get("bands") or []),
            "data": (card.get("data") or {}).get("root"), "epochs": card.get("epochs"),
            "MB": round(weights.stat().st_size / 1e6, 1) if weights.is_file() else None,
            "checksum": "ok" if weights.is_file() and card.get("sha256") == sha256(weights)
            else "MISMATCH",
        })  # fmt: skip
    return pd.DataFrame(rows)
