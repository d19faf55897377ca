"""Kiln's launcher: no arguments (or ``gui``) starts the desktop app; a subcommand runs headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] == "gui":
        problem = gui_cannot_start()
        if problem:
            print(problem, file=sys.stderr)  # a sentence instead of Qt's abort and core dump
            return 3  # gui.system_libs.EXIT_MISSING_LIBRARIES, without importing gui here
        from kiln_lab.gui.app import main as gui_main

        return gui_main(argv[1:])
    from kiln_lab.engine.cli import main as cli_main

    return cli_main(argv)


def gui_cannot_start() -> str:
    """Why the window cannot start on this system, in a sentence ("" when it can): X11 libraries
    Qt's platform plugin needs (`gui.system_libs`), or a library Qt itself needs (libGL...)."""
    from kiln_lab.gui.system_libs import missing_message

    problem = missing_message()
    if problem:
        return problem
    try:
        import PySide6.QtGui  # noqa: F401 - loads Qt's own system libraries (OpenGL, fonts)
    except ImportError as exc:
        if "cannot open shared object file" not in str(exc):
            raise
        library = str(exc).split(":")[0]
        return (
            f"Kiln's window cannot start because Qt needs the system library {library}: install your "
            "system's OpenGL and font libraries ('sudo apt install libgl1 libegl1 libfontconfig1 libdbus-1-3' "
            "on Debian and Ubuntu; README, System packages, for others), then start Kiln again."
        )
    return ""


def gui_main() -> int:
    """The ``kiln-app`` entry point: a gui-script, so Windows starts it without a console window."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
