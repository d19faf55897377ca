"""The layering contract: imports point one way, in the engine and in the GUI.

- Engine packages import only downwards (``ALLOWED``), leaves import no package, and the engine
  never imports Qt or the GUI.
- The GUI's own layers import only downwards (``GUI_LAYERS``): a widget never reaches up to a
  panel, a page never to the window, the window's tables (``window_spec``) never to the window.
- No module takes part in an import cycle, inside a package or across packages.

Every ``import`` counts: the lazy ones inside functions and the ones under ``TYPE_CHECKING``
(a lazy import still ties two modules together, and hid six cycles before this test caught
them), ``from engine import training`` and ``from engine.data import arrays`` (the name is
a submodule, so the import is of that submodule), and relative imports (resolved against the
importing module's package).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"
GUI = ROOT / "gui"

# namespace_imports: keep-strings. This test names modules by their place in the repository (engine.x);
# scripts/namespace_imports.py leaves its strings so, and imports read as kiln_lab.engine.x count as engine.x.
PACKAGE = "kiln_lab."

# Leaves everything may use.
LEAVES = {"errors", "events", "schema", "params", "runtime", "environment", "_compat", "paths", "results", "_lazy"}
# Which engine packages each package may import (besides itself and the leaves).
ALLOWED: dict[str, set[str]] = {
    "__init__": set(),
    "data": set(),
    "export": set(),
    "models": {"data", "export"},
    "monitors": {"data", "models"},
    "training": {"data", "models", "export", "monitors"},
    "analysis": {"data", "models", "export", "monitors", "training"},
    # The front door: every task the app and the CLI ask of the engine.
    "api": {"data", "models", "export", "monitors", "training", "analysis"},
    # The worker process serves the front door; its client side (protocol, client) imports no package.
    "worker": {"api", "training"},
    "commands": {"data", "models", "export", "monitors", "training", "analysis", "cli", "api"},
    "cli": {"data", "models", "export", "monitors", "training", "analysis", "commands", "api"},
}
for leaf in LEAVES:
    ALLOWED.setdefault(leaf, set())
FRONT_ENDS = ("PySide6", "pyqtgraph", "gui")

# The GUI's layers, lowest first; a module may import its own layer and those below it.
# "base" is every top-level gui/ module not named here (theme, settings, session, binding,
# workers, plots, training_runner, ...): the plumbing the widgets, panels and pages share.
GUI_LAYERS = ("base", "widgets", "dialogs", "panels", "pages", "window_spec", "main_window", "app", "screenshots")
GUI_FOLDERS = {"widgets", "dialogs", "panels", "pages"}


@dataclass(frozen=True)
class Import:
    line: int
    target: str  # the module imported: a submodule where ``from X import name`` names one
    where: str = ""  # "" at module level; "inside a function" or "under TYPE_CHECKING"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


KNOWN = {_module_name(p): p for folder in (ENGINE, GUI) for p in sorted(folder.rglob("*.py"))}


def _resolve(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The modules one import statement imports, relative ones resolved, submodule names followed."""
    if isinstance(node, ast.Import):
        return [alias.name.removeprefix(PACKAGE) for alias in node.names]
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = (node.module or "").removeprefix(PACKAGE)
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in KNOWN else base for a in node.names]


def _imports_of_source(
    source: str, module: str, *, is_package: bool = False, filename: str = "<probe>"
) -> list[Import]:
    tree = ast.parse(source, filename=filename)
    found: list[Import] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = where or "inside a function"
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = where or "under TYPE_CHECKING"
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.extend(Import(child.lineno, target, where) for target in _resolve(child, module, is_package))
            visit(child, inner)

    visit(tree, "")
    return found


def _imports(path: Path) -> list[Import]:
    return _imports_of_source(
        path.read_text(encoding="utf-8"), _module_name(path), is_package=path.name == "__init__.py", filename=str(path)
    )


def _graph() -> dict[str, list[Import]]:
    return {module: _imports(path) for module, path in KNOWN.items()}


