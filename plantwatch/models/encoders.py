"""Encoders: built offline by segmentation-models-pytorch, weights from local files only.

``build_encoder`` never asks a hub for weights (``weights=None``). ``load_encoder_weights``
takes a plain state dict (``.safetensors``, ``.pt``/``.pth``), a Lightning checkpoint
(``.ckpt``; the ``model.encoder.`` prefixes are stripped; of a late-fusion model, the optical
image's branch is taken, so the S2 branch of a fused model goes into an S2-only one) or a zoo
folder holding ``encoder.safetensors`` and a ``card.yaml`` that names its bands. When the
checkpoint was trained on other bands than the model's, the first convolution is adapted *by
band name*: kernels of shared bands are copied, new bands get the mean kernel of the old
ones, and a warning lists what changed.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import segmentation_models_pytorch as smp
import torch
import yaml
from torch import nn

from plantwatch.bands import L2A_BAND_NAMES
from plantwatch.errors import UserError
from plantwatch.files.checkpoints import load_checkpoint
from plantwatch.scalar_modalities import SCALAR_MODALITIES

ZOO_WEIGHTS = "encoder.safetensors"
LEGACY_ZOO_WEIGHTS = "encoder.pt"  # entries of plantwatch before safetensors
ZOO_CARD = "card.yaml"
ZOO_DIR_ENV = "PLANTWATCH_ZOO"  # the zoo folder; default ./models


def build_encoder(name: str, in_channels: int, depth: int = 5) -> nn.Module:
    """An smp encoder with random weights and ``in_channels`` input bands."""
    return smp.encoders.get_encoder(name, in_channels=in_channels, depth=depth, weights=None)


def encoder_state(
    raw: Mapping[str, torch.Tensor], branch: str = "image"
) -> dict[str, torch.Tensor]:
    """The encoder's entries of a model or checkpoint state dict, prefixes removed; of a
    late-fusion encoder (``models/fusion.py``), those of modality ``branch``."""
    marker = "encoder."
    nested = {k[k.index(marker) + len(marker) :]: v for k, v in raw.items() if marker in k}
    state = nested or dict(raw)
    if not any(k.startswith("branches.") for k in state):
        return state
    prefix = f"branches.{branch}."
    picked = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    if not picked:
        found = sorted({k.split(".")[1] for k in state if k.startswith("branches.")})
        raise UserError(
            f"a late-fusion checkpoint without a {branch!r} branch (it has {found}); "
            "choose one of those with --branch"
        )
    return picked


def read_weights(path: Path) -> dict[str, Any]:
    """A weights file: ``.safetensors`` (tensors only, by construction) or a torch file read
    with `load_checkpoint` (local, tensors and plain values only)."""
    if path.suffix == ".safetensors":
        try:
            return safetensors.torch.load_file(path)
        except (OSError, safetensors.SafetensorError) as error:
            raise UserError(f"{path}: not a readable safetensors file ({error})") from None
    return load_checkpoint(path, "encoder checkpoint")


def zoo_dir() -> Path:
    """The zoo folder: ``$PLANTWATCH_ZOO`` or ``./models``."""
    return Path(os.environ.get(ZOO_DIR_ENV, "models"))


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def task_bands(hparams: Mapping[str, Any]) -> list[str]:
    """A task's optical bands from its hyperparameters (None there: the 12 L2A bands)."""
    return list(hparams.get("bands") or L2A_BAND_NAMES)


