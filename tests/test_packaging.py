"""What installs Kiln: the TensorFlow-free requirements stay pyproject's dependencies minus TensorFlow."""

from __future__ import annotations

from pathlib import Path

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
