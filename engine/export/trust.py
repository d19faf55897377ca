"""Which model files Kiln wrote itself, so it can load their SavedModel-backed layers without asking.

Kiln keeps the SHA-256 of every .keras file it writes in a small registry in the user's
data folder. A file whose contents changed since, or that came from elsewhere, is not in it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from engine.export.atomic import atomic_write_text


def registry_path() -> Path:
    base = os.environ.get("KILN_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share"), "kiln"
    )
    return Path(base) / "trusted_models.json"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read() -> dict[str, str]:
    try:
        return json.loads(registry_path().read_text())
    except (OSError, ValueError):
        return {}


def remember_trusted(path: Path) -> None:
    entries = _read()
    entries[file_digest(path)] = str(Path(path).resolve())
    if len(entries) > 5000:  # keep the registry small: drop the oldest entries
        entries = dict(list(entries.items())[-5000:])
    try:
        atomic_write_text(registry_path(), json.dumps(entries, indent=0))
    except OSError:
        pass  # an unwritable data folder only means Kiln asks again next time


def is_trusted(path: Path) -> bool:
    return file_digest(Path(path)) in _read()
