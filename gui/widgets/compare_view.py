"""Head-to-head results: from scratch vs fine-tuning on the same data.

Shows the engine's `Comparison` rows as a verdict sentence, a table (approach, data share,
training samples, validation score, seconds, trainable parameters) and a pyqtgraph chart of
the score against the share of training data, one line per approach. Only displays values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import theme

APPROACHES = {"scratch": "From scratch", "finetune": "Fine-tuning"}
COLUMNS = ["Approach", "Data", "Train samples", "Val score", "Seconds", "Epochs", "Trainable params", "All params"]


def lower_is_better(score_name: str) -> bool:
    return any(part in score_name for part in ("mae", "mse", "loss", "error"))


def score_words(score_name: str) -> str:
    """``val_accuracy`` -> ``val accuracy``, ``val_mae`` -> ``val MAE``."""
    name = score_name.replace("val_", "val ").replace("_", " ")
    return name.replace("mae", "MAE").replace("mse", "MSE")


def comparison_verdict(rows: list[Any]) -> str:
    """One or two sentences computed from the rows: the full-data scores and times, and who wins."""
    finished = [r for r in rows if math.isfinite(r.score)]
    if not finished:
        return "No run finished, so there is nothing to compare yet."
    top = max(r.data_fraction for r in finished)
    full = {r.approach: r for r in finished if r.data_fraction == top}
    score_name = finished[0].score_name
    words = score_words(score_name)
    share = "" if top >= 1.0 else f" with {top:.0%} of the training data"
    if len(full) < 2:
        only = next(iter(full.values()))
        return (
            f"Only {APPROACHES.get(only.approach, only.approach).lower()} finished{share}: "
            f"{only.score:.3f} {words} in {only.seconds:.1f} s (the comparison was stopped)."
        )
    ft, sc = full.get("finetune"), full.get("scratch")
    sentence = (
        f"Fine-tuning reached {ft.score:.3f} {words} in {ft.seconds:.1f} s; "
        f"from scratch {sc.score:.3f} in {sc.seconds:.1f} s{share}."
    )
    better = ft.score < sc.score if lower_is_better(score_name) else ft.score > sc.score
    if math.isclose(ft.score, sc.score, abs_tol=5e-4):
        return sentence + " Both scored the same."
    winner, loser = (ft, sc) if better else (sc, ft)
    speed = "faster" if winner.seconds <= loser.seconds else "slower"
    fractions = sorted({r.data_fraction for r in finished})
    extra = ""
    if len(fractions) > 1:
        low = fractions[0]
        small = {r.approach: r for r in finished if r.data_fraction == low}
        if len(small) == 2:
            extra = (
                f" With {low:.0%} of the data: fine-tuning {small['finetune'].score:.3f}, "
                f"from scratch {small['scratch'].score:.3f}."
            )
    return (
        f"{sentence} {APPROACHES[winner.approach]} wins by {abs(ft.score - sc.score):.3f} "
        f"and was {speed}.{extra}"
    )


class ScoreChart(pg.PlotWidget):
    """Validation score against the share of training data, one line per approach."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self._rows: list[Any] = []
        self.lines: dict[str, pg.PlotDataItem] = {}
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True)
        plot.setTitle("Validation score vs training data")
        plot.setLabel("bottom", "training data used (%)")
        plot.getAxis("left").enableAutoSIPrefix(False)
        self.legend = plot.addLegend(offset=(-8, -8), labelTextSize="9pt")
        self.setMinimumHeight(200)
        self._restyle()
        theme.theme_changes.changed.connect(self._restyle)

    def set_rows(self, rows: list[Any]) -> None:
        self._rows = list(rows)
        self._draw()

    def points(self, approach: str) -> tuple[np.ndarray, np.ndarray]:
        item = self.lines.get(approach)
        if item is None:
            return np.array([]), np.array([])
        x, y = item.getData()
        return (np.array([]) if x is None else x), (np.array([]) if y is None else y)

    def _draw(self) -> None:
        plot = self.getPlotItem()
        for item in self.lines.values():
            plot.removeItem(item)
            self.legend.removeItem(item)
        self.lines.clear()
        rows = [r for r in self._rows if math.isfinite(r.score)]
        if not rows:
            return
        plot.setLabel("left", score_words(rows[0].score_name))
        colors = theme.plot_colors().curves
        for i, approach in enumerate(("scratch", "finetune")):
            mine = sorted((r for r in rows if r.approach == approach), key=lambda r: r.data_fraction)
            if not mine:
                continue
            color = QColor(colors[[0, 1][i]])
            item = pg.PlotDataItem(
                [100.0 * r.data_fraction for r in mine],
                [r.score for r in mine],
                pen=pg.mkPen(color, width=2.5),
                symbol="o",
                symbolSize=9,
                symbolBrush=color,
                symbolPen=pg.mkPen(color),
                name=APPROACHES[approach],
            )
            plot.addItem(item)
            self.lines[approach] = item
        xs = [100.0 * r.data_fraction for r in rows]
        plot.setXRange(0, max(xs) * 1.05 if max(xs) > 0 else 100, padding=0)
        ys = [r.score for r in rows]
        low, high = min(ys), max(ys)
        span = max(high - low, 0.02)
        bottom = low - span * 0.6
        top = high + span * 0.25
        if not lower_is_better(rows[0].score_name):  # accuracy: never draw below 0 or far above 1
            bottom, top = max(0.0, bottom), min(top, 1.0 + span * 0.1) if high <= 1.0 else top
        plot.setYRange(bottom, top, padding=0)

    def _restyle(self, _dark: bool = False) -> None:
        from gui.plots import style_plot

        style_plot(self)
        self._draw()