def _where(module: str, imp: Import) -> str:
    path = KNOWN.get(module)
    place = f"{path.relative_to(ROOT)}:{imp.line}" if path else f"{module}:{imp.line}"
    return f"{place}{', ' + imp.where if imp.where else ''}"


# --- the engine's packages ------------------------------------------------------------------


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "engine" or len(parts) < 2:
        return None
    return parts[1]


def _engine_breaches(graph: Mapping[str, list[Import]]) -> list[str]:
    breaches = []
    for module, imports in graph.items():
        own = _package_of(module)
        if own is None:  # engine/__init__.py, and the GUI
            continue
        assert own in ALLOWED, f"engine/{own} is not in the layering contract; add it to ALLOWED in {__file__}"
        for imp in imports:
            other = _package_of(imp.target)
            if other is None or other == own or other in LEAVES or other in ALLOWED[own]:
                continue
            breaches.append(f"{_where(module, imp)} imports {imp.target} ({own} -> {other})")
    return breaches


def test_engine_packages_import_only_downwards() -> None:
    breaches = _engine_breaches({m: i for m, i in _graph().items() if m.startswith("engine")})
    assert not breaches, "Imports against the layering contract:\n" + "\n".join(breaches)


def test_leaves_import_no_other_engine_package() -> None:
    breaches = []
    for leaf in LEAVES:
        module = f"engine.{leaf}"
        if module not in KNOWN:
            continue
        for imp in _imports(KNOWN[module]):
            other = _package_of(imp.target)
            if other is not None and other != leaf and other not in LEAVES:
                breaches.append(f"{_where(module, imp)} imports {imp.target}")
    assert not breaches, "\n".join(breaches)


def test_engine_never_imports_qt_or_the_gui() -> None:
    breaches = [
        f"{_where(module, imp)} imports {imp.target}"
        for module, imports in _graph().items()
        if module.startswith("engine")
        for imp in imports
        if imp.target.split(".")[0] in FRONT_ENDS
    ]
    assert not breaches, "\n".join(breaches)


# --- the GUI's layers -----------------------------------------------------------------------


def _gui_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "gui":
        return None
    if len(parts) > 1 and parts[1] in GUI_FOLDERS:
        return parts[1]
    if len(parts) == 2 and parts[1] in GUI_LAYERS:
        return parts[1]
    if len(parts) > 2:  # a new sub-package: it needs a place in the order
        raise AssertionError(f"gui/{parts[1]}/ is not in the GUI's layers; add it to GUI_LAYERS in {__file__}")
    return "base"  # gui/__init__.py and the shared top-level modules


def _gui_breaches(graph: Mapping[str, list[Import]]) -> list[str]:
    breaches = []
    for module, imports in graph.items():
        own = _gui_layer(module)
        if own is None:
            continue
        for imp in imports:
            other = _gui_layer(imp.target)
            if other is not None and GUI_LAYERS.index(other) > GUI_LAYERS.index(own):
                breaches.append(f"{_where(module, imp)} imports {imp.target} ({own} -> {other})")
    return breaches


def test_gui_layers_import_only_downwards() -> None:
    breaches = _gui_breaches({m: i for m, i in _graph().items() if m.startswith("gui")})
    assert not breaches, "GUI imports against its layers (" + " < ".join(GUI_LAYERS) + "):\n" + "\n".join(breaches)


# --- cycles ---------------------------------------------------------------------------------


