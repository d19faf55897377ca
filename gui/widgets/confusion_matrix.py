"""Confusion matrix heatmap (pyqtgraph ImageItem) with counts written in each cell."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from kiln_lab.gui import theme
from kiln_lab.gui.plots import release_menus_with

MAX_LABELLED_CELLS = 400  # above 20x20 classes the numbers would be unreadable; colours remain


class ConfusionMatrixPlot(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        release_menus_with(self)
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self._names: list[str] = []
        self._texts: list[pg.TextItem] = []
        self.image = pg.ImageItem(axisOrder="row-major")
        plot = self.getPlotItem()
        plot.addItem(self.image)
        plot.invertY(True)
        plot.setAspectLocked(True)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setLabel("left", "true class")
        plot.setLabel("bottom", "predicted class")
        self.setMinimumSize(280, 260)
        self._restyle()
        theme.theme_changes.changed.connect(self._restyle)

    def set_matrix(self, matrix: np.ndarray, class_names: list[str]) -> None:
        self.matrix = np.asarray(matrix)
        self._names = list(class_names)
        self._draw()

    def _draw(self) -> None:
        plot = self.getPlotItem()
        for text in self._texts:
            plot.removeItem(text)
        self._texts.clear()
        k = len(self._names)
        if k == 0:
            self.image.clear()
            return
        # Colour by the share of each true class (row), so rare classes are as visible as common ones.
        rows = self.matrix.sum(axis=1, keepdims=True).astype(float)
        share = np.divide(self.matrix, np.maximum(rows, 1.0))
        self.image.setImage(share, levels=(0.0, 1.0))
        low = "#f4f7fb" if not theme.is_dark() else "#23272e"
        self.image.setColorMap(pg.ColorMap([0.0, 1.0], [QColor(low), QColor(theme.ACCENT)]))
        self.image.setRect(-0.5, -0.5, k, k)
        if k * k <= MAX_LABELLED_CELLS:
            font = QFont()
            font.setPointSizeF(8 if k > 10 else 9)
            for i in range(k):
                for j in range(k):
                    color = QColor("white") if share[i, j] > 0.55 else QColor(theme.plot_colors().foreground)
                    text = pg.TextItem(str(int(self.matrix[i, j])), color=color, anchor=(0.5, 0.5))
                    text.setFont(font)
                    text.setPos(j, i)
                    plot.addItem(text)
                    self._texts.append(text)
        step = max(1, k // 20)
        ticks = [(float(i), self._names[i][:10]) for i in range(0, k, step)]
        plot.getAxis("bottom").setTicks([ticks])
        plot.getAxis("left").setTicks([ticks])
        plot.setXRange(-0.5, k - 0.5, padding=0.02)
        plot.setYRange(-0.5, k - 0.5, padding=0.02)

    def _restyle(self, _dark: bool = False) -> None:
        colors = theme.plot_colors()
        self.setBackground(colors.background)
        plot = self.getPlotItem()
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setPen(pg.mkPen(colors.foreground))
            plot.getAxis(axis).setTextPen(pg.mkPen(colors.foreground))
        if self._names:
            self._draw()
