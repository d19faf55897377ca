"""Where Kiln keeps things on this machine: the platform's own folders, from `platformdirs`.

Linux: ~/.local/share/kiln, ~/.cache/kiln, ~/.config/kiln (XDG variables honoured);
macOS: ~/Library/Application Support/kiln, ~/Library/Caches/kiln, ~/Library/Application Support/kiln;
Windows: %LOCALAPPDATA%\\kiln\\..., never the roaming profile (models and caches are large).
``KILN_DATA_DIR``, ``KILN_CACHE_DIR`` and ``KILN_CONFIG_DIR`` override each one (tests, portable installs).
A leaf module: nothing here imports the rest of the engine.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "kiln"


def _folder(env: str, default: str) -> Path:
    configured = os.environ.get(env)
    return Path(configured).expanduser() if configured else Path(default)


def user_data_dir() -> Path:
    """Runs, the trust registry: what the person made or decided, kept until they delete it."""
    return _folder("KILN_DATA_DIR", platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=False))


def user_cache_dir() -> Path:
    """Downloaded backbones and other things that can be fetched again."""
    return _folder("KILN_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    """Settings."""
    return _folder("KILN_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME, appauthor=False, roaming=False))


def runs_dir() -> Path:
    """Where the GUI keeps one folder per run (model, history, run record, config)."""
    return user_data_dir() / "runs"
