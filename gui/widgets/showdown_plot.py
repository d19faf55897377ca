"""The initializer showdown's curves: one loss curve per initializer, overlaid, plus its table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from kiln_lab.gui import theme


class ShowdownPlot(QWidget):
    """Validation (else training) loss per epoch for each contender; repainted when an epoch ends."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setTitle("Initializer showdown: loss per epoch", justify="left")
        item.setLabel("left", "loss (log)")
        item.setLabel("bottom", "epoch")
        item.setLogMode(y=True)
        item.showGrid(x=True, y=True, alpha=0.25)
        self.legend = item.addLegend(offset=(-6, 6), labelTextSize="8pt")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.points: dict[str, list[float]] = {}
        self.table = QLabel("")
        self.table.setWordWrap(True)
        self.table.setTextFormat(self.table.textFormat().RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.table)
        self.setMinimumHeight(220)
        self._restyle()
        theme.theme_changes.changed.connect(self._restyle)  # a bound method: disconnected when deleted

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(520, 320)  # a readable plot in a page that scrolls, not pyqtgraph's 480 px

    def _restyle(self, _dark: bool = False) -> None:
        from kiln_lab.gui.plots import style_plot

        style_plot(self.plot)
        title = "Initializer showdown: loss per epoch"
        self.plot.getPlotItem().setTitle(title, justify="left", color=theme.plot_colors().foreground)

    def reset(self) -> None:
        for curve in self.curves.values():
            self.plot.getPlotItem().removeItem(curve)
        self.legend.clear()
        self.curves.clear()
        self.points.clear()
        self.table.setText("")

    def begin(self, label: str) -> None:
        """A new contender starts: a curve of its own colour."""
        colors = theme.plot_colors().curves
        pen = pg.mkPen(colors[len(self.curves) % len(colors)], width=2)
        self.curves[label] = self.plot.plot([], [], pen=pen, symbol="o", symbolSize=5,
                                            symbolBrush=pen.color(), name=label)
        self.points[label] = []

    def add_epoch(self, label: str, loss: float) -> None:
        if label not in self.curves:
            self.begin(label)
        if not math.isfinite(loss) or loss <= 0:
            return  # a NaN epoch ends that curve; the table says so
        self.points[label].append(loss)
        y = np.asarray(self.points[label], dtype=np.float64)
        self.curves[label].setData(np.arange(1, len(y) + 1, dtype=np.float64), y)

    def show_result(self, showdown: Any) -> None:
        """The finished showdown: curves from its histories and the table with its sentence."""
        for row in showdown.rows:
            losses = row.history.get("val_loss") or row.history.get("loss") or []
            self.points[row.label] = []
            if row.label not in self.curves:
                self.begin(row.label)
            for value in losses:
                self.add_epoch(row.label, float(value))
        cells = "".join(
            f"<tr><td>{r.label}</td><td align='right'>{_fmt(r.final_loss)}</td><td align='right'>{_fmt(r.val_loss)}"
            f"</td><td align='right'>{_fmt(r.val_accuracy)}</td><td>{r.reason}</td></tr>" for r in showdown.rows
        )
        self.table.setText(
            "<table cellspacing='6'><tr><th align='left'>initializer</th><th>loss</th><th>val loss</th>"
            f"<th>val acc</th><th>ended</th></tr>{cells}</table><b>{showdown.sentence()}</b>"
        )


def _fmt(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.3f}"
