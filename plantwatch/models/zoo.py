"""The model zoo: encoders with a card, carried from one training to the next.

An entry is a folder ``<zoo>/<name>/`` (zoo: ``$PLANTWATCH_ZOO``, default ``./models``)::

    encoder.safetensors  the encoder's state dict (a plain smp encoder; tensors only)
    card.yaml            name, method, encoder architecture, input channels in order,
                         normalisation (mean and std per channel, in data units), data,
                         licence, epochs, metrics, the k-NN probe of a pretraining run, the
                         config or file that made it, and the sha256 of encoder.safetensors

``plantwatch zoo export RUN_OR_CKPT NAME`` writes one from a run folder (its best
checkpoint) or a Lightning checkpoint; ``plantwatch zoo import FILE NAME`` from weights
trained elsewhere (``--preset ssl4eo-s12-resnet18-moco`` …, ``models/community_weights.py``)
or an entry of an older plantwatch (``encoder.pt``); ``plantwatch zoo list`` prints the
table. Configs name an entry as ``encoder_checkpoint: NAME``; a card whose checksum does not
match its weights is refused (``models/encoders.py``), and fine-tuning normalises the
channels the card records with the card's statistics unless told otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import safetensors.torch
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from plantwatch.errors import UserError
from plantwatch.files.atomic import write_text_atomic
from plantwatch.files.checkpoints import checkpoint_callback_states, load_checkpoint
from plantwatch.files.ids import checked_id, inside
from plantwatch.models.community_weights import PRESETS, check_name_hash, encoder_keys
from plantwatch.models.encoders import (
    LEGACY_ZOO_WEIGHTS,
    ZOO_CARD,
    ZOO_WEIGHTS,
    build_encoder,
    encoder_state,
    has_branches,
    input_channels,
    read_weights,
    recorded_statistics,
    sha256,
    zoo_dir,
)

# The validation k-NN probe of a pretraining run (tasks/knn_probe.py), kept on its card.
PROBE_SCORES = ("val/knn_accuracy", "val/knn_chance")
STUDY_METRICS = "metrics.json"  # written by the study worker next to the run's checkpoints
OWN_LICENCE = "the terms of its training data (plantwatch's synthetic data: MIT)"


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
                   zoo: str | Path | None = None, overwrite: bool = False,
                   licence: str = OWN_LICENCE) -> Path:  # fmt: skip
    """Write the encoder of a run or checkpoint (of a late-fusion model: ``branch``) as zoo
    entry ``name``; returns its folder. The weights are first loaded into the architecture
    the card will name, so a card never claims an encoder its weights do not fit.

    Raises:
        UserError: an unsafe name, an existing entry (unless ``overwrite``), an unreadable
            checkpoint, or weights that do not fit the recorded architecture.
    """
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
    folder = _entry_folder(name, zoo, overwrite)
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
        "licence": licence,
        "epochs": int(state.get("epoch", -1)) + 1,
        "steps": int(state.get("global_step", 0)),
        "metrics": json.loads(metrics.read_text()) if metrics.is_file() else _scores(state),
        "probe": logged_scores(run, int(state.get("global_step", 0)), PROBE_SCORES),
        "checkpoint": str(checkpoint),
        "config": config.read_text() if config.is_file() else None,
    }
    return _write_entry(folder, encoder, card)


def import_encoder(
    source: str | Path, name: str, preset: str | None = None, *, encoder: str | None = None,
    bands: Sequence[str] | None = None, mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None, method: str | None = None, data: str | None = None,
    licence: str | None = None, zoo: str | Path | None = None, overwrite: bool = False,
) -> Path:  # fmt: skip
    """Write weights trained elsewhere as zoo entry ``name``; returns its folder.

    Args:
        source: a state dict file (``.pth``/``.pt``/``.safetensors``; training prefixes and
            classification heads are dropped) or a zoo entry of an older plantwatch
            (a folder with ``encoder.pt`` and ``card.yaml``, whose card supplies the rest).
        name: the entry's name (configs use it as ``encoder_checkpoint``).
        preset: a `PRESETS` name that declares encoder, bands, normalisation, method, data
            and licence; the other arguments override it.
        encoder: smp encoder name the weights fit (``resnet18``).
        bands: the input bands in the order of the first convolution's channels.
        mean, std: the input normalisation per band in data units (one value: every band).
        method, data, licence: what the card says of the weights.

    Raises:
        UserError: an unknown preset, a missing declaration, a file whose name-hash does not
            match, weights that do not fit the encoder, or an existing entry.
    """
    source = Path(source)
    declared = _declaration(source, preset)
    given = {"encoder": encoder, "bands": list(bands) if bands else None, "method": method,
             "data": data, "licence": licence}  # fmt: skip
    declared.update({k: v for k, v in given.items() if v is not None})
    missing = [k for k in ("encoder", "bands") if not declared.get(k)]
    if missing:
        flags = " ".join(f"--{k}" for k in missing)
        raise UserError(f"{source}: say the weights' {' and '.join(missing)} ({flags}) or "
                        f"a --preset ({', '.join(PRESETS)})")  # fmt: skip
    channels = list(declared["bands"])
    normalisation = _normalisation(channels, mean, std, declared.get("normalisation"))
    weights_file = source / LEGACY_ZOO_WEIGHTS if source.is_dir() else source
    digest = check_name_hash(weights_file)
    state = encoder_keys(read_weights(weights_file))
    _check_fits(state, declared["encoder"], len(channels), weights_file)
    card = {
        "name": name, "method": declared.get("method"), "encoder": declared["encoder"],
        "branch": "image", "bands": channels, "normalisation": normalisation,
        "data": declared.get("data"), "licence": declared.get("licence"),
        "source": declared.get("source"), "imported_from": str(source),
        "imported_sha256": digest,
    }  # fmt: skip
    return _write_entry(_entry_folder(name, zoo, overwrite), state, card)


def _declaration(source: Path, preset: str | None) -> dict[str, Any]:
    """What is known of ``source`` before the arguments: a preset's or a legacy card's."""
    if preset is not None:
        if preset not in PRESETS:
            raise UserError(f"--preset {preset}: unknown; known presets: {', '.join(PRESETS)}")
        chosen = PRESETS[preset]
        return {"encoder": chosen.encoder, "bands": list(chosen.bands), "method": chosen.method,
                "data": chosen.data, "licence": chosen.licence, "source": chosen.source,
                "normalisation": {"channels": list(chosen.bands), "mean": list(chosen.mean),
                                  "std": list(chosen.std)}}  # fmt: skip
    if source.is_dir():
        if not (source / ZOO_CARD).is_file() or not (source / LEGACY_ZOO_WEIGHTS).is_file():
            raise UserError(f"{source}: a folder to import is an older zoo entry with "
                            f"{ZOO_CARD} and {LEGACY_ZOO_WEIGHTS}")  # fmt: skip
        card = _read_card(source / ZOO_CARD)
        if card.get("sha256") != sha256(source / LEGACY_ZOO_WEIGHTS):
            raise UserError(f"{source}: {LEGACY_ZOO_WEIGHTS} does not match its card's sha256; "
                            "refused (export the entry again from its run)")  # fmt: skip
        return {k: card.get(k) for k in ("encoder", "bands", "method", "data", "licence",
                                         "normalisation")}  # fmt: skip
    return {}


def _read_card(path: Path) -> dict[str, Any]:
    try:
        card = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        card = None
    if not isinstance(card, dict):
        raise UserError(f"{path}: not a readable card (a YAML mapping)")
    return card


def _normalisation(
    channels: list[str], mean: Sequence[float] | None, std: Sequence[float] | None,
    declared: Mapping[str, Any] | None,
) -> dict[str, Any] | None:  # fmt: skip
    """The card's normalisation: ``mean``/``std`` (one value or one per band) over the
    declared one; None where nothing says it."""
    if mean is None and std is None:
        return dict(declared) if declared else None
    if mean is None or std is None:
        raise UserError("give --mean and --std together (data units, one value or one a band)")
    values = []
    for what, given in (("mean", list(mean)), ("std", list(std))):
        if len(given) not in (1, len(channels)):
            raise UserError(f"--{what}: {len(given)} values for {len(channels)} bands")
        values.append(given * len(channels) if len(given) == 1 else given)
    return {"channels": channels, "mean": values[0], "std": values[1]}


def _entry_folder(name: str, zoo: str | Path | None, overwrite: bool) -> Path:
    name = checked_id(name, "zoo entry name", "plantwatch zoo NAME")
    folder = inside(Path(zoo or zoo_dir()), name)
    if folder.exists() and not overwrite:
        raise UserError(f"{folder}: the zoo has an entry {name!r}; choose another name "
                        "or pass --overwrite")  # fmt: skip
    return folder


def _write_entry(folder: Path, state: Mapping[str, torch.Tensor], card: dict[str, Any]) -> Path:
    """Write ``encoder.safetensors`` and then the card with its sha256 (each replaced whole)."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".partial.{ZOO_WEIGHTS}"
    safetensors.torch.save_file({k: v.detach().contiguous() for k, v in state.items()}, partial)
    partial.replace(folder / ZOO_WEIGHTS)
    (folder / LEGACY_ZOO_WEIGHTS).unlink(missing_ok=True)
    card = {**card, "sha256": sha256(folder / ZOO_WEIGHTS)}
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


