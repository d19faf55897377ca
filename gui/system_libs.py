"""Before Qt starts on Linux: are the system libraries its X11 (xcb) platform plugin needs there?

PySide6's wheel brings Qt but not the X11 helper libraries of the desktop: on a bare Debian,
``libxcb-cursor0`` (and on some, ``libxcb-icccm4``, ``libxcb-keysyms1``...) are missing, and Qt
then aborts with "Could not load the Qt platform plugin xcb" and a core dump (issue 18.15).
`missing_message` finds that out first, by loading each library the way the plugin would, and
says in one sentence which packages to install on Debian/Ubuntu, Fedora and Arch. Standard
library only: it runs before anything imports Qt.

The list is what ``ldd`` shows ``PySide6/Qt/plugins/platforms/libqxcb.so`` and
``PySide6/Qt/lib/libQt6XcbQpa.so.6`` needing from the system (PySide6 6.x).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

# library file -> (Debian/Ubuntu package, Fedora package, Arch package)
XCB_LIBRARIES: dict[str, tuple[str, str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
}
EXIT_MISSING_LIBRARIES = 3  # the window cannot start: the system lacks what Qt needs


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def uses_xcb(platform: str = sys.platform, environ: dict[str, str] | None = None) -> bool:
    """True when Qt will draw through X11 here: Linux, and no other platform chosen or in use."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip().lower()
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"  # offscreen, wayland, vnc...: no X11
    # Qt 6 takes Wayland in a Wayland session (and needs none of these); else X11.
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "").lower() == "wayland")


def missing_libraries(load: Callable[[str], bool] | None = None) -> list[str]:
    """The X11 libraries Qt's xcb plugin needs that cannot be loaded here (``load``: a test's stand-in)."""
    load = load or _loads
    return [name for name in XCB_LIBRARIES if not load(name)]


def install_sentence(missing: list[str]) -> str:
    """One sentence: what is missing and the command that installs it on each family of Linux."""
    def packages(column: int) -> str:
        return " ".join(dict.fromkeys(XCB_LIBRARIES[name][column] for name in missing))

    names = ", ".join(missing)
    return (
        f"Kiln's window cannot start because Qt needs system {'libraries' if len(missing) > 1 else 'library'} "
        f"{names} to draw on an X11 screen: install {'them' if len(missing) > 1 else 'it'} with "
        f"'sudo apt install {packages(0)}' (Debian, Ubuntu), 'sudo dnf install {packages(1)}' (Fedora) "
        f"or 'sudo pacman -S {packages(2)}' (Arch), then start Kiln again "
        "(the command line, 'kiln train ...', works without them)."
    )


def missing_message(load: Callable[[str], bool] | None = None, environ: dict[str, str] | None = None) -> str:
    """The sentence to print instead of starting Qt, or "" when nothing is missing."""
    if not uses_xcb(environ=environ):
        return ""
    missing = missing_libraries(load)
    return install_sentence(missing) if missing else ""