def has_branches(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether a state dict holds one encoder per modality (late fusion, cross-modal)."""
    return any(k.startswith("branches.") or ".branches." in k for k in state)


def input_channels(
    hparams: Mapping[str, Any], branch: str = "image", branched: bool = False
) -> list[str]:
    """Names of a task's encoder input channels from its hyperparameters: the bands (of
    ``branch`` when the task has an encoder per modality: late fusion, or ``branched``), the
    further spatial channels of early fusion, and the scalar channels (``aux_0`` …,
    ``season``, ``climate_zone_0`` …) where they are fused."""
    extras = dict(hparams.get("extra_modalities") or {})
    late = bool(extras) and (branched or hparams.get("fusion", "early") == "late")
    uses_image = hparams.get("use_image", True)
    channels = task_bands(hparams) if uses_image else []
    if late and branch != "image":
        channels = list(extras[branch])
    elif not late:
        channels += [c for names in extras.values() for c in names]
    first = "image" if uses_image else next(iter(extras), "image")
    if not late or branch == first:
        for key in hparams.get("scalar_modalities") or []:
            size = SCALAR_MODALITIES[key] or int(hparams.get("aux_features", 0))
            channels += [key] if size == 1 else [f"{key}_{i}" for i in range(size)]
    return channels


def recorded_statistics(
    weights: Mapping[str, torch.Tensor], hparams: Mapping[str, Any]
) -> dict[str, tuple[float, float]]:
    """(mean, std) by channel name from a task's normalisation buffers (``tasks/base.py``):
    the bands and further spatial channels; empty when the task never took statistics."""
    if not bool(weights.get("normalization_set", torch.tensor(False))):
        return {}
    names = task_bands(hparams)
    names += [c for v in (hparams.get("extra_modalities") or {}).values() for c in v]
    means = [*weights["input_mean"].tolist(), *weights.get("extra_mean", torch.zeros(0)).tolist()]
    stds = [*weights["input_std"].tolist(), *weights.get("extra_std", torch.zeros(0)).tolist()]
    return {n: (m, s) for n, m, s in zip(names, means, stds, strict=False)}


def _resolve(source: str | Path) -> Path:
    """A path, or the zoo entry of that name when no such path exists."""
    path = Path(source)
    zoo_entry = zoo_dir() / str(source)
    return zoo_entry if not path.exists() and zoo_entry.is_dir() else path


def read_card(folder: Path) -> dict[str, Any]:
    """A zoo entry's card, after checking its weights against the card's sha256.

    Raises:
        ValueError: when the card records no checksum or another one than the weights have.
    """
    card = yaml.safe_load((folder / ZOO_CARD).read_text()) or {}
    recorded, actual = card.get("sha256"), sha256(folder / ZOO_WEIGHTS)
    if recorded != actual:
        raise ValueError(
            f"{folder}: {ZOO_WEIGHTS} has sha256 {actual[:12]}…, the card records "
            f"{str(recorded)[:12]}…; the weights were changed or the card is stale — refused "
            "(export the entry again with plantwatch zoo export)"
        )
    return card


def read_encoder_checkpoint(source: str | Path) -> tuple[dict[str, torch.Tensor], list[str] | None]:
    """Read encoder weights and, where recorded, their band names (see `read_encoder`)."""
    state, bands, _ = read_encoder(source)
    return state, bands


def read_encoder(
    source: str | Path,
) -> tuple[dict[str, torch.Tensor], list[str] | None, dict[str, tuple[float, float]]]:
    """Read encoder weights, their channel names and normalisation, each where recorded.

    Args:
        source: a ``.pt``/``.pth`` state dict, a Lightning ``.ckpt``, a zoo folder, or the
            name of a zoo folder under ``$PLANTWATCH_ZOO`` (default ``./models``).

    Returns:
        (encoder state dict, channel names or None, (mean, std) by channel — a zoo card's or
        a Lightning checkpoint's normalisation buffers, empty for a plain state dict).

    Raises:
        FileNotFoundError: naming the path and what was expected there.
    """
    path = _resolve(source)
    bands: list[str] | None = None
    statistics: dict[str, tuple[float, float]] = {}
    if path.is_dir():
        card = path / ZOO_CARD
        if (path / LEGACY_ZOO_WEIGHTS).is_file() and not (path / ZOO_WEIGHTS).is_file():
            raise FileNotFoundError(
                f"{path}: a zoo entry of an older plantwatch ({LEGACY_ZOO_WEIGHTS}); convert it "
                f"with plantwatch zoo import {path} NAME"
            )
        if not card.is_file() or not (path / ZOO_WEIGHTS).is_file():
            raise FileNotFoundError(f"{path}: a zoo folder holds {ZOO_CARD} and {ZOO_WEIGHTS}")
        card = read_card(path)
        bands = card.get("bands")
        recorded = card.get("normalisation") or {}
        pairs = zip(recorded.get("mean", []), recorded.get("std", []), strict=True)
        statistics = dict(zip(recorded.get("channels", []), pairs, strict=True))
        path = path / ZOO_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such encoder checkpoint; give a .safetensors/.pt/.pth state dict, a "
            f"Lightning .ckpt, or a folder under models/ with {ZOO_CARD} and {ZOO_WEIGHTS}"
        )
    raw = read_weights(path)
    if "state_dict" in raw:  # Lightning checkpoint
        raw, hparams = raw["state_dict"], raw.get("hyper_parameters", {})
        bands = bands or input_channels(hparams, branched=has_branches(raw)) or None
        statistics = statistics or recorded_statistics(raw, hparams)
    return encoder_state(raw), bands, statistics


def _adapt_first_conv(
    state: dict[str, torch.Tensor],
    encoder: nn.Module,
    source_bands: Sequence[str],
    target_bands: Sequence[str],
) -> dict[str, torch.Tensor]:
    """Rewrite the first convolution of ``state`` from ``source_bands`` to ``target_bands``."""
    own = encoder.state_dict()
    key = next(k for k, v in state.items() if v.ndim == 4 and v.shape[1] == len(source_bands))
    weight = state[key]
    adapted = weight.mean(dim=1, keepdim=True).repeat(1, len(target_bands), 1, 1).clone()
    for i, band in enumerate(target_bands):
        if band in source_bands:
            adapted[:, i] = weight[:, list(source_bands).index(band)]
    adapted *= len(source_bands) / len(target_bands)  # keep the activation scale
    if own[key].shape != adapted.shape:
        raise ValueError(
            f"first convolution {key}: checkpoint {tuple(adapted.shape)} "
            f"vs model {tuple(own[key].shape)}"
        )
    new = [b for b in target_bands if b not in source_bands]
    dropped = [b for b in source_bands if b not in target_bands]
    warnings.warn(
        f"encoder checkpoint was trained on bands {list(source_bands)}; adapted the first "
        f"convolution to {list(target_bands)} by name (new: {new}, dropped: {dropped})",
        stacklevel=3,
    )
    return {**state, key: adapted}


def load_encoder_weights(
    encoder: nn.Module,
    source: str | Path,
    bands: Sequence[str],
    source_bands: Sequence[str] | None = None,
) -> dict[str, tuple[float, float]]:
    """Load weights into ``encoder``, adapting the first convolution by band name if needed;
    returns the normalisation the weights were trained with (`read_encoder`).

    Args:
        encoder: the encoder to load into (its input has ``len(bands)`` channels).
        source: a state dict file, a Lightning checkpoint or a zoo folder.
        bands: the band names of the model's input, in order.
        source_bands: the checkpoint's band names when it does not record them itself.
    """
    state, recorded, statistics = read_encoder(source)
    source_bands = list(source_bands or recorded or bands)
    if list(source_bands) != list(bands):
        state = _adapt_first_conv(state, encoder, source_bands, bands)
    # nn.Module's own method: some smp encoders override load_state_dict and return nothing.
    missing, unexpected = nn.Module.load_state_dict(encoder, state, strict=False)
    unexpected = [k for k in unexpected if not k.startswith("fc.")]  # ImageNet classifiers
    if missing or unexpected:
        raise ValueError(
            f"{source}: encoder weights do not fit this encoder (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); was it trained with another encoder architecture?"
        )
    return statistics
