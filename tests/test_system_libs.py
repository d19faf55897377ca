"""Issue 18.15: on Linux without the X11 libraries Qt needs, the app says so in a sentence and exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiln_lab.gui.system_libs import XCB_LIBRARIES, install_sentence, missing_message, uses_xcb

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_library_is_named_with_each_systems_package():
    text = missing_message(load=lambda name: name != "libxcb-cursor.so.0", environ={"DISPLAY": ":0"})
    if not sys.platform.startswith("linux"):
        assert text == ""
        return
    assert "libxcb-cursor.so.0" in text
    assert "'sudo apt install libxcb-cursor0'" in text
    assert "'sudo dnf install xcb-util-cursor'" in text and "'sudo pacman -S xcb-util-cursor'" in text
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence
    assert missing_message(load=lambda name: True, environ={}) == ""


def test_packages_are_named_once():
    text = install_sentence(["libxcb-randr.so.0", "libxcb-shm.so.0"])
    assert "'sudo dnf install libxcb'" in text and "'sudo apt install libxcb-randr0 libxcb-shm0'" in text
    assert all(len(packages) == 3 for packages in XCB_LIBRARIES.values())


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {}, True),
        ("linux", {"QT_QPA_PLATFORM": "xcb"}, True),
        ("linux", {"QT_QPA_PLATFORM": "offscreen"}, False),
        ("linux", {"QT_QPA_PLATFORM": "wayland;xcb"}, False),
        ("linux", {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
        ("darwin", {}, False),
        ("win32", {}, False),
    ],
)
def test_only_an_x11_start_is_checked(platform, environ, expected):
    assert uses_xcb(platform, environ) is expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the X11 plugin is Linux's")
def test_the_app_says_it_in_a_sentence_instead_of_a_qt_abort():
    """``python main.py`` with libxcb-cursor made unloadable: exit status 3, the sentence, no Qt abort."""
    script = (
        "import sys, kiln_lab.gui.system_libs as s\n"
        "real = s._loads\n"
        "s._loads = lambda name: name != 'libxcb-cursor.so.0' and real(name)\n"
        "import main\n"
        "sys.exit(main.main([]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3, done.stderr
    assert "libxcb-cursor.so.0" in done.stderr and "sudo apt install" in done.stderr
    assert "libxcb-cursor0" in done.stderr
    assert "qt.qpa" not in done.stderr and "Traceback" not in done.stderr
