"""Start the Kiln GUI: ``gui.app.main(argv)`` (``python main.py`` calls it)."""

from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from kiln_lab.gui import theme
from kiln_lab.gui.engine_link import shared_link
from kiln_lab.gui.main_window import MainWindow, default_runs_folder
from kiln_lab.gui.settings import AppSettings
from kiln_lab.gui.system_libs import EXIT_MISSING_LIBRARIES, missing_message


def create_window(settings: AppSettings | None = None, *, runs_folder: str | None = None) -> MainWindow:
    """The main window with its theme applied; TensorFlow loads once it is shown."""
    app = QApplication.instance()
    settings = settings or AppSettings()
    if isinstance(app, QApplication):
        theme.apply_theme(app, settings.theme())
        # Follow the desktop live when the user chose "system".
        QGuiApplication.styleHints().colorSchemeChanged.connect(
            lambda _scheme: theme.apply_theme(app, "system") if settings.theme() == "system" else None
        )
    return MainWindow(settings, runs_folder=runs_folder)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kiln gui", description="Open Kiln's desktop app.")
    parser.add_argument("path", nargs="?", help="a dataset, a model file or a run config to open")
    parser.add_argument("--data", help="a dataset to open: a folder, a file, or demo:NAME")
    parser.add_argument("--model", help="a .keras / .h5 model to open")
    parser.add_argument("--config", help="a run config (TOML or JSON) to open")
    # Options Kiln does not know are left for QApplication, which receives the whole list.
    known, _qt_options = parser.parse_known_args(argv)
    return known


def main(argv: list[str] | None = None) -> int:
    """Run the GUI and return its exit status.

    Args:
        argv: the arguments after the program name (``main.py`` passes what follows ``gui``):
            ``--data SOURCE``, ``--model FILE``, ``--config FILE``, or one path of any kind.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    options = parse_arguments(args)
    if QApplication.instance() is None:
        problem = missing_message()
        if problem:  # said in a sentence before Qt would abort loading its X11 plugin
            print(problem, file=sys.stderr)
            return EXIT_MISSING_LIBRARIES
    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    app.setApplicationName("Kiln")
    app.setOrganizationName("Kiln")
    # No setApplicationDisplayName: on X11 and Windows Qt appends an explicit display name to every
    # window title that does not end with it, and "digits — Kiln*" (unsaved) does not, which showed
    # "digits — Kiln* — Kiln" (issue 18.13). The window's own title already names the app.
    # The engine worker process starts first: TensorFlow imports there (seconds) while this
    # process builds and shows the window, which never waits for it.
    link = shared_link()
    window = create_window(runs_folder=default_runs_folder())
    window.show()
    QTimer.singleShot(0, window.load_engine)
    if options.data:
        QTimer.singleShot(0, lambda: window.open_dataset(options.data))
    for path in (options.config, options.model, options.path):
        if path:
            QTimer.singleShot(0, lambda p=path: window.open_path(p))
    status = app.exec()
    link.shutdown()  # runs stop at their next batch; their folders keep the last checkpoint
    return status


if __name__ == "__main__":
    sys.exit(main())
