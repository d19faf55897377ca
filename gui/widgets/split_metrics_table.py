"""Training, validation and test metrics side by side for one model (Create ML's table).

Rows are the metrics (loss, accuracy, macro F1; regression: loss, MAE, RMSE, R²), columns the
splits the data has; a split it lacks is said under the table ("no test split"), and so is a large
gap between training and validation (overfitting). The engine's ``split_metrics`` task scores
the model on each split with its own compiled metrics (`engine.analysis.split_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.engine.export.runs import metric_words
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.workers import TaskSlot, Worker

SPLIT_TITLES = {"train": "Training", "val": "Validation", "test": "Test"}
# What each split is, for the column headers' tooltips.
SPLIT_HELP = {
    "train": "The samples the model learned from (without augmentation): a high score here alone proves little.",
    "val": "Samples held out while training, used to pick settings and watch for overfitting.",
    "test": "Samples kept aside and never used while training or choosing settings: the fairest score.",
}
METRIC_HELP = {
    "loss": "The quantity training minimised (cross-entropy, or squared error for regression): lower is better.",
    "accuracy": "Share of samples whose predicted class is the true one.",
    "macro_f1": "F1 (the balance of precision and recall) averaged over the classes, each class counting alike.",
    "mae": "Mean absolute error: the average size of a prediction's error, in the target's units.",
    "rmse": "Root mean squared error: like the mean absolute error, but large errors weigh more.",
    "samples": "How many samples of this split the scores are over.",
    "r2": "R²: the share of the target's variation the model explains (1 is perfect, 0 is no better than the mean).",
}
PERCENT = {"accuracy", "macro_f1"}  # shown as percentages
ROW_NAMES = {"loss": "Loss", "accuracy": "Accuracy", "macro_f1": "Macro F1", "mae": "Mean absolute error",
             "rmse": "Root mean squared error", "r2": "R²", "samples": "Samples"}


def metric_text(key: str, value: float) -> str:
    if key == "samples":
        return f"{int(value):,}"
    return f"{value * 100:.1f} %" if key in PERCENT else f"{value:.4g}"


class SplitMetricsTable(QWidget):
    """The table and its notes; `refresh` asks the engine, `show_result` fills it."""

    failed = Signal(object)  # WorkerError

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current_key: Callable[[], Any] | None = None  # what the page shows now (a late result is dropped)
        self._key: Any = None  # the model and data the table is (being) made for
        self.slot = TaskSlot(self, current_key=lambda: self._current_key() if self._current_key else None)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setProperty("role", "muted")
        self.gap = QLabel("")
        self.gap.setWordWrap(True)
        self.gap.setStyleSheet("font-weight: 600;")
        self.gap.hide()
        notes = QVBoxLayout()
        notes.setContentsMargins(0, 0, 0, 0)
        notes.addWidget(self.gap)
        notes.addWidget(self.note)
        notes.addStretch(1)
        # The table above its notes: the Evaluate page gives it the narrow column beside the views.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(notes)
        self.result: dict[str, Any] | None = None
        self.clear()

    # -- asking ---------------------------------------------------------------------------

    def refresh(self, trained: Any, data: Any, *, key: Any = None,
                current_key: Callable[[], Any] | None = None) -> Worker | None:
        """Score ``trained`` (a model handle) on every split of ``data`` (a DataConfig) in the engine.

        The table is for the model and the data, not the split the page shows: asked again for the
        same ``key`` (another split picked), it keeps what it has or is getting (None is returned)."""
        if key is not None and key == self._key and (self.result is not None or self.slot.running):
            return None
        self._key = key
        self._current_key = current_key
        self.result = None
        self.setVisible(True)
        self.table.hide()
        self.gap.hide()
        self.note.setText("Scoring the model on the training, validation and test splits…")
        return self.slot.start(
            Call.of("split_metrics", model=trained, data=data),
            task="scoring the model on each split",
            key=key,
            on_result=self.show_result,
            on_error=self._on_error,
        )

    def clear(self, text: str = "") -> None:
        """Empty and hidden (``text``: a note to show instead); a task under way is cancelled."""
        self.slot.cancel()
        self._key = None
        self.result = None
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.table.hide()
        self.gap.hide()
        self.note.setText(text)
        self.setVisible(bool(text))

    def _on_error(self, error: Any) -> None:
        self.note.setText(f"The per-split table could not be made: {error.sentence}")
        self.failed.emit(error)

    # -- showing --------------------------------------------------------------------------

    def show_result(self, result: dict[str, Any]) -> None:
        self.result = result
        self.setVisible(True)
        splits, columns = list(result["splits"]), result["columns"]
        rows = [*result["rows"], "samples"]  # the last row says how many samples each score is over
        self.table.setColumnCount(len(splits))
        self.table.setRowCount(len(rows))
        for c, split in enumerate(splits):
            header = QTableWidgetItem(SPLIT_TITLES.get(split, split))
            header.setToolTip(SPLIT_HELP.get(split, ""))
            self.table.setHorizontalHeaderItem(c, header)
        for r, key in enumerate(rows):
            name = ROW_NAMES.get(key) or metric_words(key).capitalize()
            if key == "loss":  # what training minimised, named
                name = "Loss (squared error)" if result.get("task") == "regression" else "Loss (cross-entropy)"
            label = QTableWidgetItem(name)
            label.setToolTip(METRIC_HELP.get(key, ""))
            self.table.setVerticalHeaderItem(r, label)
            for c, split in enumerate(splits):
                value = columns[split].get(key)
                item = QTableWidgetItem("" if value is None else metric_text(key, float(value)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.setToolTip("The same metrics on each part of the data, computed with the model as it is now.")
        self.table.show()
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        self.table.setFixedSize(self._table_size())
        notes = []
        missing = [SPLIT_TITLES.get(s, s).lower() for s in result.get("missing", [])]
        if "test" in result.get("missing", []):
            notes.append("No test split: the data has no samples kept aside for a final test (set a test share on "
                         "the Data page to get one).")
        other = [m for m in missing if m != "test"]
        if other:
            notes.append(f"No {' or '.join(other)} split in this data.")
        if not result.get("gap") and "val" in splits and "train" in splits:
            notes.append("Training and validation scores are close: no sign of overfitting.")
        self.note.setText(" ".join(notes))
        gap = result.get("gap")
        self.gap.setText(gap or "")
        self.gap.setVisible(bool(gap))

    def _table_size(self) -> QSize:
        header = self.table.horizontalHeader()
        side = self.table.verticalHeader()
        width = side.width() + sum(header.sectionSize(c) for c in range(self.table.columnCount())) + 4
        height = header.height() + sum(side.sectionSize(r) for r in range(self.table.rowCount())) + 4
        return QSize(width, height)

    def column(self, split: str) -> list[str]:
        """The texts of one split's column (tests, and reading it back)."""
        if self.result is None or split not in self.result["splits"]:
            return []
        c = self.result["splits"].index(split)
        return [self.table.item(r, c).text() for r in range(self.table.rowCount())]

    def headers(self) -> list[str]:
        return [self.table.horizontalHeaderItem(c).text() for c in range(self.table.columnCount())]
