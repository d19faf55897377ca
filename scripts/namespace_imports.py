"""Rewrite imports of Kiln's bare top-level names to the one import package, ``kiln_lab``.

Issue 19.8: the top-level names ``engine``, ``gui``, ``main`` and ``resources`` clash with other
installs, so every import says ``kiln_lab.engine...`` (``kiln_lab.gui...``, ``kiln_lab.main``) while
the repository keeps engine/, gui/, resources/ and main.py at its root. What makes that work
(``kiln_lab/__init__.py``, ``setup.py``, tests/test_packaging.py) lives in the repository and is
maintained there; this script only rewrites imports, and ``--check`` says if a file still uses the
bare names.

The rewrite works by rules, not by a list of files, so it applies to code it has never seen:

- Python files: import statements (found with ``ast``; ``import engine`` becomes
  ``from kiln_lab import engine``), and inside string literals (found with ``tokenize``; comments
  are left alone): dotted module paths (``"engine.api.train"`` for monkeypatch, the worker's
  allow-list, lazy-name tables, ``f"engine.commands.{name}"``), ``-m gui.screenshots``, code run
  with ``python -c`` (``from engine.x import y``, ``import engine``), ``startswith("engine")``
  and ``split(".")[0] == "engine"`` on module names.
- Markdown, .ci scripts and text files: code lines that import Kiln and ``python -m engine/gui...``.

It is idempotent (a second run changes nothing; ``--check`` exits 1 when something would still
change) and deterministic (files in sorted order, no time or randomness).

    python scripts/namespace_imports.py            # rewrite the tree in place
    python scripts/namespace_imports.py --check    # report only
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

PACKAGE = "kiln_lab"
NAMES = ("engine", "gui", "main", "resources")
ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "build", "dist", "node_modules", "__pycache__", PACKAGE, ".ruff_cache",
             ".pytest_cache"}
SELF = Path(__file__).resolve()
# A dotted name whose last part is one of these is a file name ("main.py"), not a module path.
FILE_SUFFIXES = {"py", "pyc", "pyi", "toml", "json", "md", "txt", "qss", "svg", "png", "keras", "h5", "log",
                 "csv", "npz", "cfg", "ini", "yaml", "yml", "tflite", "onnx", "html", "sh"}
_ALT = "|".join(NAMES)
# Code inside a string or a document: from engine.x import y / import engine.x [as y], at a line's or
# statement's start.
FROM_IMPORT = re.compile(rf"(^|[;\n]|\"|')(\s*)from\s+({_ALT})((?:\.\w+)*)(\s+import\b)", re.M)
PLAIN_IMPORT = re.compile(rf"(^|[;\n]|\"|')(\s*)import\s+({_ALT})((?:\.\w+)*)(\s+as\s+\w+)?(?=\s*(?:;|$|\n|\"|'))",
                          re.M)
# python -m engine / -m gui.screenshots (bare; rewrite_text_code does the dotted form).
DASH_M = re.compile(rf"(-m\s+)({_ALT})(?![\w.])")
# A bare top-level name compared as a module name: startswith("engine"), split(".")[0] == "engine".
BARE = {f'"{name}"' for name in NAMES} | {f"'{name}'" for name in NAMES}


def _from_import(match: re.Match[str]) -> str:
    lead, space, top, rest, tail = match.groups()
    return f"{lead}{space}from {PACKAGE}.{top}{rest}{tail}"


_ITEM = r"[\w.]+(?:\s+as\s+\w+)?"
IMPORT_LIST = re.compile(rf"(^|[;\n]|\"|')(\s*)import\s+((?:{_ITEM}\s*,\s*)+{_ITEM})", re.M)


def _import_list(match: re.Match[str]) -> str:
    """import json, engine, engine.x as y (code in a string): each of Kiln's names in turn."""
    lead, space, names = match.groups()
    out = []
    for item in re.split(r"\s*,\s*", names):
        name, _, alias = item.partition(" as ")
        name, alias = name.strip(), alias.strip()
        if name.split(".")[0] in NAMES:
            item = f"{PACKAGE}.{name} as {alias or name.split('.')[0]}" if alias or "." not in name else \
                f"{PACKAGE}.{name}"
        out.append(item)
    return f"{lead}{space}import {', '.join(out)}"


