"""The one thing pyproject.toml cannot say: ship engine/, gui/, resources/ and main.py as kiln_lab.*.

The repository keeps them at its root (issue 19.8); ``package_dir`` maps the import package
``kiln_lab`` to the root, so a wheel holds kiln_lab/engine, kiln_lab/gui, kiln_lab/resources and
kiln_lab/main.py and nothing else at its top level. Every sub-package is found by rule, so a new one
ships without an edit here; data files come from the sub-packages only (resources/: the demo data,
the demo backbone and the catalogue), never the root's README or pyproject. Everything else is in
pyproject.toml.
"""

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

PARTS = ["engine", "gui", "resources"]
DATA = ["*.toml", "*.json", "*.qss", "*.svg", "*.png", "*.md", "*.npz", "*.keras"]
found = sorted(
    name for name in find_namespace_packages(include=[f"{part}*" for part in PARTS]) if "__pycache__" not in name
)
packages = [f"kiln_lab.{name}" for name in found]


class BuildPy(build_py):
    """The root's only module in the package is main.py: not this file."""

    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        return [m for m in modules if not (package == "kiln_lab" and m[1] == "setup")]


setup(
    cmdclass={"build_py": BuildPy},
    package_dir={"kiln_lab": "."},
    packages=["kiln_lab", *packages],
    package_data={name: DATA for name in packages},
    exclude_package_data={"kiln_lab": ["*"]},
)
