"""Stacked per-class bar chart (pyqtgraph): samples per class in train / validation / test."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from gui import theme


class ClassCountsChart(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self._bars: list[pg.BarGraphItem] = []
        self._data: tuple[list[str], dict[str, np.ndarray]] = ([], {})
        self._max_ticks = 20
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.showGrid(y=True)
        plot.setLabel("left", "samples")
        self.legend = plot.addLegend(offset=(-8, 4), labelTextSize="8pt", colCount=3)
        self.setMinimumHeight(200)
        self._restyle()
        theme.theme_changes.changed.connect(self._restyle)

    def set_counts(self, class_names: list[str], counts_by_split: dict[str, dict[str, int]]) -> None:
        """``counts_by_split``: {"train": {class: n}, "val": {...}, "test": {...}}."""
        arrays = {
            split: np.array([counts.get(name, 0) for name in class_names], dtype=float)
            for split, counts in counts_by_split.items()
        }
        self._data = (class_names, arrays)
        self._max_ticks = 20
        self._draw()

    def set_histogram(self, values: np.ndarray, by_split: dict[str, np.ndarray], bins: int = 30) -> None:
        """A regression target: stacked histogram of the values in each split."""
        edges = np.histogram_bin_edges(np.asarray(values, float), bins=bins)
        centres = (edges[:-1] + edges[1:]) / 2
        arrays = {split: np.histogram(v, bins=edges)[0].astype(float) for split, v in by_split.items()}
        self._data = ([f"{c:.3g}" for c in centres], arrays)
        self._max_ticks = 8
        self._draw()

    def totals(self) -> np.ndarray:
        names, arrays = self._data
        return sum(arrays.values(), np.zeros(len(names)))

    def _draw(self) -> None:
        plot = self.getPlotItem()
        for bar in self._bars:
            plot.removeItem(bar)
            self.legend.removeItem(bar)
        self._bars.clear()
        names, arrays = self._data
        if not names:
            return
        colors = theme.plot_colors().curves
        x = np.arange(len(names), dtype=float)
        bottom = np.zeros(len(names))
        labels = {"train": "train", "val": "validation", "test": "test"}
        for i, (split, heights) in enumerate(arrays.items()):
            color = QColor(colors[[0, 1, 3][i % 3]])
            bar = pg.BarGraphItem(x=x, height=heights, y0=bottom, width=0.7, brush=color, pen=pg.mkPen(None))
            plot.addItem(bar)
            self.legend.addItem(bar, labels.get(split, split))
            self._bars.append(bar)
            bottom = bottom + heights
        step = max(1, int(np.ceil(len(names) / self._max_ticks)))  # keep tick labels readable
        ticks = [(float(i), names[i][:12]) for i in range(0, len(names), step)]
        plot.getAxis("bottom").setTicks([ticks])
        plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        plot.setYRange(0, max(1.0, float(bottom.max())) * 1.3, padding=0)  # room for the legend

    def _restyle(self, _dark: bool = False) -> None:
        from gui.plots import style_plot

        style_plot(self)
        self._draw()
