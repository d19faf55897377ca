"""The front door: the window's process reaches the engine only through the worker.

Static half: every engine module the GUI imports is either the worker's client side or a
plain-value module (`PLAIN_VALUE_MODULES`), and no such module imports TensorFlow or Keras,
directly or through another engine module, at module level or inside a function. The tasks
the GUI asks for by name exist in `engine.api.TASKS`.

The runtime half (a full walk with no TensorFlow in the window's process, the worker killed
and restarted) is in tests/gui/test_engine_process.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI = ROOT / "gui"

# namespace_imports: keep-strings. This test names modules by their place in the repository (engine.x);
# scripts/namespace_imports.py leaves its strings so, and imports read as kiln_lab.engine.x count as engine.x.
PACKAGE = "kiln_lab."
HEAVY = ("tensorflow", "keras", "tf_keras", "tensorflow_hub", "keras_hub", "jax", "torch")

# The engine modules the window may import: the worker's client, and plain values (schemas,
# declarations, registries of names, pure functions of plain values, the run folder's plain files).
FRONT_DOOR = {"engine.worker.client", "engine.worker.protocol"}
PLAIN_VALUE_MODULES = {
    "engine.errors",  # KilnError and its sentence
    "engine.events",  # the events a task streams
    "engine.results",  # what tasks return
    "engine.schema",  # config <-> dict, range checks
    "engine.params",  # each setting's declaration: type, range, choices, unit, help
    "engine.paths",  # the platform's folders
    "engine.data.config",  # DataConfig, AugmentConfig
    "engine.models.recipe",  # ModelRecipe, LayerSpec
    "engine.training.config",  # RunConfig, TrainConfig
    "engine.training.choices",  # optimizer / schedule / strategy names with help
    "engine.export.formats",  # export format names and suffixes
    "engine.export.snippets",  # the Export page's load-and-call snippets (text from the run record)
    "engine.export.runs",  # the run folders' plain files: list, read history, rename
    "engine.data.imagefile",  # image file name suffixes
    "engine.data.imageheader",  # plain JPEG / PNG header fields (the standard library only)
    "engine.models.licence",  # licence classes and their notes
    "engine.models.caveats",  # a backbone's known limits, in words
    "engine.models.catalogue",  # the backbone catalogue (a TOML file)
    "engine.models.layer_types",  # layer types, activations, presets (builders import Keras when they build)
    "engine.models.initializers",  # initializer names with their one-line reasons
    "engine.models.scratch",  # presets expanded to layer lists
    "engine.models.heads",  # which metric headlines a task
    "engine.models.freeze",  # freeze policies and their parser
    "engine.training.starting",  # the starting defaults for freshly opened data
    "engine._lazy",  # the packages' lazy names
    "engine.monitors.forgetting_rules",  # the drift thresholds and remedies
    "engine.data.demo_names",  # the built-in demos' names and descriptions
}
# Package __init__ modules that importing a listed module loads; each is checked like the modules.
PACKAGES = {
    "engine", "engine.worker", "engine.data", "engine.models", "engine.training", "engine.export", "engine.monitors",
}


def _imports(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, lazy ones included; ``from a import b`` counts a.b too (b may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.removeprefix(PACKAGE) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = (node.module or "").removeprefix(PACKAGE)
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _load_time_imports(path: Path, package: str) -> set[str]:
    """What importing ``path`` imports: module-level statements (and class bodies), not function
    bodies nor ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(_imports_of_node(node, package))
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.ClassDef, ast.With)):
                visit(node.body)

    visit(tree.body)
    return found


def _imports_of_node(node: ast.AST, package: str) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.removeprefix(PACKAGE) for alias in node.names}
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join([*base, node.module] if node.module else base)
    else:
        module = (node.module or "").removeprefix(PACKAGE)
    return {module} | {f"{module}.{alias.name}" for alias in node.names}


def _module_path(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _engine_closure(module: str) -> tuple[set[str], set[str]]:
    """The engine modules importing ``module`` loads (parent packages included), and the heavy packages
    among their load-time imports. Lazy imports inside functions are the runtime test's to catch."""
    seen: set[str] = set()
    heavy: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_path(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        parents = [".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")))]
        todo += [parent for parent in parents if parent not in seen]
        for imported in _load_time_imports(path, package):
            if imported.split(".")[0] in HEAVY:
                heavy.add(f"{name} imports {imported}")
            elif imported.startswith("engine") and _module_path(imported) is not None:
                todo.append(imported)
    return seen, heavy