def logged_scores(run: Path, step: int, tags: Sequence[str]) -> dict[str, float]:
    """The scalars ``tags`` that a run folder's TensorBoard events logged at training step
    ``step`` or last before it (a checkpoint's step), by tag without its stage; empty where
    the run logged none of them."""
    if not any(run.glob("events.out.tfevents.*")):
        return {}
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    found = {}
    for tag in set(tags) & set(events.Tags()["scalars"]):
        before = [e for e in events.Scalars(tag) if e.step <= step]
        if before:
            found[tag.rsplit("/", 1)[-1]] = round(float(before[-1].value), 4)
    return found


def _scores(state: Mapping[str, Any]) -> dict[str, float]:
    for value in checkpoint_callback_states(state):
        if value.get("best_model_score") is not None:
            return {str(value.get("monitor")): float(value["best_model_score"])}
    return {}


def list_zoo(zoo: str | Path | None = None) -> pd.DataFrame:
    """One row per entry: name, method, encoder, channels, data root, epochs, size (MB) and
    whether the weights match the card's checksum (an entry of an older plantwatch: the
    command that converts it)."""
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
        if not weights.is_file() and (card_path.parent / LEGACY_ZOO_WEIGHTS).is_file():
            rows.append({"name": card_path.parent.name, "checksum": "OLD FORMAT: plantwatch "
                         f"zoo import {card_path.parent} {card_path.parent.name} --overwrite"})
            continue
        rows.append({
            "name": card_path.parent.name, "method": card.get("method"),
            "encoder": card.get("encoder"), "channels": len(card.get("bands") or []),
            "data": _data_name(card.get("data")), "epochs": card.get("epochs"),
            **{k: (card.get("probe") or {}).get(k) for k in ("knn_accuracy", "knn_chance")},
            "MB": round(weights.stat().st_size / 1e6, 1) if weights.is_file() else None,
            "checksum": "ok" if weights.is_file() and card.get("sha256") == sha256(weights)
            else "MISMATCH",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _data_name(data: Any) -> Any:
    """A card's data in one cell: the root of plantwatch's own, the text of an import's."""
    return data.get("root") if isinstance(data, dict) else data
