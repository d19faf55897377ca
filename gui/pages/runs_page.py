"""Runs page: the library of every run and comparison kept in the user's runs folder.

Each training run of the app (and each "Compare both") leaves a folder; this page lists
them one row per run with its key settings and results as columns (`gui.widgets.runs_table`:
sortable, filterable, columns chosen by right-clicking the header), opens any of them in Evaluate or Export,
continues one ("Train more"), compares two runs' curves, renames, and deletes to the
system trash with an undo. The rows come from `engine.export.runs.list_runs`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFile, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.engine.errors import KilnError
from kiln_lab.engine.export.runs import RunEntry, list_runs, read_history, rename_run
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui.dialogs.run_curves_dialog import RunCurvesDialog
from kiln_lab.gui.session import Session
from kiln_lab.gui.settings import AppSettings
from kiln_lab.gui.widgets.forms import muted_label, title_label
from kiln_lab.gui.widgets.runs_table import RunsTable
from kiln_lab.gui.workers import WorkerError

SETTINGS_SECTION = "runs_table"  # the hidden columns and the sort, kept between sessions
PATHS = (("All paths", ""), ("From scratch", "scratch"), ("Fine-tune", "fine-tune"))


class RunsPage(QWidget):
    busy = Signal(str)
    failed = Signal(str, object)
    open_requested = Signal(str, str, str)  # model path, data source, "evaluate" | "export"
    train_more_requested = Signal(str, int)  # run folder, epochs to add

    def __init__(self, session: Session, runs_folder: str | None = None, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.session = session
        self.runs_folder = runs_folder
        self.settings = settings
        self.entries: list[RunEntry] = []
        self._trashed: list[tuple[str, str]] = []  # (original path, path in the trash), newest last
        self.curves_dialog: RunCurvesDialog | None = None

        title = title_label("Runs")
        self.folder_note = muted_label(
            f"Every run is kept in {runs_folder}." if runs_folder else "This window keeps no run folders."
        )
        self.table = RunsTable()
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.table.doubleClicked.connect(lambda *_: self.open_selected("evaluate"))
        self.table.columns_changed.connect(self._save_columns)
        if settings is not None:
            self.table.restore_column_state(settings.last_choices(SETTINGS_SECTION))

        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter runs: type a name, model, optimizer…")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.setToolTip("Keeps the runs whose shown columns contain every word you type")
        self.filter_box.textChanged.connect(lambda text: self._filter(text=text))
        self.path_filter = QComboBox()
        for words, path in PATHS:
            self.path_filter.addItem(words, path)
        self.path_filter.setToolTip("Show the runs of one path only")
        self.path_filter.currentIndexChanged.connect(lambda _: self._filter(path=self.path_filter.currentData()))
        self.data_filter = QComboBox()
        self.data_filter.addItem("All data", "")
        self.data_filter.setToolTip("Show the runs on one dataset only")
        self.data_filter.currentIndexChanged.connect(lambda _: self._filter(data=self.data_filter.currentData()))
        self.count_label = muted_label("")
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.filter_box, 1)
        filters.addWidget(self.path_filter)
        filters.addWidget(self.data_filter)
        filters.addWidget(self.count_label)
        self.filter_bar = QWidget()
        self.filter_bar.setLayout(filters)
        self.empty_label = muted_label(
            "Runs you train appear here, newest first: their data, model, score and time. "
            "Open one to evaluate or export it, or train it for more epochs."
        )
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.evaluate_button = QPushButton("Open in Evaluate")
        self.evaluate_button.setProperty("role", "primary")
        self.evaluate_button.setToolTip("Load this run's model (and its data) and evaluate it")
        self.export_button = QPushButton("Open in Export")
        self.export_button.setToolTip("Load this run's model to save it in another format")
        self.more_button = QPushButton("Train more…")
        self.more_button.setToolTip("Continue this run from its last epoch for more epochs")
        self.compare_button = QPushButton("Compare curves")
        self.compare_button.setToolTip("Select two runs (Ctrl+click) to draw their curves together")
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Move the run folder to the trash (you can undo it)")
        self.folder_button = QPushButton("Show folder")
        self.evaluate_button.clicked.connect(lambda: self.open_selected("evaluate"))
        self.export_button.clicked.connect(lambda: self.open_selected("export"))
        self.more_button.clicked.connect(self.ask_train_more)
        self.compare_button.clicked.connect(self.compare_selected)
        self.rename_button.clicked.connect(self.ask_rename)
        self.delete_button.clicked.connect(self.delete_selected)
        self.folder_button.clicked.connect(self._show_folder)
        buttons = QHBoxLayout()
        for button in (
            self.evaluate_button,
            self.export_button,
            self.more_button,
            self.compare_button,
            self.rename_button,
            self.delete_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)

        self.undo_label = QLabel("")
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_row = QHBoxLayout()
        undo_row.addWidget(self.undo_label, 1)
        undo_row.addWidget(self.undo_button)
        self.undo_bar = QWidget()
        self.undo_bar.setLayout(undo_row)
        self.undo_bar.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(title)
        layout.addWidget(self.folder_note)
        layout.addLayout(buttons)
        layout.addWidget(self.undo_bar)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        session.run_finished.connect(lambda _summary: self.refresh())
        self.refresh()

    # -- listing --------------------------------------------------------------------------

    def refresh(self, renamed: dict[str, str] | None = None) -> None:
        """Read the runs folder again (cheap: one small JSON file per run); selection and open
        comparisons stay (``renamed``: old folder -> new folder of a run just renamed)."""
        self.entries = list_runs(self.runs_folder) if self.runs_folder else []
        self.table.set_entries(self.entries, renamed)
        self._update_data_choices()
        self.table.setVisible(bool(self.entries))
        self.filter_bar.setVisible(bool(self.entries))
        self.empty_label.setVisible(not self.entries)
        self._update_count()
        self._update_buttons()

    def selected_entries(self) -> list[RunEntry]:
        return self.table.selected_entries()

    def select(self, *paths: str | Path) -> None:
        """Select the rows of these run folders (for keyboard-free use and tests)."""
        self.table.select_paths(paths)

    def _filter(self, **what: str) -> None:
        self.table.proxy.set_filter(**what)
        self._update_count()
        self._update_buttons()

    def _update_count(self) -> None:
        shown, total = self.table.run_count()
        noun = "run" if total == 1 else "runs"
        self.count_label.setText(f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}")

    def _update_data_choices(self) -> None:
        """The data filter offers the datasets the runs trained on (the choice stays when it still applies)."""
        current = self.data_filter.currentData() or ""
        sources = self.table.data_sources()
        self.data_filter.blockSignals(True)
        self.data_filter.clear()
        self.data_filter.addItem("All data", "")
        for source in sources:
            self.data_filter.addItem(source, source)
        self.data_filter.setCurrentIndex(max(0, self.data_filter.findData(current)))
        self.data_filter.blockSignals(False)
        if current and current not in sources:
            self._filter(data="")

    def _save_columns(self) -> None:
        if self.settings is not None:
            self.settings.set_last_choices(SETTINGS_SECTION, self.table.column_state())

    def _update_buttons(self) -> None:
        entries = self.selected_entries()
        one = entries[0] if len(entries) == 1 else None
        has_model = one is not None and one.kind == "run" and one.has_model
        self.evaluate_button.setEnabled(has_model)
        self.export_button.setEnabled(has_model)
        self.more_button.setEnabled(has_model and one.config_path.is_file() and one.has_checkpoint)
        if one is not None and one.kind == "run" and not one.config_path.is_file():
            self.more_button.setToolTip("This run has no config.toml (made by an older Kiln), so it cannot continue")
        else:
            self.more_button.setToolTip("Continue this run from its last epoch for more epochs")
        self.compare_button.setEnabled(len(entries) >= 2 and all(e.kind == "run" for e in entries))
        self.rename_button.setEnabled(one is not None)
        self.delete_button.setEnabled(bool(entries))
        self.folder_button.setEnabled(one is not None or bool(self.runs_folder))

    # -- actions --------------------------------------------------------------------------

    def open_selected(self, target: str) -> None:
        entries = self.selected_entries()
        if len(entries) == 1 and entries[0].has_model:
            self.open_requested.emit(str(entries[0].model_path), entries[0].data_source, target)

    def ask_train_more(self) -> None:
        entries = self.selected_entries()
        if len(entries) != 1:
            return
        epochs, ok = QInputDialog.getInt(
            self, "Train more", f"Continue {entries[0].name} for how many more epochs?", 5, 1, 10_000
        )
        if ok:
            self.train_more_requested.emit(str(entries[0].path), epochs)

    def compare_selected(self) -> RunCurvesDialog | None:
        entries = [e for e in self.selected_entries() if e.kind == "run"]
        if len(entries) < 2:
            return None
        self.curves_dialog = RunCurvesDialog(entries, self)
        self.curves_dialog.show()
        return self.curves_dialog

    def ask_rename(self) -> None:
        entries = self.selected_entries()
        if len(entries) != 1:
            return
        name, ok = QInputDialog.getText(self, "Rename run", "New name:", text=entries[0].name)
        if ok and name.strip():
            self.rename(entries[0], name)

    def rename(self, entry: RunEntry, name: str) -> Path | None:
        try:
            path = rename_run(entry.path, name)
        except KilnError as exc:
            self.failed.emit("Cannot rename the run", WorkerError(exc.sentence, "", True, type(exc).__name__))
            return None
        except OSError as exc:
            self.failed.emit("Cannot rename the run", WorkerError(f"The folder could not be renamed: {exc}.", "", True))
            return None
        self.refresh(renamed={str(entry.path): str(path)})
        return path

    def delete_selected(self) -> int:
        """Move the selected run folders to the system trash; the undo bar brings them back."""
        moved = []
        for entry in self.selected_entries():
            trash = QFile(str(entry.path))
            if trash.moveToTrash():
                moved.append((str(entry.path), trash.fileName()))
            else:
                self.failed.emit(
                    "Cannot delete the run",
                    WorkerError(
                        f"{entry.name} could not be moved to the trash ({trash.errorString()}); "
                        "delete its folder by hand if you want it gone.",
                        "",
                        True,
                    ),
                )
        if moved:
            self._trashed = moved
            names = ", ".join(Path(original).name for original, _ in moved)
            self.undo_label.setText(f"Moved to the trash: {names}.")
            self.undo_bar.setVisible(True)
            self.refresh()
        return len(moved)

    def undo_delete(self) -> None:
        """Bring the last deleted runs back from the trash to where they were."""
        for original, in_trash in self._trashed:
            try:
                os.replace(in_trash, original)
            except OSError as exc:
                self.failed.emit(
                    "Cannot undo",
                    WorkerError(f"{Path(original).name} could not be brought back from the trash: {exc}.", "", True),
                )
                continue
            info = Path(in_trash).parent.parent / "info" / (Path(in_trash).name + ".trashinfo")
            info.unlink(missing_ok=True)  # the trash would list a file it no longer holds
        self._trashed = []
        self.undo_bar.setVisible(False)
        self.refresh()

    def _show_folder(self) -> None:
        entries = self.selected_entries()
        folder = str(entries[0].path) if len(entries) == 1 else self.runs_folder
        if folder:
            QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.refresh()  # runs may have been added from the command line meanwhile
        super().showEvent(event)


def wire_runs_page(window: Any) -> None:
    """Connect the Runs page to the window's other pages (called once by `MainWindow`)."""
    page: RunsPage = window.runs_page

    def ensure_data(source: str) -> bool:
        """Load the run's data when another dataset is open; True when it is already the current one."""
        current = window.session.dataset
        if not source or (current is not None and current.source == source):
            return True
        if source.startswith("demo:") or Path(source).exists():
            window.data_page.load(source)
        return False

    def open_run(model_path: str, source: str, target: str) -> None:
        ensure_data(source)
        window.open_run_model(model_path, target)

    def train_more(run_dir: str, more_epochs: int) -> None:
        if window.train_page.running:
            window.show_activity("A run is in progress: train more once it has ended.")
            return
        try:
            config = RunConfig.load(Path(run_dir) / "config.toml")
        except (KilnError, OSError, ValueError) as exc:
            window.show_failure(
                "Cannot continue this run",
                WorkerError(f"The run's config.toml could not be read: {exc}.", "", True),
            )
            return
        done = len(read_history(run_dir).get("loss", []))
        config = config.replace(train={"epochs": done + more_epochs})
        window.session.load_config(config)

        def start(_dataset: Any = None) -> None:
            current = window.session.dataset
            if current is None:
                return  # still loading
            window.session.dataset_changed.disconnect(start)
            if current.source != config.data.source:
                return  # the person opened other data meanwhile: do not train on it
            window.go_to("train")
            window.train_page.start(resume_dir=run_dir)

        window.session.dataset_changed.connect(start)
        if ensure_data(config.data.source):
            start()

    page.open_requested.connect(open_run)
    page.train_more_requested.connect(train_more)