def _cycles(graph: Mapping[str, Iterable[Import]]) -> list[list[tuple[str, Import]]]:
    """One cycle through each strongly connected group of modules, as (module, its import) steps."""
    edges: dict[str, dict[str, Import]] = {}
    for module, imports in graph.items():
        for imp in imports:
            if imp.target in graph and imp.target != module:
                edges.setdefault(module, {}).setdefault(imp.target, imp)
    # Tarjan's strongly connected components (the graph is a few hundred modules: recursion is fine).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles, seen = [], set()
    for group in groups:  # the shortest cycle through each module of the group, each cycle once
        members = set(group)
        for start in group:
            came_from: dict[str, str] = {}
            frontier = [start]
            while frontier and start not in came_from:
                reached = []
                for node in frontier:
                    for nxt in sorted(edges.get(node, {})):
                        if nxt in members and nxt not in came_from:
                            came_from[nxt] = node
                            reached.append(nxt)
                frontier = reached
            path = [start]
            while True:
                path.append(came_from[path[-1]])
                if path[-1] == start:
                    break
            path.reverse()
            steps = list(zip(path, path[1:]))
            if frozenset(steps) not in seen:
                seen.add(frozenset(steps))
                cycles.append([(a, edges[a][b]) for a, b in steps])
    return cycles


def _describe(cycle: list[tuple[str, Import]]) -> str:
    return " -> ".join(f"{module} ({_where(module, imp)})" for module, imp in cycle) + f" -> {cycle[0][0]}"


def test_no_import_cycles_in_the_engine_or_the_gui() -> None:
    # A cycle is two modules that each need the other: one of them holds a piece that belongs
    # lower (move it there, or into a small module of its own), not an import hidden in a function.
    cycles = _cycles(_graph())
    assert not cycles, "Import cycles:\n" + "\n".join(_describe(c) for c in cycles)


# --- the checker itself can fail -------------------------------------------------------------


def test_the_contract_catches_an_upward_import() -> None:
    probe = _imports_of_source("def f():\n    from engine.training.job import run_training\n", "engine.data.probe")
    assert probe == [Import(2, "engine.training.job", "inside a function")]
    assert _engine_breaches({"engine.data.probe": probe})


def test_the_contract_follows_from_engine_import_and_relative_imports() -> None:
    # `from engine import training` imports the package; `from engine.data import arrays` the submodule.
    source = (
        "from engine import training\n"
        "from engine.data import arrays, load_dataset\n"
        "from ..training import job\n"
        "from . import numpyfiles\n"
        "from .dataset import Dataset\n"
    )
    probe = _imports_of_source(source, "engine.data.probe")
    assert [i.target for i in probe] == [
        "engine.training",
        "engine.data.arrays",
        "engine.data",
        "engine.training.job",
        "engine.data.numpyfiles",
        "engine.data.dataset",
    ]
    breaches = _engine_breaches({"engine.data.probe": probe})
    assert len(breaches) == 2 and all("(data -> training)" in b for b in breaches)
    # A package's __init__ resolves `.` to itself.
    assert _imports_of_source("from . import config\n", "engine.training", is_package=True)[0].target == (
        "engine.training.config"
    )


def test_the_contract_catches_an_import_cycle_hidden_in_a_function() -> None:
    graph = {
        "engine.data.a": _imports_of_source("from engine.data.b import x\n", "engine.data.a"),
        "engine.data.b": _imports_of_source("def f():\n    import engine.data.a\n", "engine.data.b"),
        "engine.data.c": _imports_of_source("import engine.data.a\n", "engine.data.c"),
    }
    cycles = _cycles(graph)
    assert [[m for m, _ in c] for c in cycles] == [["engine.data.a", "engine.data.b"]]
    assert cycles[0][1][1].where == "inside a function"


def test_the_contract_catches_an_upward_gui_import() -> None:
    graph = {
        "gui.widgets.probe": _imports_of_source("from gui.panels.train_form import TrainForm\n", "gui.widgets.probe"),
        "gui.window_spec": _imports_of_source(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gui.main_window import MainWindow\n",
            "gui.window_spec",
        ),
        "gui.pages.probe": _imports_of_source("from gui import theme, workers\nfrom ..widgets import forms\n",
                                              "gui.pages.probe"),
    }
    breaches = _gui_breaches(graph)
    assert len(breaches) == 2
    assert "(widgets -> panels)" in breaches[0] and "(window_spec -> main_window)" in breaches[1]
    assert "under TYPE_CHECKING" in breaches[1]
