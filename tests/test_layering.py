"""The layering contract: imports inside `engine/` point one way, and the engine never imports Qt.

Every ``import`` counts, also the lazy ones inside functions: a lazy import still ties two
packages together (and hid several cycles before this test existed).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"

# Leaves everything may use.
LEAVES = {"errors", "events", "schema", "params", "runtime", "environment", "_compat", "paths"}
# Which engine packages each package may import (besides itself and the leaves).
ALLOWED: dict[str, set[str]] = {
    "__init__": set(),
    "data": set(),
    "export": set(),
    "models": {"data", "export"},
    "monitors": {"data", "models"},
    "training": {"data", "models", "export", "monitors"},
    "analysis": {"data", "models", "export", "monitors", "training"},
    "commands": {"data", "models", "export", "monitors", "training", "analysis", "cli"},
    "cli": {"data", "models", "export", "monitors", "training", "analysis", "commands"},
}
for leaf in LEAVES:
    ALLOWED.setdefault(leaf, set())
FRONT_ENDS = ("PySide6", "pyqtgraph", "gui")


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "engine" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_engine_packages_import_only_downwards() -> None:
    breaches = []
    for path in sorted(ENGINE.rglob("*.py")):
        own = _package_of(_module_name(path))
        if own is None:  # engine/__init__.py
            continue
        assert own in ALLOWED, f"engine/{own} is not in the layering contract; add it to ALLOWED in {__file__}"
        for line, target in _imports(path):
            other = _package_of(target)
            if other is None or other == own or other in LEAVES:
                continue
            if other not in ALLOWED[own]:
                breaches.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({own} -> {other})")
    assert not breaches, "Imports against the layering contract:\n" + "\n".join(breaches)


def test_leaves_import_no_other_engine_package() -> None:
    breaches = []
    for leaf in LEAVES:
        path = ENGINE / f"{leaf}.py"
        if not path.exists():
            continue
        for line, target in _imports(path):
            other = _package_of(target)
            if other is not None and other != leaf and other not in LEAVES:
                breaches.append(f"engine/{leaf}.py:{line} imports {target}")
    assert not breaches, "\n".join(breaches)


def test_engine_never_imports_qt_or_the_gui() -> None:
    breaches = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in sorted(ENGINE.rglob("*.py"))
        for line, target in _imports(path)
        if target.split(".")[0] in FRONT_ENDS
    ]
    assert not breaches, "\n".join(breaches)


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: an upward import in a scratch file is found.
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from engine.training.job import run_training\n")
    assert (2, "engine.training.job") in _imports(probe)
    assert "training" not in ALLOWED["data"]