class CompareView(QWidget):
    """Verdict, table and chart for one comparison."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []
        self.verdict = QLabel("Run a comparison from the Model page (Compare both…).")
        self.verdict.setWordWrap(True)
        self.verdict.setStyleSheet("font-size: 11pt; font-weight: 600;")
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.chart = ScoreChart()
        body = QHBoxLayout()
        body.addWidget(self.table, 5)
        body.addWidget(self.chart, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addLayout(body, 1)

    def set_rows(self, rows: list[Any]) -> None:
        self.rows = list(rows)
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            score = f"{r.score:.4f}" if math.isfinite(r.score) else "–"
            reason = "" if r.reason == "completed" else f" ({r.reason.replace('_', ' ')})"
            values = [
                APPROACHES.get(r.approach, r.approach) + reason,
                f"{r.data_fraction:.0%}",
                f"{r.train_samples:,}",
                score,
                f"{r.seconds:.1f}",
                str(r.epochs_run),
                f"{r.trainable_params:,}",
                f"{r.params:,}",
            ]
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, column, item)
        if self.rows:
            self.table.setHorizontalHeaderItem(3, QTableWidgetItem(score_words(self.rows[0].score_name)))
        self.chart.set_rows(self.rows)
        self.verdict.setText(comparison_verdict(self.rows))


class CompareDialog(QDialog):
    """A non-modal window holding the latest comparison's results."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("From scratch vs fine-tuning")
        self.view = CompareView()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(1140, 440)


class FractionsDialog(QDialog):
    """Ask which shares of the training data each approach trains on."""

    FRACTIONS = (0.1, 0.3, 1.0)

    def __init__(self, summary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare both approaches")
        intro = QLabel(summary)
        intro.setWordWrap(True)
        self.checks: dict[float, Any] = {}
        from PySide6.QtWidgets import QCheckBox

        row = QHBoxLayout()
        row.addWidget(QLabel("Training data:"))
        for fraction in self.FRACTIONS:
            check = QCheckBox(f"{fraction:.0%}")
            check.setToolTip(
                f"Train both approaches on {fraction:.0%} of the training split (validation stays the same)"
            )
            check.setChecked(fraction == 1.0)
            check.toggled.connect(self._update_ok)
            self.checks[fraction] = check
            row.addWidget(check)
        row.addStretch(1)
        note = QLabel("Each share trains both models once, so 3 shares take 6 runs. Stop ends it at any time.")
        note.setWordWrap(True)
        note.setProperty("role", "muted")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Compare")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def fractions(self) -> tuple[float, ...]:
        return tuple(f for f, check in self.checks.items() if check.isChecked())

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.fractions()))
