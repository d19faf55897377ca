"""Persistent settings (QSettings) with a version and a migration step.

Settings files outlive releases: every file carries ``settings_version`` and
:func:`migrate` brings an old file up to date, so a user's recent lists and choices survive
an upgrade instead of being silently reset.

The file is ``settings.ini`` in Kiln's config folder (`engine.paths.user_config_dir`: the
platform's own, via platformdirs, or ``KILN_CONFIG_DIR``), beside nothing of Qt's choosing.
Settings kept by earlier releases in Qt's native place (``QSettings("Kiln", "Kiln")``: the
registry on Windows, a plist on macOS, ~/.config/Kiln/Kiln.conf on Linux) are copied over once,
when the new file does not exist yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from kiln_lab.engine.paths import user_config_dir

SETTINGS_VERSION = 2
MAX_RECENT = 8
THEMES = ("system", "light", "dark")
SETTINGS_FILE = "settings.ini"
LEGACY_ORGANISATION, LEGACY_APPLICATION = "Kiln", "Kiln"  # QSettings' native place, before 2026-12


def settings_path() -> Path:
    """Where the app's settings live: ``settings.ini`` in Kiln's config folder."""
    return user_config_dir() / SETTINGS_FILE


class AppSettings:
    """Typed access to Kiln's settings file. ``path``: another INI file (tests, portable installs)."""

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            target = settings_path()
            fresh = not target.exists()
            target.parent.mkdir(parents=True, exist_ok=True)
            self._qs = QSettings(str(target), QSettings.Format.IniFormat)
            if fresh:
                copy_legacy_settings(self._qs)
        else:
            self._qs = QSettings(path, QSettings.Format.IniFormat)
        migrate(self._qs)

    @property
    def path(self) -> str:
        """The file these settings are kept in."""
        return self._qs.fileName()

    # -- window ---------------------------------------------------------------------------

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def set_window_state(self, state: QByteArray) -> None:
        self._qs.setValue("window/state", state)

    def last_page(self) -> int:
        return _to_int(self._qs.value("window/page", 0))

    def set_last_page(self, index: int) -> None:
        self._qs.setValue("window/page", int(index))

    # -- theme ----------------------------------------------------------------------------

    def theme(self) -> str:
        value = str(self._qs.value("appearance/theme", "system"))
        return value if value in THEMES else "system"

    def set_theme(self, theme: str) -> None:
        self._qs.setValue("appearance/theme", theme if theme in THEMES else "system")

    # -- recent lists ---------------------------------------------------------------------

    def recent_datasets(self) -> list[str]:
        return self._list("recent/datasets")

    def add_recent_dataset(self, source: str) -> None:
        self._push("recent/datasets", source)

    def recent_models(self) -> list[str]:
        return self._list("recent/models")

    def add_recent_model(self, path: str) -> None:
        self._push("recent/models", path)

    def clear_recent(self) -> None:
        self._qs.remove("recent")

    # -- last choices (stored as JSON so nested config sections round-trip) ----------------

    def last_choices(self, section: str) -> dict[str, Any]:
        raw = self._qs.value(f"choices/{section}", "")
        try:
            value = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def set_last_choices(self, section: str, values: dict[str, Any]) -> None:
        self._qs.setValue(f"choices/{section}", json.dumps(values))

    def sync(self) -> None:
        self._qs.sync()

    # -- helpers --------------------------------------------------------------------------

    def _list(self, key: str) -> list[str]:
        value = self._qs.value(key, [])
        if isinstance(value, str):  # QSettings returns a lone item as a plain string
            value = [value] if value else []
        return [str(v) for v in (value or []) if v]

    def _push(self, key: str, item: str) -> None:
        items = [i for i in self._list(key) if i != item]
        self._qs.setValue(key, [item, *items][:MAX_RECENT])


def copy_legacy_settings(qs: QSettings) -> int:
    """Copy settings an earlier release kept in Qt's native place into ``qs``; returns how many."""
    legacy = QSettings(LEGACY_ORGANISATION, LEGACY_APPLICATION)
    keys = legacy.allKeys()
    for key in keys:
        qs.setValue(key, legacy.value(key))
    return len(keys)


def migrate(qs: QSettings) -> None:
    """Bring a settings file written by an older Kiln up to :data:`SETTINGS_VERSION`."""
    version = _to_int(qs.value("settings_version", 0))
    if version == SETTINGS_VERSION:
        return
    if version < 1:
        # Version 0 (pre-release builds) stored "dark_mode" as a boolean.
        dark = qs.value("dark_mode")
        if dark is not None:
            qs.setValue("appearance/theme", "dark" if str(dark).lower() in ("true", "1") else "light")
            qs.remove("dark_mode")
    if version < 2:
        # Version 1 kept one "recent_files" list of datasets; models get their own list now.
        old = qs.value("recent_files")
        if old:
            items = [old] if isinstance(old, str) else [str(i) for i in old]
            qs.setValue("recent/datasets", items[:MAX_RECENT])
        qs.remove("recent_files")
    qs.setValue("settings_version", SETTINGS_VERSION)


def _to_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
