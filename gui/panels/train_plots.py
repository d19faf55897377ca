"""The Train page's live view: loss, metric and learning-rate plots, the run log and the backbone drift.

The plots keep the width of a 2x2 grid; the run log and, while fine-tuning, the backbone
drift share the fourth cell as tabs, so the drift plot never squeezes the loss plot's legend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.gui.plots import LivePlot
from kiln_lab.gui.widgets.compare_view import TrialsView
from kiln_lab.gui.widgets.drift_view import DriftView
from kiln_lab.gui.widgets.log_panel import LogPanel


def metric_key(task: str, logs: dict[str, float]) -> str | None:
    """The task's headline metric in Keras's log names (the engine decides: accuracy, or MAE)."""
    from kiln_lab.engine.models.heads import headline_metric

    return headline_metric(task, logs)


class FlowLayout(QLayout):
    """Widgets left to right, wrapping onto another row where the width runs out (Qt's flow layout
    example): the plot controls keep one row at 1280 px and take two, uncut, at 1100 px."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt's name)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt's name)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt's name)
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt's name)
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt's name)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt's name)
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt's name)
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if i.widget() is None or not i.widget().isHidden()]

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        """Place the visible widgets in rows; the last widget (Save plots) ends at the right edge of its row."""
        x, y, row_height = rect.x(), rect.y(), 0
        rows: list[list[tuple[QLayoutItem, int, QSize]]] = [[]]
        for item in self._visible():
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and rows[-1]:
                x, y = rect.x(), y + row_height + self._spacing
                row_height = 0
                rows.append([])
            rows[-1].append((item, x, hint))
            x += hint.width() + self._spacing
            row_height = max(row_height, hint.height())
        if move:
            top = rect.y()
            for row in rows:
                height = max((hint.height() for _i, _x, hint in row), default=0)
                for index, (item, left, hint) in enumerate(row):
                    if row is rows[-1] and index == len(row) - 1 and len(self._visible()) > 1:
                        left = rect.right() + 1 - hint.width()  # Save plots at the right, as before
                    item.setGeometry(QRect(QPoint(left, top + (height - hint.height()) // 2), hint))
                top += height + self._spacing
        return y + row_height - rect.y()


class TrainPlots(QWidget):
    """Plot controls, the three live plots and the log / drift tabs."""

    saved = Signal(str)  # a sentence for the log after the plots were saved
    save_failed = Signal(str)  # a sentence: the plots could not be saved

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.file_stem = "plots"  # the saved PNGs' names start with it (the run's name)

        view_controls = FlowLayout()
        self.log_check = QCheckBox("Log scale (loss)")
        self.log_check.setToolTip("Show the loss on a logarithmic axis, where late small improvements are visible")
        self.log_check.toggled.connect(lambda on: self.loss_plot.set_log_y(on))
        self.compare_check = QCheckBox("Show earlier runs")
        self.compare_check.setChecked(True)
        self.compare_check.setToolTip("Draw the curves of this session's earlier runs, dashed, behind the live ones")
        self.compare_check.toggled.connect(self.set_overlays_visible)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove the dashed curves of earlier runs")
        save_button = QPushButton("Save plots…")
        save_button.setToolTip("Save the three plots as PNG images")
        save_button.clicked.connect(self.save_plots)
        view_controls.addWidget(self.log_check)
        view_controls.addWidget(self.compare_check)
        view_controls.addWidget(self.clear_button)
        self.overlay_note = QLabel("")  # which earlier runs are drawn: "2 earlier runs on demo:digits"
        self.overlay_note.setProperty("role", "muted")
        view_controls.addWidget(self.overlay_note)
        self.results_button = QPushButton("Comparison results")
        self.results_button.setToolTip("Show the last head-to-head comparison of from scratch and fine-tuning")
        self.results_button.setEnabled(False)
        self.results_button.setVisible(False)  # shown once there is a comparison to show
        view_controls.addWidget(self.results_button)
        view_controls.addWidget(save_button)
        layout.addLayout(view_controls)

        self.loss_plot = LivePlot(
            "Loss",
            y_label="loss",
            empty_text="The loss appears here once training starts: a line through the batches "
            "and a dot per epoch for training and validation.",
        )
        self.loss_plot.add_curve("batch", "batches", color=2, width=1.5)
        self.loss_plot.add_curve("train", "train", color=0, markers=True)
        self.loss_plot.add_curve("val", "validation", color=1, markers=True)
        self.metric_plot = LivePlot(
            "Accuracy",
            y_label="accuracy",
            empty_text="Accuracy (or the error, for regression) on the training and validation data, "
            "one dot per finished epoch.",
        )
        self.metric_plot.add_curve("train", "train", color=0, markers=True)
        self.metric_plot.add_curve("val", "validation", color=1, markers=True)
        self.lr_plot = LivePlot(
            "Learning rate",
            y_label="rate",
            empty_text="The learning rate of each epoch: flat for a constant rate, falling for a schedule, "
            "stepping down for a second fine-tuning phase.",
        )
        self.lr_plot.add_curve("lr", "learning rate", color=3, markers=True)
        self.lr_plot.set_auto_log_y(True)  # logarithmic only when the rates span decades (schedules, two phases)
        self.plots = (self.loss_plot, self.metric_plot, self.lr_plot)

        self.log = LogPanel()
        self.drift_view = DriftView()  # fine-tuning only: its tab appears on the first DriftMeasured
        self.drift_view.hide()
        self.drift_tab = QWidget()  # holds the view, so its own show()/hide() never fights the tab stack
        drift_layout = QVBoxLayout(self.drift_tab)
        drift_layout.setContentsMargins(0, 0, 0, 0)
        drift_layout.addWidget(self.drift_view)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.log, "Run log")
        self.trials_view = TrialsView()  # a comparison only: its tab appears with the comparison's plan

        grid = QGridLayout()
        grid.setSpacing(8)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metric_plot, 0, 1)
        grid.addWidget(self.lr_plot, 1, 0)
        grid.addWidget(self.tabs, 1, 1)
        # Equal columns whatever the tabs hold: the drift tab appearing must not move the plots.
        self.tabs.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        layout.addLayout(grid, 1)
        self.set_overlay_note(0, "")

    # -- a run's curves -------------------------------------------------------------------

    def reset(self) -> None:
        """Empty curves and no phase bands, for a new run (earlier runs' overlays stay)."""
        for plot in self.plots:
            plot.reset()
            plot.clear_phases()

    def reset_drift(self) -> None:
        self.drift_view.reset()
        index = self.tabs.indexOf(self.drift_tab)
        if index >= 0:
            self.tabs.removeTab(index)

    def show_drift(self) -> None:
        """Give the drift view its tab (once per run) and bring it to the front."""
        if self.tabs.indexOf(self.drift_tab) < 0:
            self.tabs.addTab(self.drift_tab, "Backbone drift")
            self.tabs.setCurrentWidget(self.drift_tab)

    def reset_trials(self) -> None:
        self.trials_view.reset()
        index = self.tabs.indexOf(self.trials_view)
        if index >= 0:
            self.tabs.removeTab(index)

    def show_trials(self) -> None:
        """Give a comparison's runs their tab (once per comparison), in front: where one run is stopped."""
        if self.tabs.indexOf(self.trials_view) < 0:
            self.tabs.addTab(self.trials_view, "Comparison runs")
            self.tabs.setCurrentWidget(self.trials_view)

    def add_phase(self, first: float, end: float, name: str) -> None:
        for plot in self.plots:
            plot.add_phase(first, end, name)

    def begin_run(self, first_epoch: float, epochs: float, task: str) -> None:
        for plot in self.plots:
            plot.begin_run(first_epoch, epochs)
        regression = task == "regression"
        self.metric_plot.set_title(
            "Mean absolute error" if regression else "Accuracy", "MAE" if regression else "accuracy"
        )

    def end_run(self) -> None:
        for plot in self.plots:
            plot.end_run()

    # -- earlier runs ---------------------------------------------------------------------

    def add_overlays(self, runs: list[Any], task: str) -> None:
        """Dashed curves of ``runs`` (RunSummary) behind the live ones."""
        for summary in runs:
            history = summary.history
            epochs = [float(i + 1) for i in range(len(history.get("loss", [])))]
            self.loss_plot.add_overlay(f"{summary.name} train", epochs, history.get("loss", []), color=0)
            if "val_loss" in history:
                self.loss_plot.add_overlay(f"{summary.name} val", epochs, history["val_loss"], color=1)
            key = metric_key(task, history)
            if key:
                self.metric_plot.add_overlay(f"{summary.name} train", epochs, history[key], color=0)
                if f"val_{key}" in history:
                    self.metric_plot.add_overlay(f"{summary.name} val", epochs, history[f"val_{key}"], color=1)
            if "learning_rate" in history:
                self.lr_plot.add_overlay(summary.name, epochs, history["learning_rate"], color=3)
        self.set_overlays_visible(self.compare_check.isChecked())

    def set_overlay_note(self, count: int, data: str) -> None:
        """Say how many earlier runs are overlaid and on which data; nothing when none are."""
        text = f"{count} earlier run{'s' if count != 1 else ''} on {data}" if count else ""
        self.overlay_note.setText(text)
        self.overlay_note.setToolTip(
            f"{text}: this session's runs on the same data and task, dashed behind the live curves" if count else ""
        )
        self.clear_button.setEnabled(bool(count))

    def set_overlays_visible(self, visible: bool) -> None:
        for plot in self.plots:
            plot.set_overlays_visible(visible)

    def clear_overlays(self) -> None:
        for plot in self.plots:
            plot.clear_overlays()

    def save_plots(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save plots into folder")
        if not folder:
            return
        try:
            paths = [
                plot.save_png(Path(folder) / f"{self.file_stem}-{key}.png")
                for key, plot in (("loss", self.loss_plot), ("metric", self.metric_plot), ("lr", self.lr_plot))
            ]
        except OSError as exc:
            self.save_failed.emit(f"The plots could not be saved: {exc}.")
            return
        self.saved.emit(f"Saved {len(paths)} plots to {folder}.")
