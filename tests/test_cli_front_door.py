"""The CLI's front door: `kiln` does its engine work through `engine.api`, as the worker does.

Static: engine/cli.py and engine/commands/*.py import from the engine only `engine.api`,
the command modules themselves, and plain-value modules (the GUI's list in
tests/test_front_door.py, plus the terminal's progress printer and the escaping of names),
wherever the import sits (module level or inside a function). `engine.api` itself keeps its
load-time imports plain, so `kiln inspect` and the bad-path checks start without TensorFlow
(tests/test_performance_paths.py runs that).
"""

from __future__ import annotations

import ast
from pathlib import Path

from test_front_door import PACKAGES, PLAIN_VALUE_MODULES, _imports, _module_path, closure_breaches

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"
CLI_FILES = [ENGINE / "cli.py", *sorted((ENGINE / "commands").glob("*.py"))]
# namespace_imports: keep-strings (modules named by their place in the repository, as in test_front_door.py)

FRONT_DOOR = {"engine.api"}
# What the terminal needs besides the GUI's plain values: both are standard-library-only modules.
CLI_PLAIN_VALUES = PLAIN_VALUE_MODULES | {
    "engine.training.progress",  # TerminalProgress: prints the events a task streams
    "engine.data.files",  # printable: a name from a file, escaped for the terminal
}
OWN = {"engine", "engine.cli", "engine.commands"} | {f"engine.commands.{p.stem}" for p in CLI_FILES[1:]}


def _outside(found: dict[str, set[str]]) -> dict[str, list[str]]:
    return {module: sorted(where) for module, where in found.items()
            if module not in FRONT_DOOR | CLI_PLAIN_VALUES | OWN}


def _engine_imports_of(path: Path) -> dict[str, set[str]]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    return {module: {str(path.relative_to(ROOT))} for module in _imports(path, package)
            if module.split(".")[0] == "engine" and _module_path(module) is not None}


def test_the_cli_imports_only_the_front_door_and_plain_values() -> None:
    found: dict[str, set[str]] = {}
    for path in CLI_FILES:
        for module, where in _engine_imports_of(path).items():
            found.setdefault(module, set()).update(where)
    assert "engine.api" in found, "the CLI does not use engine.api: the check looks in the wrong place"
    outside = _outside(found)
    assert not outside, f"the CLI imports engine modules outside the front door and the plain values: {outside}"


def test_the_check_catches_an_engine_internal_imported_inside_a_function(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"  # stands for a command module
    probe.write_text("def run(args):\n    from engine.analysis.compare import compare_approaches\n", encoding="utf-8")
    found = {module: {"probe.py"} for module in _imports(probe, "engine.commands")
             if module.startswith("engine") and _module_path(module) is not None}
    assert _outside(found) == {"engine.analysis.compare": ["probe.py"]}


def test_the_clis_extra_plain_modules_and_the_api_load_no_tensorflow() -> None:
    breaches = closure_breaches(CLI_PLAIN_VALUES - PLAIN_VALUE_MODULES | FRONT_DOOR,
                                CLI_PLAIN_VALUES | PACKAGES | FRONT_DOOR)
    assert not breaches, breaches


def test_every_task_the_cli_calls_is_in_the_api() -> None:
    """``api.NAME(...)`` in the CLI names a function of engine.api (a typo fails here, not in a user's run)."""
    from kiln_lab.engine import api

    called = set()
    for path in CLI_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "api"):
                called.add(node.attr)
    assert called, "found no api.NAME in the CLI"
    assert not {name for name in called if not callable(getattr(api, name, None))}


def test_the_tasks_the_cli_added_answer_in_plain_values_without_a_model(tmp_path: Path) -> None:
    """The listing, folder, trust and catalogue tasks `kiln` uses: plain values a worker could send."""
    import pytest

    from kiln_lab.engine import api
    from kiln_lab.engine.errors import KilnError
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.worker import protocol

    def sent(value: object) -> object:  # through the worker's protocol and its allow-list, as a result
        return protocol.loads(protocol.dumps({"op": "result", "value": value}))["value"]

    backbones = sent(api.catalogue())
    assert any(entry.name == "demo" and entry.offline for entry in backbones)
    pictures = tmp_path / "pictures"
    (pictures / "cats").mkdir(parents=True)
    (pictures / "cats" / "a.png").write_bytes(b"")
    (pictures / "notes.txt").write_text("not a picture")
    assert sent(api.input_files([str(pictures), "5.1,3.5"])) == [str(pictures / "cats" / "a.png"), "5.1,3.5"]
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"another run's model")
    with pytest.raises(KilnError, match="already holds another run"):
        api.check_run_folder(str(run), RunConfig())
    api.check_run_folder(str(run), RunConfig(), overwrite=True)
    with pytest.raises(KilnError, match="--trust-file .*no such file"):
        api.trust_files([str(tmp_path / "nothing")])
    with pytest.raises(KilnError, match="only be trusted when it is a SavedModel"):
        api.trust_files([str(pictures)])
    assert sent(api.trust_covers(str(tmp_path / "nothing.keras"))) == []
    defaults = sent(api.default_budget())
    assert {"repeats", "max_steps", "min_steps", "patience_steps", "test_fraction", "device_watts"} <= set(defaults)
