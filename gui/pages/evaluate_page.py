"""Evaluate page: how the trained model does on held-out data, and a place to try it.

Classification: confusion matrix, per-class precision / recall / F1, misclassified
examples. Regression: predicted against true values, and residuals. "Try it" predicts on
a dropped image or a typed CSV row. Evaluation and prediction run in workers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.engine.export.runs import metric_words, run_name_for_model
from kiln_lab.gui import theme
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.panels.try_it_panel import TryItPanel
from kiln_lab.gui.plots import style_plot
from kiln_lab.gui.session import Session
from kiln_lab.gui.widgets.confusion_matrix import ConfusionMatrixPlot
from kiln_lab.gui.widgets.forms import muted_label, title_label
from kiln_lab.gui.widgets.image_grid import ImageGrid
from kiln_lab.gui.widgets.split_metrics_table import SplitMetricsTable
from kiln_lab.gui.workers import TaskSlot, Worker, run_in_background

MISCLASSIFIED_SHOWN = 32


class EvaluatePage(QWidget):
    busy = Signal(str)
    failed = Signal(str, object)
    evaluated = Signal(object)  # EvaluationReport

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        # One evaluation at a time; a report for an earlier model or dataset is dropped, never shown.
        self.slot = TaskSlot(self, current_key=lambda: (id(self.session.trained), id(self.session.dataset)))

        header = QHBoxLayout()
        titles = QVBoxLayout()
        self.title = title_label("Evaluate")
        self.subtitle = muted_label("Train a model (or open one) to see how it does on data it has not learned from.")
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header.addLayout(titles, 1)
        self.split_combo = QComboBox()
        self.split_combo.setToolTip("Which part of the data to evaluate on")
        for label, split in (("Validation split", "val"), ("Test split", "test"), ("Training split", "train")):
            self.split_combo.addItem(label, split)
        self._split_picked = False  # True once a person chose a split: then it is theirs
        self.split_combo.activated.connect(lambda _index: setattr(self, "_split_picked", True))
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setProperty("role", "primary")
        self.evaluate_button.setToolTip("Run the model over the chosen split (in the background)")
        self.evaluate_button.clicked.connect(self.evaluate)
        header.addWidget(self.split_combo, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.evaluate_button, 0, Qt.AlignmentFlag.AlignTop)

        self.metrics_label = QLabel("")
        self.metrics_label.setProperty("role", "big-number")
        self.metrics_label.setWordWrap(True)

        self.results = QStackedWidget()
        self.results.addWidget(self._build_classification())
        self.results.addWidget(self._build_regression())
        self.empty_state = muted_label("")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)
        self.results.addWidget(self.empty_state)  # index 2: what will appear, instead of empty axes
        self.try_it = TryItPanel()
        self.try_it.predict_image.connect(self.try_image)
        self.try_it.predict_row.connect(self.try_row)
        self.try_it.setMaximumWidth(320)

        # Training, validation and test side by side (issue 18, Create ML), in the column beside the
        # split's own views, above Try it: above the views it took the rows the per-class table needs.
        self.split_table = SplitMetricsTable()
        self.split_table.failed.connect(lambda e: self.failed.emit("Cannot score the model on each split", e))
        side = QWidget()
        side.setMaximumWidth(340)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.split_table)
        side_layout.addWidget(self.try_it, 1)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.setChildrenCollapsible(False)
        body.addWidget(self.results)
        body.addWidget(side)
        body.setStretchFactor(0, 1)
        body.setSizes([940, 300])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.addLayout(header)
        layout.addWidget(self.metrics_label)
        layout.addWidget(body, 1)
        session.model_changed.connect(self._on_model_changed)
        session.dataset_changed.connect(lambda _d: self._on_model_changed(self.session.trained))
        self._on_model_changed(None)

    def _build_classification(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QSplitter(Qt.Orientation.Horizontal)
        # Short enough for the narrower matrix beside the per-split column; the colour rule is a tooltip.
        matrix_box = QGroupBox("Confusion matrix (rows: true class)")
        matrix_box.setToolTip("Each row is a true class; a cell's colour is its share of that row's samples")
        matrix_layout = QVBoxLayout(matrix_box)
        self.confusion = ConfusionMatrixPlot()
        matrix_layout.addWidget(self.confusion)
        table_box = QGroupBox("Per class")
        table_layout = QVBoxLayout(table_box)
        self.per_class = QTableWidget(0, 5)
        self.per_class.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.per_class.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.per_class.setAlternatingRowColors(True)
        self.per_class.verticalHeader().setVisible(False)
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.per_class.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table_layout.addWidget(self.per_class)
        top.addWidget(matrix_box)
        top.addWidget(table_box)
        top.setSizes([480, 420])
        self.misclassified_box = QGroupBox("Misclassified (most confident mistakes first)")
        mis_layout = QVBoxLayout(self.misclassified_box)
        self.misclassified = ImageGrid(tile_size=52)
        self.misclassified.setMinimumHeight(150)
        mis_layout.addWidget(self.misclassified)
        layout.addWidget(top, 3)
        layout.addWidget(self.misclassified_box, 2)
        return panel

    def _build_regression(self) -> QWidget:
        panel = QWidget()
        layout = QHBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scatter_plot = pg.PlotWidget()
        self.scatter_plot.getPlotItem().setTitle("Predicted vs true")
        self.scatter_plot.setLabel("bottom", "true value")
        self.scatter_plot.setLabel("left", "predicted value")
        self.scatter = pg.ScatterPlotItem(size=6, pen=None)
        self.diagonal = pg.PlotDataItem(pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.scatter_plot.addItem(self.diagonal)
        self.scatter_plot.addItem(self.scatter)
        self.residual_plot = pg.PlotWidget()
        self.residual_plot.getPlotItem().setTitle("Residuals (predicted − true)")
        self.residual_plot.setLabel("bottom", "true value")
        self.residual_plot.setLabel("left", "residual")
        self.residuals = pg.ScatterPlotItem(size=6, pen=None)
        self.residual_plot.addItem(self.residuals)
        self.residual_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine)))
        for plot in (self.scatter_plot, self.residual_plot):
            plot.getPlotItem().showGrid(x=True, y=True, alpha=0.25)
        layout.addWidget(self.scatter_plot)
        layout.addWidget(self.residual_plot)
        self._restyle_regression()
        theme.theme_changes.changed.connect(self._restyle_regression)
        return panel

    def _restyle_regression(self, _dark: bool = False) -> None:
        colors = theme.plot_colors()
        style_plot(self.scatter_plot, "Predicted vs true")
        style_plot(self.residual_plot, "Residuals (predicted − true)")
        brush = pg.mkBrush(colors.curves[0] + "aa")
        self.scatter.setBrush(brush)
        self.residuals.setBrush(pg.mkBrush(colors.curves[1] + "aa"))

    # -- state ----------------------------------------------------------------------------

    def _on_model_changed(self, trained: Any) -> None:
        ready = trained is not None and self.session.dataset is not None
        self.try_it.clear()
        self.evaluate_button.setEnabled(ready)
        self.try_it.setEnabled(trained is not None)
        dataset = self.session.dataset
        self._show_empty_state(trained, dataset)
        if dataset is not None:
            preprocessing = dataset.summary().get("preprocessing") or {}
            self.try_it.set_input_kind(dataset.input_kind, list(preprocessing.get("columns") or []))
            for i in range(self.split_combo.count()):
                split = self.split_combo.itemData(i)
                has = len(dataset.splits.get(split, [])) > 0
                self.split_combo.model().item(i).setEnabled(has)
            # Judge on the held-out test split when there is one (as Getting started says), else on
            # validation; a split the person picked stays picked (issue 18.10).
            if not self._split_picked:
                preferred = "test" if len(dataset.splits.get("test", [])) else "val"
                self.split_combo.setCurrentIndex(self.split_combo.findData(preferred))
        if trained is None:
            self.title.setText("Evaluate")
            self.subtitle.setText("Train a model (or open one) to see how it does on data it has not learned from.")
        else:
            self.title.setText(f"Evaluate {run_name_for_model(trained.path) or trained.name}")  # the run, not "model"
            trained_on = (trained.record.get("dataset") or {}).get("source")
            on = f" It was trained on {trained_on}." if trained_on else ""
            self.subtitle.setText(("Not evaluated yet." if ready else "Load the data to evaluate it on.") + on)
        self.metrics_label.setText("")
        self.split_table.clear()
        if ready and self.isVisible():
            QTimer.singleShot(0, self.evaluate)  # a model opened from the Runs page, say: no extra click

    def _show_empty_state(self, trained: Any, dataset: Any) -> None:
        if trained is None:
            text = (
                "Train a model on the Train page, or open one (Runs page, or File > Open model), "
                "and its scores on data it has not learned from appear here: a confusion matrix, "
                "per-class precision and recall, and its most confident mistakes; for regression, "
                "predicted against true values and the residuals."
            )
        elif dataset is None:
            text = f"Load data (Data page) to evaluate {trained.name} on it."
        else:
            text = f"Evaluating {trained.name} on the chosen split; the results appear here."
        self.empty_state.setText(text)
        self.results.setCurrentWidget(self.empty_state)

    @property
    def needs_evaluation(self) -> bool:
        return (
            self.session.trained is not None
            and self.session.dataset is not None
            and self.session.evaluation is None
            and not self.slot.running
        )

    def evaluate(self) -> Worker | None:
        trained, dataset = self.session.trained, self.session.dataset
        if trained is None or dataset is None:
            return None
        if self.slot.running and not self.slot.is_stale(self.slot.worker):
            return self.slot.worker  # this model on this data is being evaluated already
        split = self.split_combo.currentData()
        if len(dataset.splits.get(split, [])) == 0:
            split = "val" if len(dataset.splits.get("val", [])) else "train"
        self.evaluate_button.setEnabled(False)
        self.subtitle.setText(f"Evaluating on the {split} split…")
        self.busy.emit(f"Evaluating {trained.name}…")
        key = (id(trained), id(dataset))
        self.split_table.refresh(trained, self.session.config.data, key=key,
                                 current_key=lambda: (id(self.session.trained), id(self.session.dataset)))
        return self.slot.start(
            Call.of("evaluate", model=trained, data=self.session.config.data, split=split,
                    pictures=MISCLASSIFIED_SHOWN),
            task="evaluating the model",
            key=(id(trained), id(dataset)),
            on_result=self._show_report,
            on_error=lambda e: self.failed.emit("Evaluation failed", e),
            on_finished=self._on_finished,
            on_cancelled=self._on_cancelled,
            activity=f"Evaluating on the {split} split…",
        )

    def _on_cancelled(self) -> None:
        """The status bar's Cancel (or Esc): the page as before, with a sentence (issue 18.8)."""
        self.subtitle.setText("Evaluation cancelled. Press Evaluate to run it again.")
        if self.results.currentWidget() is self.empty_state:
            self.empty_state.setText("Evaluation cancelled: nothing was scored. Press Evaluate to run it again.")

    def _on_finished(self) -> None:
        self.evaluate_button.setEnabled(self.session.trained is not None)
        self.busy.emit("")

    def _show_report(self, result: dict[str, Any]) -> None:
        report = result["report"]
        self.session.evaluation = report
        n = len(report.y_true)
        self.subtitle.setText(f"{n:,} samples of the {report.split} split.")
        if report.task == "classification":
            self.results.setCurrentIndex(0)
            accuracy = report.metrics.get("accuracy")
            wrong = len(report.misclassified)
            text = f"Accuracy {accuracy * 100:.1f} %" if accuracy is not None else ""
            self.metrics_label.setText(f"{text}  ·  {wrong:,} of {n:,} wrong")
            self.confusion.set_matrix(report.confusion, report.class_names)
            self._fill_per_class(report.per_class)
            self._show_misclassified(report, result["pictures"])
        else:
            self.results.setCurrentIndex(1)
            metrics = report.metrics
            self.metrics_label.setText(
                "  ·  ".join(f"{metric_words(k)} {v:.4g}" for k, v in metrics.items() if k != "samples")
            )
            dataset = self.session.dataset
            preprocessing = (dataset.summary().get("preprocessing") or {}) if dataset is not None else {}
            # The column's own name ("price"), from the config or what the table scan picked.
            target = self.session.config.data.target or preprocessing.get("target") or "value"
            self.scatter_plot.setLabel("bottom", f"true {target}")
            self.scatter_plot.setLabel("left", f"predicted {target}")
            self.residual_plot.setLabel("bottom", f"true {target}")
            self.residual_plot.setLabel("left", f"predicted − true {target}")
            y_true, y_pred = np.asarray(report.y_true, float), np.asarray(report.y_pred, float)
            self.scatter.setData(y_true, y_pred)
            low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
            self.diagonal.setData([low, high], [low, high])
            self.residuals.setData(y_true, y_pred - y_true)
        self.evaluated.emit(report)

    def _fill_per_class(self, rows: list[dict[str, Any]]) -> None:
        self.per_class.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [row["name"], row["precision"], row["recall"], row["f1"], row["support"]]
            for c, value in enumerate(values):
                text = f"{value:.3f}" if isinstance(value, float) else str(value)
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.per_class.setItem(r, c, item)
        # The table asks for the width of its columns, so the splitter never hides "Support" behind a
        # sideways scrollbar (the per-split column beside the views took that room at 1280 wide).
        table, header = self.per_class, self.per_class.horizontalHeader()
        first = max(table.sizeHintForColumn(0), header.sectionSizeHint(0))
        rest = sum(header.sectionSize(c) for c in range(1, table.columnCount()))
        frame = 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width() + 4
        table.setMinimumWidth(first + rest + frame)

    def _show_misclassified(self, report: Any, pictures: Any) -> None:
        names = report.class_names
        if not report.misclassified:
            self.misclassified.show_message("No mistakes on this split.")
            return
        if pictures is None:
            lines = [
                f"#{m.index}: true {names[m.true]}, predicted {names[m.predicted]} ({m.confidence:.0%})"
                for m in report.misclassified[:MISCLASSIFIED_SHOWN]
            ]
            self.misclassified.show_message("\n".join(lines))
            return
        worst, images = pictures
        self.misclassified.set_images(
            [
                (
                    image,
                    f"{names[m.predicted]} ✗ {m.confidence:.0%}\ntrue {names[m.true]}",
                    f"Sample {m.index}: predicted {names[m.predicted]} with {m.confidence:.0%} confidence; it is "
                    f"{names[m.true]}",
                )
                for m, image in zip(worst, images)
            ]
        )
        self.misclassified_box.setTitle(
            f"Misclassified: {len(report.misclassified):,} (showing the {len(worst)} most confident mistakes)"
        )

    # -- try it ---------------------------------------------------------------------------

    def try_image(self, path: str) -> Worker | None:
        return self._predict(path)

    def try_array(self, image: np.ndarray) -> Worker | None:
        """Predict on one sample given as an array (shaped like the training samples)."""
        return self._predict([image])

    def try_row(self, text: str) -> Worker | None:
        """Predict on one typed row; the engine splits it on the training file's delimiter."""
        if not text.strip():
            return None
        return self._predict([text.strip()])

    def _predict(self, inputs: Any) -> Worker | None:
        trained = self.session.trained
        if trained is None:
            return None
        summary = trained.record.get("dataset") or (self.session.dataset.summary() if self.session.dataset else {})
        if not summary:
            self.try_it.hint.setText("Kiln does not know how this model's inputs were prepared; load its dataset.")
            return None

        return run_in_background(
            Call.of("predict", model=trained, inputs=inputs, dataset_summary=summary, k=5),
            task="predicting",
            on_result=self.try_it.show_result,
            on_error=lambda e: self.failed.emit("Cannot predict on this input", e),
            parent=self,
        )
