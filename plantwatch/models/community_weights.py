"""Sentinel-2 encoders pretrained by others, as their authors distribute them.

Each is a state dict of a ResNet (timm/torchvision key names: ``conv1``, ``bn1``, ``layer1``…
``fc``) for a declared band order and input scaling. `PRESETS` names those of SSL4EO-S12
(Wang et al. 2023, https://arxiv.org/abs/2211.07044) as torchgeo distributes them: 13 L1C
bands in ESA order (B10 included), reflectance × 10000 divided by 10000 (mean 0, std 10000
per band). ``plantwatch zoo import FILE NAME --preset …`` turns such a file into a zoo entry;
the plant model then loads it by band name (B10 dropped, B8A matched, see
``models/encoders.py``) and normalises its input as the preset declares.

torchgeo names each file with the first hex digits of its sha256 (``…_moco-59bfdff9.pth``),
as torch.hub does; `check_name_hash` refuses a file whose content does not start with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from plantwatch.bands import L1C_BAND_NAMES
from plantwatch.errors import UserError
from plantwatch.models.encoders import sha256

# Prefixes that training code leaves on encoder keys (DDP, MoCo's query encoder, backbones).
KEY_PREFIXES = ("module.", "encoder_q.", "backbone.", "encoder.", "model.")
CLASSIFIER = ("fc.", "head.", "classifier.")  # classification heads, not part of the encoder
SSL4EO_SCALE = 10000.0  # SSL4EO-S12 Sentinel-2 weights read reflectance × 10000 / 10000


@dataclass(frozen=True)
class WeightsPreset:
    """What a distributed file of weights is: its encoder, bands and input scaling.

    Attributes:
        encoder: the smp encoder name its keys fit (``resnet18``, ``resnet50``).
        bands: input band names in the order of the first convolution's channels.
        mean, std: the input normalisation per band, in the units of the data (DN).
        method: the pretraining method (``MoCo v3``, ``DINO``).
        data: the pretraining data.
        licence: the weights' licence as the distributor states it.
        source: where to get the file.
    """

    encoder: str
    bands: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    method: str
    data: str
    licence: str
    source: str


def _ssl4eo(encoder: str, method: str, file: str) -> WeightsPreset:
    bands = L1C_BAND_NAMES
    return WeightsPreset(
        encoder=encoder, bands=bands, mean=(0.0,) * len(bands), std=(SSL4EO_SCALE,) * len(bands),
        method=f"{method} (self-supervised)",
        data="SSL4EO-S12: 251k locations × 4 seasons of Sentinel-2 L1C, 264 px patches",
        licence="CC-BY-4.0 (SSL4EO-S12; see the model card where you download it)",
        source=f"https://hf.co/torchgeo (torchgeo.models, file {file})",
    )  # fmt: skip


PRESETS: dict[str, WeightsPreset] = {
    "ssl4eo-s12-resnet18-moco": _ssl4eo("resnet18", "MoCo", "resnet18_sentinel2_all_moco-*.pth"),
    "ssl4eo-s12-resnet50-moco": _ssl4eo("resnet50", "MoCo", "resnet50_sentinel2_all_moco-*.pth"),
    "ssl4eo-s12-resnet50-dino": _ssl4eo("resnet50", "DINO", "resnet50_sentinel2_all_dino-*.pth"),
}


def encoder_keys(raw: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The encoder's tensors of a distributed state dict: a nested ``state_dict`` opened,
    training prefixes removed, classification heads dropped."""
    state = raw.get("state_dict", raw) if isinstance(raw.get("state_dict"), Mapping) else raw
    cleaned: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        while key.startswith(KEY_PREFIXES):
            key = key.split(".", 1)[1]
        if not key.startswith(CLASSIFIER):
            cleaned[key] = value
    return cleaned


def check_name_hash(path: Path) -> str:
    """The file's sha256; refuses a file named ``…-<hex>.pth`` (torch.hub's convention) whose
    sha256 does not start with ``<hex>``.

    Raises:
        UserError: naming the file, both digests and the fix.
    """
    actual = sha256(path)
    named = re.search(r"-([0-9a-f]{8,64})\.[A-Za-z]+$", path.name)
    if named and not actual.startswith(named.group(1)):
        raise UserError(
            f"{path}: its name promises sha256 {named.group(1)}…, its content has "
            f"{actual[:12]}…; the download is incomplete or altered — download it again"
        )
    return actual
