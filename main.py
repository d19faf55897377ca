"""Kiln's launcher: no arguments (or ``gui``) starts the desktop app; a subcommand runs headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] == "gui":
        from gui.app import main as gui_main

        return gui_main(argv[1:])
    from engine.cli import main as cli_main

    return cli_main(argv)


def gui_main() -> int:
    """The ``kiln-app`` entry point: a gui-script, so Windows starts it without a console window."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