def _gui_engine_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(GUI.rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        for module in _imports(path, package):
            if module.split(".")[0] == "engine" and _module_path(module) is not None:
                found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return found


def test_gui_imports_only_the_front_door_and_plain_values() -> None:
    outside = {
        module: sorted(files) for module, files in _gui_engine_imports().items()
        if module not in FRONT_DOOR | PLAIN_VALUE_MODULES | {"engine", "engine.worker"}
    }
    assert not outside, f"the GUI imports engine modules outside the front door and the plain values: {outside}"


def closure_breaches(modules: set[str], allowed: set[str]) -> dict[str, dict[str, list[str]]]:
    """For each of ``modules``: the heavy packages its load reaches, and engine modules outside ``allowed``."""
    breaches = {}
    for module in sorted(modules):
        assert _module_path(module) is not None, f"{module} is listed but does not exist"
        reached, heavy = _engine_closure(module)
        unlisted = reached - allowed
        if heavy or unlisted:
            breaches[module] = {"heavy": sorted(heavy), "reaches unlisted engine modules": sorted(unlisted)}
    return breaches


def test_plain_value_modules_reach_no_tensorflow_or_keras() -> None:
    allowed = FRONT_DOOR | PLAIN_VALUE_MODULES | PACKAGES
    breaches = closure_breaches(allowed, allowed)
    assert not breaches, breaches


def test_the_gui_asks_only_for_tasks_the_front_door_serves() -> None:
    from kiln_lab.engine import api

    asked = set()
    for path in sorted(GUI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "of"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "Call" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                asked.add(node.args[0].value)
    assert asked, "found no Call.of(...) in gui/: the check looks in the wrong place"
    assert asked <= set(api.TASKS), f"tasks the engine does not serve: {sorted(asked - set(api.TASKS))}"
    assert set(api.TASK_WORDS) == set(api.TASKS)


def test_a_payload_naming_another_class_is_refused() -> None:
    """The protocol's allow-list: a message naming a class outside the plain values never imports it."""
    import pickle

    import pytest

    from kiln_lab.engine.worker import protocol

    good = protocol.loads(protocol.dumps({"op": "event", "value": [1, 2.5, "x", {"a": (1,)}]}))
    assert good["value"] == [1, 2.5, "x", {"a": (1,)}]
    with pytest.raises(protocol.ProtocolError, match="not a plain value"):
        protocol.loads(pickle.dumps({"v": protocol.PROTOCOL_VERSION, "op": "result", "value": Path("x").stat}))
    with pytest.raises(protocol.ProtocolError, match="version"):
        protocol.loads(pickle.dumps({"v": protocol.PROTOCOL_VERSION + 1, "op": "hello"}))
    with pytest.raises(protocol.ProtocolError, match="not a plain value"):
        protocol.loads(pickle.dumps({"v": protocol.PROTOCOL_VERSION, "op": "x", "f": __import__("os").system}))
    import collections

    with pytest.raises(protocol.ProtocolError, match="not a plain value"):  # a class from a module not listed
        protocol.loads(pickle.dumps({"v": protocol.PROTOCOL_VERSION, "op": "x", "f": collections.Counter()}))


def test_a_model_is_not_evaluated_on_data_it_does_not_fit(tmp_path) -> None:
    """Issue 18.1: a model trained on one dataset, evaluated on another through the door, gets a
    sentence (classes, columns or channels), never a graph execution error."""
    import pytest

    from kiln_lab.engine import api
    from kiln_lab.engine.data.config import DataConfig
    from kiln_lab.engine.errors import KilnError
    from kiln_lab.engine.training.config import RunConfig

    config = RunConfig().replace(model={"kind": "scratch", "arch": "mlp"},
                                 train={"epochs": 1, "batch_size": 128, "checkpoint": False})
    outcome = api.train(config, out_dir=str(tmp_path / "run"))
    same = api.evaluate(outcome.model, config.data, split="val")
    assert 0.0 <= same["report"].metrics["accuracy"] <= 1.0
    with pytest.raises(KilnError, match="channel|classes"):  # 32x32 colour shapes, 4 classes
        api.evaluate(outcome.model, DataConfig(source="demo:shapes"), split="val")
    with pytest.raises(KilnError, match="takes images"):  # a table
        api.evaluate(outcome.model, DataConfig(source="demo:housing"), split="val")
