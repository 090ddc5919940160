"""The package's imports keep the layers of docs/architecture.md: read with `ast`, every
import (module level or inside a function) must go to the same layer or one it may use,
and no chain of imports may lead back to where it started."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "plantwatch"
TOP = {"cli", "demo", "bench"}  # the commands: they may use everything
GROUND = {"files"}  # sub-packages of the ground floor
# layer → the layers it may import (besides itself). The ground floor (plantwatch/*.py:
# bands, physics, the task registry, scalar modalities, errors; files/: ids, tables,
# atomic writes, archives, checkpoints) and the package root (its version) are open to all.
ALLOWED: dict[str, set[str]] = {
    "ground": set(),
    "data": set(),
    "models": set(),
    "sources": {"data"},
    "estimates": {"data", "sources"},
    "tasks": {"data", "models", "estimates"},
    "training": {"data", "models", "tasks", "estimates"},
    "report": {"data", "sources", "estimates"},
    "selection": {"data", "models", "tasks", "training"},
    "studies": {"data", "models", "tasks", "training", "estimates", "sources", "report",
                "selection"},
    "top": {"data", "models", "tasks", "training", "estimates", "sources", "report",
            "selection", "studies"},
}


def layer(module: str) -> str:
    """``plantwatch.data.format.writer`` → ``data``; ``plantwatch.bands`` → ``ground``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    if len(parts) == 2:
        return "top" if parts[1] in TOP else "ground"
    return "ground" if parts[1] in GROUND else parts[1]


def package_sources() -> dict[str, str]:
    """Source text of every module of the package, by dotted name."""
    sources = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        sources[name.removesuffix(".__init__")] = path.read_text()
    return sources


def imports(source: str, known: set[str]) -> set[str]:
    """The plantwatch modules a source imports (``from plantwatch import x`` → ``plantwatch.x``;
    ``from plantwatch.a import f`` → ``plantwatch.a``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "plantwatch"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "plantwatch":
                continue
            submodules = {f"{node.module}.{a.name}" for a in node.names} & known
            found |= submodules or {node.module}
    return found


def violations(sources: dict[str, str]) -> list[str]:
    """``module → imported`` for every import that leaves the module's allowed layers."""
    known = set(sources)
    bad = []
    for module, source in sorted(sources.items()):
        own = layer(module)
        for target in sorted(imports(source, known)):
            other = layer(target)
            if other not in {own, "ground", "root"} and other not in ALLOWED[own]:
                bad.append(f"{module} ({own}) → {target} ({other})")
            elif own == "ground" and other not in {"ground", "root"}:
                bad.append(f"{module} ({own}) → {target} ({other})")
    return bad


def cycles(sources: dict[str, str]) -> list[list[str]]:
    """Every import cycle among the modules (each found once, from its first module)."""
    known = set(sources)
    graph = {m: sorted(imports(s, known) & known - {m}) for m, s in sources.items()}
    found, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in graph[module]:
            if state[target] == 1:
                found.append([*path[path.index(target):], target])
            elif state[target] == 0:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if state[module] == 0:
            visit(module, [module])
    return found


def test_every_import_keeps_the_layers():
    assert violations(package_sources()) == []


def test_no_module_imports_itself_back():
    assert cycles(package_sources()) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    sources = package_sources()
    model_uses_task = {**sources, "plantwatch.models.heads": sources["plantwatch.models.heads"]
                       + "\nfrom plantwatch.tasks.registry import TASKS\n"}  # fmt: skip
    assert violations(model_uses_task) == [
        "plantwatch.models.heads (models) → plantwatch.tasks.registry (tasks)"
    ]
    table_uses_data = {**sources, "plantwatch.bands": "from plantwatch.data.format import layout\n"}
    assert violations(table_uses_data) == [
        "plantwatch.bands (ground) → plantwatch.data.format.layout (data)"
    ]
    layout, writer = "plantwatch.data.format.layout", "plantwatch.data.format.writer"
    looped = {**sources, layout: f"from {writer} import x\n"}
    assert [layout, writer, layout] in cycles(looped)


def test_the_old_registry_path_still_works_for_one_release(monkeypatch):
    import importlib
    import sys

    import pytest

    from plantwatch.task_registry import TASKS

    monkeypatch.delitem(sys.modules, "plantwatch.tasks.registry", raising=False)
    with pytest.warns(DeprecationWarning, match="moved to plantwatch.task_registry"):
        old = importlib.import_module("plantwatch.tasks.registry")
    assert old.TASKS is TASKS