def _plain_import(match: re.Match[str]) -> str:
    lead, space, top, rest, alias = match.groups()
    if not rest and not alias:
        return f"{lead}{space}from {PACKAGE} import {top}"
    if rest and not alias:  # "import engine.x" binds engine: keep that name bound to the same module
        return f"{lead}{space}import {PACKAGE}.{top}{rest}; from {PACKAGE} import {top}"
    return f"{lead}{space}import {PACKAGE}.{top}{rest}{alias}"


# A string that is one module path: "engine.api", 'gui.app:main', f"engine.commands.{name}" (no spaces).
MODULE_STRING = re.compile(rf"^([rRfFbBuU]{{0,2}})(['\"])({_ALT})((?:\.[A-Za-z_{{][\w{{}}]*)+)(:\w+)?\2$")


def rewrite_text_code(text: str) -> str:
    """Rewrite code written inside a string or a document (``python -c`` snippets, README blocks):
    imports and ``-m engine.x``. Prose that names a module (a docstring's `engine.api`) is left as it is."""
    text = FROM_IMPORT.sub(_from_import, text)
    text = PLAIN_IMPORT.sub(_plain_import, text)
    text = IMPORT_LIST.sub(_import_list, text)
    text = DASH_M.sub(lambda m: f"{m.group(1)}{PACKAGE}.{m.group(2)}", text)
    return re.sub(rf"(-m\s+)({_ALT})(\.\w+)", lambda m: f"{m.group(1)}{PACKAGE}.{m.group(2)}{m.group(3)}", text)


def rewrite_string_token(token: str) -> str:
    """A string literal: a whole module path gets the package; otherwise code inside it is rewritten."""
    match = MODULE_STRING.match(token)
    if match:
        prefix, quote, top, rest, attribute = match.groups()
        if rest.rsplit(".", 1)[-1].lower() in FILE_SUFFIXES or top == "resources":
            return token
        return f"{prefix}{quote}{PACKAGE}.{top}{rest}{attribute or ''}{quote}"
    return rewrite_text_code(token)


def _offsets(source: str) -> list[int]:
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _import_edits(source: str, tree: ast.AST, starts: list[int]) -> list[tuple[int, int, str]]:
    edits = []
    loaded = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in NAMES:
                continue
            begin = starts[node.lineno - 1] + node.col_offset
            match = re.compile(r"from\s+").match(source, begin)
            if match is None or not source.startswith(node.module.split(".")[0], match.end()):
                continue
            edits.append((match.end(), match.end(), f"{PACKAGE}."))
        elif isinstance(node, ast.Import):
            ours = [alias for alias in node.names if alias.name.split(".")[0] in NAMES]
            if not ours:
                continue
            if len(node.names) == 1 and "." not in ours[0].name and ours[0].asname is None:
                # import engine  ->  from kiln_lab import engine (binds the same name)
                begin = starts[node.lineno - 1] + node.col_offset
                end = starts[node.end_lineno - 1] + node.end_col_offset
                edits.append((begin, end, f"from {PACKAGE} import {ours[0].name}"))
                continue
            for alias in ours:
                begin = starts[alias.lineno - 1] + alias.col_offset
                top = alias.name.split(".")[0]
                if alias.asname is None and top in loaded:
                    if "." in alias.name:
                        # import engine.x used as engine.x.y: bind engine to kiln_lab.engine, having imported x.
                        # (noqa: the statement now binds kiln_lab, which the code does not name.)
                        edits.append((begin, begin + len(alias.name), f"{PACKAGE}.{alias.name}"))
                        line_start = starts[node.lineno - 1]
                        indent = source[line_start : starts[node.lineno - 1] + node.col_offset]
                        end = starts[node.end_lineno - 1] + node.end_col_offset
                        bind = f"  # noqa: F401 - loads {alias.name}\n{indent}from {PACKAGE} import {top}"
                        edits.append((end, end, bind))
                    else:
                        edits.append((begin, begin + len(alias.name), f"{PACKAGE}.{alias.name} as {top}"))
                else:
                    edits.append((begin, begin, f"{PACKAGE}."))
    return edits


