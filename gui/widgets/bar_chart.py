"""Stacked per-class bar chart (pyqtgraph): samples per class in train / validation / test.

The class names under the bars stay readable at any width (issue 18.11: at 1100x680 forty
names were drawn on top of each other). `CategoryAxis` lays them out for the room it has:
side by side when every name fits its bar, else turned upright (one line of text per bar),
long names shortened in the middle ("Long cla…r 12 of many", so names that differ at the
end stay apart), and only every second or third name when even upright lines do not fit.
Every bar's whole name and counts show in a tooltip when the pointer is over it.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QApplication, QToolTip, QWidget

from kiln_lab.gui import theme

SPLIT_WORDS = {"train": "train", "val": "validation", "test": "test"}


def short_names(names: list[str]) -> list[str]:
    """The names without the words they all begin and end with: "Long class name number 07 of
    many" -> "…07…" when every name is "Long class name number NN of many" (the axis shows the
    short form only when the whole name does not fit; the tooltip always has the whole)."""
    if len(names) < 2:
        return list(names)
    words = [name.split(" ") for name in names]
    head = 0
    while all(len(w) > head + 1 for w in words) and len({tuple(w[: head + 1]) for w in words}) == 1:
        head += 1
    tail = 0
    while all(len(w) > head + tail + 1 for w in words) and len({tuple(w[len(w) - tail - 1:]) for w in words}) == 1:
        tail += 1
    if not head and not tail:
        return list(names)
    return [("…" if head else "") + " ".join(w[head: len(w) - tail]) + ("…" if tail else "") for w in words]


class CategoryAxis(pg.AxisItem):
    """A bottom axis that draws one name per bar where there is room for it (see the module doc)."""

    GAP = 6.0  # px between two names
    OVERHANG = 12.0  # px a name may reach past the axis's ends (within pyqtgraph's 15 px drawing margin)
    MAX_UPRIGHT = 96.0  # px: the longest upright name; longer ones are shortened in the middle

    def __init__(self) -> None:
        self.names: list[str] = []  # before the base class, whose set-up already resizes the axis
        self.short: list[str] = []  # the names without what they all share (see `short_names`)
        self.numeric = False  # bin centres of a histogram: always side by side, never upright
        self._height = 0.0
        super().__init__("bottom")
        font = QFont(QApplication.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        # hideOverlappingLabels=False: the drawing area reaches 15 px past each end, for the first
        # and last names (no names overlap here: `label_specs` spaces them).
        self.setStyle(tickFont=font, autoExpandTextSpace=False, hideOverlappingLabels=False)

    def set_names(self, names: list[str], *, numeric: bool = False) -> None:
        self.names = list(names)
        self.numeric = numeric
        self.short = short_names(self.names)
        self.setTicks([[(float(i), "") for i in range(len(names))]])  # a tick mark under each bar
        self._want_height(self.layout_for(self._length())[2])

    # -- layout ------------------------------------------------------------------------------

    def metrics(self) -> QFontMetricsF:
        return QFontMetricsF(self.style["tickFont"])

    def _length(self) -> float:
        return float(self.geometry().width())

    def layout_for(self, length: float) -> tuple[bool, int, float]:
        """(upright, every how many names one is drawn, the axis height) for an axis ``length`` px long."""
        if not self.names or length <= 0:
            return False, 1, self._base_height(self.metrics().height())
        metrics = self.metrics()
        per_bar = length / len(self.names)
        widest = max(metrics.horizontalAdvance(name) for name in self.names)
        side_by_side = max(1, math.ceil((widest + self.GAP) / per_bar))
        if self.numeric or side_by_side == 1:
            return False, side_by_side, self._base_height(metrics.height())
        line = metrics.height()
        stride = max(1, math.ceil((line + 1) / per_bar))
        # Upright names longer than the room are shown in their short form (`short_names`).
        shown = max(
            width if width <= self.MAX_UPRIGHT else metrics.horizontalAdvance(short)
            for width, short in zip((metrics.horizontalAdvance(n) for n in self.names), self.short, strict=True)
        )
        return True, stride, self._base_height(min(shown, self.MAX_UPRIGHT))

    def _base_height(self, text: float) -> float:
        return math.ceil(text + max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1] + 4)

    def _want_height(self, height: float) -> None:
        if abs(height - self._height) >= 1:
            self._height = height
            self.setHeight(int(height))

    def label_specs(self) -> list[tuple[QRectF, str, str, bool]]:
        """The names as drawn: (rect in axis coordinates, shown text, whole name, upright)."""
        length = self._length()
        upright, stride, _height = self.layout_for(length)
        low, high = self.range
        if not self.names or high <= low:
            return []
        metrics = self.metrics()
        top = max(0, self.style["tickLength"]) + self.style["tickTextOffset"][1]
        room = max(0.0, self.geometry().height() - top - 2)
        per_bar = length / len(self.names)
        specs = []
        for index in range(0, len(self.names), stride):
            x = (index - low) / (high - low) * length
            name = self.names[index]
            if metrics.horizontalAdvance(name) > (min(room, self.MAX_UPRIGHT) if upright else per_bar * stride):
                name = self.short[index]  # too long: the part that tells it from the others first
            if upright:
                text = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, min(room, self.MAX_UPRIGHT))
                size = metrics.horizontalAdvance(text)
                rect = QRectF(x - metrics.height() / 2, top, metrics.height(), size)
            else:
                per_label = per_bar * stride - self.GAP
                text = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, max(per_label, 0.0))
                size = metrics.horizontalAdvance(text)
                rect = QRectF(x - size / 2, top, size, metrics.height())
            if text and rect.left() >= -self.OVERHANG and rect.right() <= length + self.OVERHANG:
                specs.append((rect, text, self.names[index], upright))
        return specs

    def resizeEvent(self, event=None) -> None:  # noqa: N802 - Qt override
        # A new width may turn the names upright (or back): the axis takes the height that needs.
        super().resizeEvent(event)
        if self.style.get("tickFont") is not None:
            self._want_height(self.layout_for(self._length())[2])

    # -- drawing -----------------------------------------------------------------------------

    def generateDrawSpecs(self, p: QPainter):  # noqa: N802 - pyqtgraph override
        """pyqtgraph's axis line and tick marks; the names are ours (`label_specs`), so a check of
        what an axis draws (tests/gui/test_layout.py) reads the real rectangles."""
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, _texts = specs
        flags = Qt.AlignmentFlag.AlignCenter
        return axis, ticks, [(rect, flags, text) for rect, text, _name, _up in self.label_specs()]

    def drawPicture(self, p: QPainter, axisSpec, tickSpecs, textSpecs) -> None:  # noqa: N802, N803
        super().drawPicture(p, axisSpec, tickSpecs, [])
        p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        for rect, _text, _name, upright in self.label_specs():
            text = _text
            if not upright:
                p.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
                continue
            # Upright: read bottom to top, the name's end next to its bar.
            p.save()
            p.translate(QPointF(rect.center().x(), rect.top()))
            p.rotate(-90)
            p.drawText(QRectF(-rect.height(), -rect.width() / 2, rect.height(), rect.width()),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
            p.restore()


def _number(value: float) -> str:
    """A histogram bin's centre as people write it: 2036, 0.153, 1.2e+06."""
    return f"{value:.4g}" if value == 0 or 1e-3 <= abs(value) < 1e5 else f"{value:.2e}"


