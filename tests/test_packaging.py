"""What installs Kiln: the TensorFlow-free requirements stay pyproject's dependencies minus TensorFlow."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
TENSORFLOW = {"tensorflow", "tensorflow-hub", "tf-keras"}


def _requirements(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            found[requirement.name.lower()] = str(requirement)
    return found


def test_the_tensorflow_free_install_lists_every_other_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _requirements(project["dependencies"])
    without = _requirements((ROOT / "requirements" / "no-tensorflow.txt").read_text().splitlines())
    assert TENSORFLOW <= set(core)  # the default install keeps TensorFlow
    assert without == {name: spec for name, spec in core.items() if name not in TENSORFLOW}


# -- one import package (issue 19.8; scripts/namespace_imports.py does the rewrite) ------------------

OLD_NAMES = ("engine", "gui", "main", "resources")


def _python_files() -> list[Path]:
    skip = {".git", "build", "dist", "__pycache__"}
    return [p for p in sorted(ROOT.rglob("*.py"))
            if not skip & set(p.relative_to(ROOT).parts) and not p.relative_to(ROOT).parts[0].startswith(".venv")]


def test_no_module_imports_kiln_by_the_old_top_level_names() -> None:
    import ast

    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in OLD_NAMES]
    assert not found, found


def test_the_rewrite_has_nothing_left_to_do() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "namespace_imports.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_the_rewrite_finds_the_bare_names() -> None:
    # --check passing above means nothing if the rewrite stopped seeing the bare names.
    # (namespace_imports: keep-strings, so the samples below stay bare.)
    import importlib.util

    spec = importlib.util.spec_from_file_location("namespace_imports", ROOT / "scripts" / "namespace_imports.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.rewrite_python("from engine.api import train\nimport gui\n") == (
        "from kiln_lab.engine.api import train\nfrom kiln_lab import gui\n")
    assert script.rewrite_python('patch("engine.api.train")\n') == 'patch("kiln_lab.engine.api.train")\n'
    assert script.rewrite_document("    python -m gui.screenshots\n") == "    python -m kiln_lab.gui.screenshots\n"
    assert script.rewrite_pyproject('kiln = "main:main"\n') == 'kiln = "kiln_lab.main:main"\n'


@pytest.mark.slow
def test_the_wheel_holds_only_kiln_lab_at_its_top_level(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("kiln_lab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"kiln_lab"}, tops
    for needed in ("kiln_lab/main.py", "kiln_lab/engine/api.py", "kiln_lab/gui/app.py",
                   "kiln_lab/resources/demo/digits.npz", "kiln_lab/resources/backbones/catalogue.toml"):
        assert needed in names, needed
    assert not [n for n in names if n.count("/") == 1 and n.startswith("kiln_lab/") and n != "kiln_lab/main.py"]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "kiln = kiln_lab.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
