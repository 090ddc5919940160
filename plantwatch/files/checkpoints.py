"""Checkpoints are local files, read as tensors and plain values only.

A checkpoint from elsewhere may be a pickle that runs code when it is loaded. Every
checkpoint that plantwatch reads (``--ckpt_path``, encoder checkpoints, zoo weights, run
folders) goes through `local_checkpoint` and `load_checkpoint`: a URL is refused with the
command that downloads it, a missing file is named, and loading uses
``torch.load(weights_only=True)``, whose unpickler builds tensors, containers and numbers
but never calls a function named in the file. A file it cannot read ends in one
`UserError`, never in advice to load it unsafely.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from plantwatch.errors import UserError

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
GLOBAL = re.compile(r"(?i)unsupported global[^\n]*?(?=\.?\n|\.?$| whose)")


def local_checkpoint(path: str | Path, what: str = "checkpoint") -> Path:
    """``path`` as a local file, or a `UserError`: a URL (``http://``, ``s3://`` …) is
    refused with the command that downloads it; a missing file is named."""
    text = str(path)
    if URL.match(text):
        name = text.rstrip("/").rsplit("/", 1)[-1] or "checkpoint.ckpt"
        raise UserError(
            f"{what} {text}: plantwatch loads checkpoints from local files only (a downloaded "
            f"checkpoint may run code); download it first (curl -L -o {name} '{text}'), check "
            "where it comes from, and pass the file"
        )
    local = Path(text).expanduser()
    if not local.is_file():
        raise UserError(f"{what} {local}: no such file; give the path of a .ckpt or .pt file")
    return local


def load_checkpoint(path: str | Path, what: str = "checkpoint") -> dict[str, Any]:
    """The content of a local checkpoint, loaded with ``weights_only=True`` onto the CPU
    (tensors memory-mapped, so a large file costs little until its tensors are read).

    Raises:
        UserError: a URL, a missing file, a file that is no PyTorch checkpoint, or one that
            holds Python objects (which would run code when unpickled).
    """
    local = local_checkpoint(path, what)
    try:
        content = _load(local)
    except pickle.UnpicklingError as error:
        found = GLOBAL.search(str(error))
        if found is None:
            raise UserError(
                f"{what} {local}: not a readable PyTorch checkpoint ({str(error)[-120:]}); is "
                "it a .ckpt or .pt file, and complete?"
            ) from None
        reason = found.group(0)
        raise UserError(
            f"{what} {local}: refused, it holds Python objects ({reason}); loading it could "
            "run code. Re-save its state dict from code you "
            "trust, or use a checkpoint written by plantwatch"
        ) from None
    except Exception as error:  # a hostile or broken file may fail anywhere in the unpickler
        reason = f"{type(error).__name__}: {str(error)[:160]}"
        raise UserError(
            f"{what} {local}: not a readable PyTorch checkpoint ({reason}); is it a .ckpt or "
            ".pt file, and complete?"
        ) from None
    if not isinstance(content, dict):
        raise UserError(f"{what} {local}: holds a {type(content).__name__}, not a state dict")
    return content


def _load(path: Path) -> Any:
    try:  # memory-mapped where the format allows it (files written by torch ≥ 1.6)
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as error:
        if "mmap" not in str(error):
            raise
    return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_callback_states(checkpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """The saved states (``best_model_path``, ``best_model_score``, ``monitor``, …) of a
    Lightning checkpoint's checkpoint callbacks: ``ModelCheckpoint`` and plantwatch's
    ``BestCheckpoint`` (state keys start with the class name)."""
    kinds = ("ModelCheckpoint", "BestCheckpoint")
    return [value for key, value in checkpoint.get("callbacks", {}).items()
            if key.startswith(kinds) and isinstance(value, dict)]  # fmt: skip