class ClassCountsChart(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        self.axis = CategoryAxis()
        super().__init__(parent=parent, axisItems={"bottom": self.axis})
        self._bars: list[pg.BarGraphItem] = []
        self._data: tuple[list[str], dict[str, np.ndarray]] = ([], {})
        self._histogram = False
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.showGrid(y=True)
        plot.setLabel("left", "samples")
        self.legend = plot.addLegend(offset=(-8, 4), labelTextSize="8pt", colCount=3)
        self.setMinimumHeight(200)
        self.setToolTip("Point at a bar for its whole name and counts")
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._restyle()
        theme.theme_changes.changed.connect(self._restyle)

    def set_counts(self, class_names: list[str], counts_by_split: dict[str, dict[str, int]]) -> None:
        """``counts_by_split``: {"train": {class: n}, "val": {...}, "test": {...}}."""
        arrays = {
            split: np.array([counts.get(name, 0) for name in class_names], dtype=float)
            for split, counts in counts_by_split.items()
        }
        self._data = (list(class_names), arrays)
        self._histogram = False
        self._draw()

    def set_histogram(self, values: np.ndarray, by_split: dict[str, np.ndarray], bins: int = 30) -> None:
        """A regression target: stacked histogram of the values in each split."""
        edges = np.histogram_bin_edges(np.asarray(values, float), bins=bins)
        centres = (edges[:-1] + edges[1:]) / 2
        arrays = {split: np.histogram(v, bins=edges)[0].astype(float) for split, v in by_split.items()}
        self._data = ([_number(c) for c in centres], arrays)
        self._histogram = True
        self._draw()

    def totals(self) -> np.ndarray:
        names, arrays = self._data
        return sum(arrays.values(), np.zeros(len(names)))

    def bar_text(self, index: int) -> str:
        """What the tooltip says about one bar: its whole name and its count in each split."""
        names, arrays = self._data
        if not 0 <= index < len(names):
            return ""
        counts = ", ".join(f"{SPLIT_WORDS.get(split, split)} {int(heights[index]):,}"
                           for split, heights in arrays.items())
        what = f"around {names[index]}" if self._histogram else names[index]
        return f"{what}: {counts}"

    def _on_mouse_moved(self, position: QPointF) -> None:
        names, _arrays = self._data
        view = self.getPlotItem().vb
        if not names or not self.sceneBoundingRect_contains(position):
            return
        index = int(round(view.mapSceneToView(position).x()))
        text = self.bar_text(index)
        if text:
            QToolTip.showText(QCursor.pos(), text, self)

    def sceneBoundingRect_contains(self, position: QPointF) -> bool:  # noqa: N802 - reads as Qt's
        plot = self.getPlotItem()
        return plot.vb.sceneBoundingRect().contains(position) or self.axis.sceneBoundingRect().contains(position)

    def _draw(self) -> None:
        plot = self.getPlotItem()
        for bar in self._bars:
            plot.removeItem(bar)
            self.legend.removeItem(bar)
        self._bars.clear()
        names, arrays = self._data
        self.axis.set_names(names, numeric=self._histogram)
        if not names:
            return
        colors = theme.plot_colors().curves
        x = np.arange(len(names), dtype=float)
        bottom = np.zeros(len(names))
        for i, (split, heights) in enumerate(arrays.items()):
            color = QColor(colors[[0, 1, 3][i % 3]])
            bar = pg.BarGraphItem(x=x, height=heights, y0=bottom, width=0.7, brush=color, pen=pg.mkPen(None))
            plot.addItem(bar)
            self.legend.addItem(bar, SPLIT_WORDS.get(split, split))
            self._bars.append(bar)
            bottom = bottom + heights
        plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        plot.setYRange(0, max(1.0, float(bottom.max())) * 1.3, padding=0)  # room for the legend

    def _restyle(self, _dark: bool = False) -> None:
        from kiln_lab.gui.plots import style_plot

        style_plot(self)
        self._draw()
