"""The app's settings live in Kiln's config folder (platformdirs, or KILN_CONFIG_DIR); settings an
earlier release kept in Qt's native place are carried over once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings


@pytest.fixture
def legacy_place(tmp_path):
    """Qt's native user settings folder pointed at tmp_path (INI files on Linux), put back after."""
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "legacy"))
    yield tmp_path / "legacy"
    default = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, default)


def test_settings_live_in_kiln_config_dir_and_earlier_ones_come_along(tmp_path, monkeypatch, legacy_place):
    from kiln_lab.gui.settings import AppSettings

    monkeypatch.setenv("KILN_CONFIG_DIR", str(tmp_path / "config"))
    old = QSettings("Kiln", "Kiln")
    old.setValue("appearance/theme", "dark")
    old.setValue("recent/datasets", ["/data/cats"])
    old.setValue("settings_version", 2)
    old.sync()

    settings = AppSettings()
    assert Path(settings.path) == tmp_path / "config" / "settings.ini"
    assert settings.theme() == "dark" and settings.recent_datasets() == ["/data/cats"]
    settings.set_theme("light")
    settings.sync()
    assert (tmp_path / "config" / "settings.ini").is_file()
    assert AppSettings().theme() == "light"  # copied once: the new file is not overwritten again