def _bare_name_edits(tree: ast.AST, starts: list[int]) -> list[tuple[int, int, str]]:
    """A bare "engine" used as a module name: x.startswith("engine") -> "kiln_lab.engine";
    name.split(".")[0] == "engine" (or in (...)) -> "kiln_lab" (the first part is now the package);
    {"engine", "engine.api"} (a collection of module names) -> {"kiln_lab.engine", ...}."""
    edits = []

    def string_edit(node: ast.AST, new: str | None = None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES:
            begin = starts[node.lineno - 1] + node.col_offset
            end = starts[node.end_lineno - 1] + node.end_col_offset
            edits.append((begin + 1, end - 1, new or f"{PACKAGE}.{node.value}"))

    def items(node: ast.AST) -> list[ast.AST]:
        return list(node.elts) if isinstance(node, ast.Tuple | ast.Set | ast.List) else [node]

    def is_first_part(node: ast.AST) -> bool:  # x.split(".")[0] / x.partition(".")[0]
        return (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == 0
                and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr in ("split", "partition", "rpartition"))

    def is_module_path(node: ast.AST) -> bool:
        return (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and node.value.split(".")[0] in NAMES and "." in node.value and " " not in node.value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "startswith":
            for arg in node.args:
                for item in items(arg):
                    string_edit(item)
        elif isinstance(node, ast.Compare) and is_first_part(node.left):
            for comparator in node.comparators:
                for item in items(comparator):
                    string_edit(item, PACKAGE)
        elif isinstance(node, ast.Tuple | ast.Set | ast.List) and any(is_module_path(e) for e in node.elts):
            for item in node.elts:
                string_edit(item)
    return edits


def _string_edits(source: str, starts: list[int]) -> list[tuple[int, int, str]]:
    edits = []
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type != tokenize.STRING:
            continue
        begin = starts[token.start[0] - 1] + token.start[1]
        end = starts[token.end[0] - 1] + token.end[1]
        new = rewrite_string_token(token.string)
        if new != token.string:
            edits.append((begin, end, new))
    return edits


KEEP_STRINGS = "namespace_imports: keep-strings"


def rewrite_python(source: str) -> str:
    """Imports everywhere; module names in strings too, unless the file says KEEP_STRINGS (a test that
    reads the repository's files and names their modules by path, as engine.x, on purpose)."""
    tree = ast.parse(source)
    starts = _offsets(source)
    edits = _import_edits(source, tree, starts)
    if KEEP_STRINGS in source:
        for begin, end, new in sorted(edits, key=lambda edit: (edit[0], edit[1]), reverse=True):
            source = source[:begin] + new + source[end:]
        return source
    edits += _bare_name_edits(tree, starts)
    # Strings last, and not where an edit above already changed them (a bare "engine" string).
    taken = [(b, e) for b, e, _ in edits]
    for begin, end, new in _string_edits(source, starts):
        if not any(b >= begin and e <= end for b, e in taken):
            edits.append((begin, end, new))
    for begin, end, new in sorted(edits, key=lambda edit: (edit[0], edit[1]), reverse=True):
        source = source[:begin] + new + source[end:]
    return source


def rewrite_document(text: str) -> str:
    """Markdown, shell and text: code lines that import Kiln and ``-m engine/gui...``."""
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if re.match(rf"(>>>\s+|\.\.\.\s+)?(from|import)\s+({_ALT})\b", stripped):
            line = rewrite_text_code(line)
        line = re.sub(rf"(-m\s+)({_ALT})((?:\.\w+)*)(?![\w.])",
                      lambda m: m.group(0) if m.group(2) == "resources" else f"{m.group(1)}{PACKAGE}.{m.group(2)}"
                      f"{m.group(3)}", line)
        out.append(line)
    return "".join(out)


def rewrite_pyproject(text: str) -> str:
    """Entry points name a module path too: ``= "main:run"`` -> ``= "kiln_lab.main:run"``."""
    return re.sub(r'= "main:(\w+)"', rf'= "{PACKAGE}.main:\1"', text)


def _files() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*")):
        parts = set(path.relative_to(ROOT).parts[:-1])
        if parts & SKIP_DIRS or any(p.startswith(".venv") for p in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and path.resolve() != SELF:
            found.append(path)
    return found


def plan() -> dict[Path, str]:
    """What each file becomes; only files that change."""
    changes: dict[Path, str] = {}
    for path in _files():
        relative = path.relative_to(ROOT)
        if path.suffix == ".py":
            kind = rewrite_python
        elif path.suffix in (".md", ".txt", ".sh") or relative.parts[0] == ".ci":
            kind = rewrite_document
        elif relative.as_posix() == "pyproject.toml":
            kind = rewrite_pyproject
        else:
            continue
        old = path.read_text(encoding="utf-8")
        new = kind(old)
        if new != old:
            changes[path] = new
    return changes


def _reflow_long_lines(ruff: str, files: list[str]) -> None:
    """The package's nine characters push a few statements past the line length: ruff formats just
    those lines (``ruff format --range``), nothing else in the file."""
    found = subprocess.run([ruff, "check", "--quiet", "--select", "E501", "--output-format", "json", *files],
                           cwd=ROOT, capture_output=True, text=True, check=False)
    try:
        problems = json.loads(found.stdout or "[]")
    except json.JSONDecodeError:
        return
    for problem in sorted(problems, key=lambda p: (p["filename"], -p["location"]["row"])):
        row = problem["location"]["row"]
        subprocess.run([ruff, "format", "--quiet", f"--range={row}-{row}", problem["filename"]], cwd=ROOT,
                       check=False)
    # What ruff's formatter leaves long (a statement's header it will not split alone) says so.
    found = subprocess.run([ruff, "check", "--quiet", "--select", "E501", "--output-format", "json", *files],
                           cwd=ROOT, capture_output=True, text=True, check=False)
    for problem in json.loads(found.stdout or "[]"):
        path = Path(problem["filename"])
        lines = path.read_text(encoding="utf-8").split("\n")
        row = problem["location"]["row"] - 1
        if "#" not in lines[row]:
            lines[row] += "  # noqa: E501 - the kiln_lab. prefix (scripts/namespace_imports.py)"
            path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only list what would change; exit 1 if anything would")
    args = parser.parse_args(argv)
    changes = plan()
    for path in sorted(changes):
        print(path.relative_to(ROOT))
    if args.check:
        return 1 if changes else 0
    for path, text in changes.items():
        path.write_text(text, encoding="utf-8")
    # Import order: kiln_lab.* sorts differently from engine/gui/main; ruff puts each block right.
    python_files = [str(p) for p in changes if p.suffix == ".py"]
    if python_files:
        ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
        try:
            subprocess.run([ruff, "check", "--quiet", "--fix", "--select", "I001", *python_files], cwd=ROOT,
                           check=False)
        except OSError:
            print("ruff not found: run `ruff check --fix --select I001 .` for the import order", file=sys.stderr)
        else:
            _reflow_long_lines(ruff, python_files)
    print(f"{len(changes)} files rewritten" if changes else "nothing to change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
