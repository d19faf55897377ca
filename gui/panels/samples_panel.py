"""A look at the data: a few pictures per class, or the first rows of a table.

Reading runs in the panel's task slot; pictures that arrive for a dataset that is no longer
the one shown are dropped.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QStackedWidget, QTableWidget, QTableWidgetItem, QVBoxLayout

from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.widgets.image_grid import ClassRows
from kiln_lab.gui.workers import TaskSlot

THUMBNAILS_PER_CLASS = 8
TABLE_ROWS = 50


class SamplesPanel(QGroupBox):
    failed = Signal(str, object)  # dialog title, WorkerError

    def __init__(self, current_dataset: Any) -> None:
        """``current_dataset()`` says which dataset the page shows now (results for others are stale)."""
        super().__init__("Samples")
        layout = QVBoxLayout(self)
        self.stack = QStackedWidget()
        self.thumbnails = ClassRows(tile_size=44)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.stack.addWidget(self.thumbnails)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack)
        # The pictures depend on the samples, not the split: a re-split keeps the same loader.
        self.slot = TaskSlot(self, current_key=lambda: _samples_key(current_dataset()))

    def show_dataset(self, dataset: Any) -> None:
        if dataset.input_kind == "image":
            self.setTitle(f"Samples ({THUMBNAILS_PER_CLASS} per class)")
            self.stack.setCurrentWidget(self.thumbnails)
            self.thumbnails.set_rows({})
            self.slot.start(
                Call.of("sample_thumbnails", data=dataset.data, per_class=THUMBNAILS_PER_CLASS),
                task="reading sample images",
                key=_samples_key(dataset),
                on_result=self.thumbnails.set_rows,
                on_error=lambda e: self.failed.emit("Cannot show samples", e),
            )
        else:
            self.setTitle("First rows")
            self.stack.setCurrentWidget(self.table)
            self.slot.start(
                Call.of("table_preview", data=dataset.data, rows=TABLE_ROWS),
                task="reading the first rows",
                key=_samples_key(dataset),
                on_result=self._show_table,
                on_error=lambda e: self.failed.emit("Cannot show rows", e),
            )

    def _show_table(self, table: tuple[list[str], list[list[Any]]]) -> None:
        header, rows = table
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([str(h) for h in header])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()


def _samples_key(dataset: Any) -> Any:
    """The pictures depend on the samples, not the split: the same scanned data keeps them."""
    return None if dataset is None else (dataset.key, id(dataset.labels))
