"""Data page: open a source, watch the scan, then see what Kiln found in it.

Three states in one stack, each a panel (`gui/panels/`): the start panel (nothing loaded:
open, demos, recent), the scan in progress (progress + cancel), and the dataset view
(kind, class counts, samples, split, augmentation preview, problems). The page loads
data in its scan slot: a new scan cancels the one before, and a late result is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.panels.dataset_view import DatasetView
from kiln_lab.gui.panels.problems_panel import ProblemsPanel
from kiln_lab.gui.panels.scan_panel import ScanPanel
from kiln_lab.gui.panels.start_panel import StartPanel
from kiln_lab.gui.session import Session
from kiln_lab.gui.workers import TaskSlot, Worker, WorkerError


class DataPage(QWidget):
    """The first step: a dataset, its split and its augmentation."""

    busy = Signal(str)  # status-bar text while scanning ("" when idle)
    failed = Signal(str, object)  # dialog title, WorkerError
    loaded = Signal(str)  # the source, for the recent list
    # What the start panel asks of the window (it owns the file dialogs and the backbone choice).
    open_folder_requested = Signal()
    open_file_requested = Signal()
    source_requested = Signal(str)  # a demo or a recent dataset
    demo_backbone_requested = Signal()

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.binding = FormBinding(session, self)
        self.scan_slot = TaskSlot(self)
        self.split_slot = TaskSlot(self)
        self.target_slot = TaskSlot(self)

        self.start = StartPanel()
        self.scan_panel = ScanPanel()
        self.view = DatasetView(self.binding, lambda: self.session.dataset)
        self.stack = QStackedWidget()
        for panel in (self.start, self.scan_panel, self.view):
            self.stack.addWidget(panel)
        # Why the last data opened could not be used, with every file it is about: the dialog says
        # it once, this stays on the page (also when no file at all could be read).
        self.failure = ProblemsPanel()
        self.failure.setVisible(False)
        self.failure.setMaximumHeight(230)  # the start panel above keeps its room; the list scrolls
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.failure)

        self.scan_panel.cancel.connect(self.cancel_scan)
        self.start.open_folder.connect(self.open_folder_requested)
        self.start.open_file.connect(self.open_file_requested)
        self.start.load_source.connect(self.source_requested)
        self.start.demo_backbone.connect(self.demo_backbone_requested)
        self.view.reload_button.clicked.connect(lambda: self.load(self.session.config.data.source))
        self.view.close_button.clicked.connect(lambda: self.stack.setCurrentWidget(self.start))
        self.view.samples.failed.connect(self.failed)
        # Re-splitting the loaded data waits for the slider to rest.
        self._split_timer = QTimer(self)
        self._split_timer.setSingleShot(True)
        self._split_timer.setInterval(150)
        self._split_timer.timeout.connect(self._apply_split)
        self._split_shown: tuple[float, float, int] | None = None  # (val, test, seed) of the data shown
        self._target_shown: tuple[str | None, str] | None = None  # (target, task) of the data shown
        session.config_changed.connect(self._on_config_changed)
        session.config_loaded.connect(self.binding.show)

    def set_recent(self, sources: list[str]) -> None:
        """The recent datasets the start panel offers."""
        self.start.set_recent(sources)

    # -- loading --------------------------------------------------------------------------

    def load(self, source: str, *, fresh: bool = False) -> Worker:
        """Scan ``source`` (a path or demo:NAME) in a worker; progress shows on the scan panel.

        ``fresh``: a person opened this data (not a run or config that names it), so it starts
        with the strong defaults (`engine.training.starting`): a test share, augmentation for
        images, and fine-tuning where the data fits a backbone.
        """
        data: dict[str, Any] = {"source": source}
        if source != self.session.config.data.source:
            data.update(target=None, task="auto")  # another table's column names mean nothing here
        config = self.session.config.replace(data=data)
        self.scan_panel.begin(source)
        self.failure.setVisible(False)
        self.stack.setCurrentWidget(self.scan_panel)
        self.busy.emit(f"Scanning {Path(source).name or source}…")

        worker: Worker | None = None

        def on_error(error: WorkerError) -> None:
            if worker is not None and worker.context.cancelled:
                self._back_from_scan()
                self.busy.emit("")
                return
            # Not the previous dataset's view: its problems are not this data's.
            self.stack.setCurrentWidget(self.start)
            if error.user_error:
                self.failure.show_failure(source, error.sentence, error.items)
                self.failure.setVisible(True)
            self.failed.emit("Cannot use this data", error)

        loaded: list[bool] = []

        def on_result(opened: Any) -> None:
            loaded.append(True)
            self._on_loaded(opened.config, opened.dataset)

        def on_finished() -> None:
            self.busy.emit("")
            if loaded:  # a target or split picked between the result and the scan's end was held back
                self._on_config_changed(self.session.config)

        worker = self.scan_slot.start(
            Call.of("open_dataset", config=config, fresh=fresh),
            task="scanning the dataset",
            on_progress=self._on_scan_progress,
            on_result=on_result,
            on_error=on_error,
            on_finished=on_finished,
        )
        return worker

    def cancel_scan(self) -> None:
        worker = self.scan_slot.worker
        if worker is not None and worker.running:
            worker.cancel()  # the worker reports "cancelled" as an error; the slot still delivers it
            self.scan_panel.message.setText("Cancelling…")
            self.scan_panel.cancel_button.setEnabled(False)

    @property
    def scanning(self) -> bool:
        return self.scan_slot.running

    def _on_scan_progress(self, event: Any) -> None:
        done = getattr(event, "done", 0)
        total = getattr(event, "total", None)
        self.scan_panel.report(done, total, getattr(event, "message", ""))

    def _back_from_scan(self) -> None:
        self.stack.setCurrentWidget(self.view if self.session.dataset is not None else self.start)

    def _on_loaded(self, config: Any, dataset: Any) -> None:
        """The engine scanned the data; ``config`` is the run config it was scanned for (with the
        starting defaults for freshly opened data)."""
        data_config = config.data
        self._split_shown = (data_config.val_split, data_config.test_split, data_config.seed)
        self._target_shown = _target_of(config)
        self.session.update(data=data_config, model=config.model)
        self.session.set_dataset(dataset)
        self.show_dataset(dataset)
        self.loaded.emit(data_config.source)

    # -- showing --------------------------------------------------------------------------

    def show_dataset(self, dataset: Any) -> None:
        self.stack.setCurrentWidget(self.view)
        self.view.show_dataset(dataset)

    def _on_config_changed(self, config: Any) -> None:
        if self.session.dataset is None or self.scanning:
            return
        if _target_of(config) != self._target_shown and config.data.source == self.session.dataset.source:
            self._retarget()
        elif _split_of(config) != self._split_shown:
            self._split_timer.start()

    def _retarget(self) -> None:
        """Another target column or task: the engine reads the table again that way. A choice it
        cannot use (regression on a column of words) is said under the controls and undone."""
        data, source = self.session.config.data, self.session.dataset.source
        wanted, kept = _target_of(self.session.config), self._target_shown
        self._target_shown = wanted
        self._split_shown = _split_of(self.session.config)
        self.view.target.show_note("Reading the table again…")
        self.busy.emit("Reading the table again…")

        def on_result(info: Any) -> None:
            current = self.session.dataset
            if current is None or current.source != source or _target_of(self.session.config) != wanted:
                return  # other data, or another choice, came meanwhile
            self.session.set_dataset(info)
            self.view.show_dataset(info)

        def on_error(error: WorkerError) -> None:
            if _target_of(self.session.config) != wanted:
                return
            self._target_shown = kept
            self.session.update(data={"target": kept[0], "task": kept[1]})  # back to what the page shows
            self.view.target.show_note(f"{error.sentence} The earlier choice is kept.", problem=True)
            if not error.user_error:  # a bug, not the choice: the dialog has the details
                self.failed.emit("Cannot read the table that way", error)

        self.target_slot.start(
            Call.of("scan_dataset", data=data, rescan=False),
            task="reading the table again",
            on_result=on_result,
            on_error=on_error,
            on_finished=lambda: self.busy.emit(""),
        )

    def _apply_split(self) -> None:
        """Re-split the loaded dataset (seeded, stratified) without rescanning it: the engine keeps
        the scanned data and splits it anew (a run already training keeps the split it started with)."""
        dataset, data = self.session.dataset, self.session.config.data
        if dataset is not None and _split_of(self.session.config) != self._split_shown:
            self._split_shown = _split_of(self.session.config)
            source = dataset.source
            self.split_slot.start(
                Call.of("scan_dataset", data=data, rescan=False),
                task="splitting the dataset",
                on_result=lambda info: self._on_split(info, source),
                on_error=lambda e: self.failed.emit("Cannot split the data", e),
            )

    def _on_split(self, info: Any, source: str) -> None:
        current = self.session.dataset
        if current is None or current.source != source:
            return  # other data was opened meanwhile
        self.session.set_dataset(info)
        self.view.show_split(info)


def _target_of(config: Any) -> tuple[str | None, str]:
    return config.data.target, config.data.task


def _split_of(config: Any) -> tuple[float, float, int]:
    return config.data.val_split, config.data.test_split, config.data.seed
