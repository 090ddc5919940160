"""The configs that ship inside the package, found by name from any folder.

``--config quickstart`` is the multitask model on the built-in synthetic benchmark (what
``plantwatch demo`` runs); ``cpu``, ``gpu`` and ``ddp`` are trainer presets to stack after a
config that names the data (``--config quickstart --config gpu``). A file of the given path
wins over a bundled name, so ``--config my/quickstart.yaml`` is always that file. The research
configs (data and model presets, studies) live in the repository's ``experiments/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

CONFIGS = resources.files("plantwatch") / "configs"


def bundled_names() -> list[str]:
    """The names of the bundled configs: ``cpu``, ``ddp``, ``gpu``, ``quickstart``."""
    names = (p.name for p in CONFIGS.iterdir())
    return sorted(name.removesuffix(".yaml") for name in names if name.endswith(".yaml"))


def config_path(value: str) -> str:
    """``value`` if it is a file; else the bundled config it names (``quickstart`` or
    ``quickstart.yaml``); else ``value`` (the CLI reports a missing file)."""
    if Path(value).is_file():
        return value
    bundled = CONFIGS / f"{value.removesuffix('.yaml')}.yaml"
    return str(bundled) if "/" not in value and bundled.is_file() else value


def with_bundled_configs(args: Sequence[str]) -> list[str]:
    """Command-line ``args`` with each ``--config NAME`` / ``--config=NAME`` / ``-c NAME``
    of a bundled config replaced by its path."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg.startswith("--config="):
            arg = "--config=" + config_path(arg.removeprefix("--config="))
        elif i > 0 and args[i - 1] in ("--config", "-c"):
            arg = config_path(arg)
        out.append(arg)
    return out
