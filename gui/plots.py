"""Live training plots that cost the UI thread little: buffered curves, one repaint per tick.

Each curve is one `PlotDataItem` fed from a growable float64 buffer. Engine events only
append to buffers; a `PlotRefresher` timer pushes the changed buffers of **one** plot per
tick (a repaint costs 10-50 ms on a 2-core machine; three in one frame is a visible
stall). While a run is live a plot keeps its axis ranges fixed and only widens them when
a point falls outside (every range change regenerates the axis ticks), draws no minor
grid, and marks only epoch points with symbols. Legends sit above the data area, phases
are shaded bands, and an empty plot says what will appear in it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QLabel, QWidget

from kiln_lab.gui import theme

REFRESH_HZ = 12  # ticks per second; each tick repaints at most one plot
MIN_REPAINT_S = 0.25  # and one plot at most four times a second (the batch loss would ask for ten)
Y_MARGIN = 0.08  # share of the span added above and below when a range must grow
LOG_SPAN = 20.0  # an auto-log axis turns logarithmic once max/min exceeds this


class CurveBuffer:
    """Points of one curve; grows by doubling so appends stay O(1) amortised."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.size = 0
        self.dirty = False
        self.y_min = math.inf
        self.y_max = -math.inf

    def append(self, x: float, y: float) -> None:
        if self.size == len(self._x):
            self._x = np.resize(self._x, 2 * len(self._x))
            self._y = np.resize(self._y, 2 * len(self._y))
        self._x[self.size] = x
        self._y[self.size] = y
        self.size += 1
        self.dirty = True
        self.y_min = min(self.y_min, y)
        self.y_max = max(self.y_max, y)

    def clear(self) -> None:
        self.size = 0
        self.dirty = True
        self.y_min = math.inf
        self.y_max = -math.inf

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]


class LivePlot(pg.PlotWidget):
    """A titled plot with named live curves, earlier-run overlays, phase bands, hover read-out and PNG export."""

    def __init__(
        self,
        title: str,
        *,
        y_label: str,
        x_label: str = "epoch",
        empty_text: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent=parent)
        release_menus_with(self)
        self._title = title
        self._buffers: dict[str, CurveBuffer] = {}
        self._items: dict[str, pg.PlotDataItem] = {}
        self._styles: dict[str, tuple[int, Qt.PenStyle, float, bool]] = {}
        self._overlays: list[tuple[pg.PlotDataItem, int]] = []
        self._overlay_range = (math.inf, -math.inf)
        self._overlay_sample: pg.PlotDataItem | None = None  # the one legend entry for all earlier runs
        self._phases: list[pg.LinearRegionItem] = []
        self._phase_labels: list[tuple[pg.TextItem, float, float]] = []  # (label, first x, last x)
        self._live = False
        self._log_y = False
        self._auto_log = False
        self._x_range = (0.0, 1.0)
        self._y_range: tuple[float, float] | None = None
        plot = self.getPlotItem()
        # The title names the y axis ("Loss"), so the row above the data belongs to the legend alone.
        plot.setTitle(title, justify="left")
        plot.titleLabel.setVisible(False)
        plot.setLabel("left", title or y_label)
        plot.setLabel("bottom", x_label)
        plot.showGrid(x=True, y=True)
        plot.getAxis("left").enableAutoSIPrefix(False)  # "0.85", not "850 (x0.001)"
        plot.setMenuEnabled(True)  # right-click: pyqtgraph's own view options and export
        # The legend sits in the title row, right-aligned: never over the curves.
        self.legend = pg.LegendItem(offset=None, labelTextSize="8pt", colCount=3, horSpacing=8, verSpacing=-6)
        self.legend.layout.setContentsMargins(0, 0, 0, 0)
        plot.layout.setRowFixedHeight(0, 24)  # the legend's rows; `_fit_legend` sets it to the legend's height
        self.legend.setParentItem(plot)
        self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-6, 2))
        plot.legend = self.legend  # plot(name=...) adds its entry here
        self.setMinimumHeight(180)
        self._hover_line = pg.InfiniteLine(angle=90, movable=False)
        self._hover_text = pg.TextItem(anchor=(0, 0))
        self._hover_line.setVisible(False)
        self._hover_text.setVisible(False)
        plot.addItem(self._hover_line, ignoreBounds=True)
        plot.addItem(self._hover_text, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        plot.vb.sigRangeChanged.connect(self._place_phase_labels)
        plot.vb.sigResized.connect(self._place_phase_labels)
        self._empty = QLabel(empty_text, self)
        self._empty.setWordWrap(True)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setObjectName("PlotEmptyState")
        self._empty.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._set_empty(bool(empty_text))
        self._apply_colors()
        theme.theme_changes.changed.connect(self._apply_colors)  # a bound method: disconnected when deleted

    # -- curves ---------------------------------------------------------------------------

    def add_curve(
        self,
        key: str,
        name: str,
        *,
        color: int,
        style: Qt.PenStyle = Qt.PenStyle.SolidLine,
        width: float = 2.0,
        markers: bool = False,
    ) -> None:
        """Register a live curve; ``color`` indexes the theme's curve colours; ``markers`` for epoch points only."""
        item = self.getPlotItem().plot([], [], name=name)
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        self._buffers[key] = CurveBuffer()
        self._items[key] = item
        self._styles[key] = (color, style, width, markers)
        self._style_item(key)
        self._fit_legend()

    def append(self, key: str, x: float, y: float) -> None:
        if np.isfinite(y) and (not self._log_y or y > 0):
            self._buffers[key].append(float(x), float(y))

    def points(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        buffer = self._buffers[key]
        return buffer.x.copy(), buffer.y.copy()

    def curve_keys(self) -> list[str]:
        return list(self._buffers)

    @property
    def dirty(self) -> bool:
        return any(buffer.dirty for buffer in self._buffers.values())

    @property
    def has_data(self) -> bool:
        return any(buffer.size for buffer in self._buffers.values()) or bool(self._overlays)

    def reset(self) -> None:
        """Empty the live curves (a new run starts); overlays stay."""
        for buffer in self._buffers.values():
            buffer.clear()
        self.refresh()
        if not self._live:
            self.getPlotItem().enableAutoRange()

    def refresh(self) -> bool:
        """Push changed buffers to their plot items; True when something was pushed."""
        changed = False
        for key, buffer in self._buffers.items():
            if buffer.dirty:
                self._items[key].setData(buffer.x, buffer.y)
                buffer.dirty = False
                changed = True
        if changed:
            self._set_empty(not self.has_data)
            if self._auto_log:
                self._choose_log_axis()
            if self._live:
                self._widen_ranges()
            self._place_phase_labels()  # the curves may now pass where a label sits
        return changed

    # -- a live run -----------------------------------------------------------------------

    def begin_run(self, first_x: float, last_x: float) -> None:
        """A run starts: fix the x range to its epochs and stop auto-ranging (see the module note).

        Called before the training thread starts and again by its first event; the second call
        changes nothing (and so repaints nothing) unless the run's epochs differ from the plan.
        """
        x_range = (float(first_x), float(max(last_x, first_x + 1)))
        if self._live and x_range == self._x_range:
            return
        self._live = True
        plot = self.getPlotItem()
        plot.disableAutoRange()
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setStyle(maxTickLevel=0)  # no minor grid lines while live
        self._x_range = x_range
        plot.setXRange(*self._x_range, padding=0.02)
        self._y_range = None

    def end_run(self) -> None:
        """The run ended: fit everything and bring back the minor grid."""
        self.refresh()
        self._live = False
        plot = self.getPlotItem()
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setStyle(maxTickLevel=1)
        plot.enableAutoRange(axis=pg.ViewBox.XAxis)
        self._y_range = None
        self._widen_ranges()  # frames every point (a constant rate mid-axis, not as +-2% noise)

    def _widen_ranges(self) -> None:
        lows = [b.y_min for b in self._buffers.values() if b.size] + [self._overlay_range[0]]
        highs = [b.y_max for b in self._buffers.values() if b.size] + [self._overlay_range[1]]
        low, high = min(lows), max(highs)
        if not math.isfinite(low) or not math.isfinite(high):
            return
        vb = self.getPlotItem().vb
        last_x = max((b.x[-1] for b in self._buffers.values() if b.size), default=self._x_range[1])
        if last_x > self._x_range[1]:
            self._x_range = (self._x_range[0], self._x_range[0] + 2 * (last_x - self._x_range[0]))
            vb.setXRange(*self._x_range, padding=0.02)
        if self._y_range is not None and self._y_range[0] <= low and high <= self._y_range[1]:
            return  # inside the current range: leave the axes (and their cached ticks) alone
        self._y_range = _padded(low, high, self._log_y)
        if self._log_y:
            vb.setYRange(math.log10(self._y_range[0]), math.log10(self._y_range[1]), padding=0)
        else:
            vb.setYRange(*self._y_range, padding=0)

    # -- earlier runs ---------------------------------------------------------------------

    def add_overlay(self, name: str, x: np.ndarray, y: np.ndarray, *, color: int = 0) -> None:
        """A finished run's curve, drawn faint and dashed for comparison (one legend entry for them all)."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if len(x) == 0:
            return
        item = self.getPlotItem().plot(x, y)
        item.setToolTip(name)
        self._overlays.append((item, color))
        self._style_overlay(item, color)
        finite = y[np.isfinite(y)]
        if finite.size:
            self._overlay_range = (min(self._overlay_range[0], finite.min()), max(self._overlay_range[1], finite.max()))
        if self._overlay_sample is None:
            self._overlay_sample = pg.PlotDataItem([], [])
            self._style_overlay(self._overlay_sample, color)
            self.legend.addItem(self._overlay_sample, "earlier runs")
            self._fit_legend()
        self._set_empty(False)

    def clear_overlays(self) -> None:
        for item, _ in self._overlays:
            self.getPlotItem().removeItem(item)
        self._overlays.clear()
        self._overlay_range = (math.inf, -math.inf)
        if self._overlay_sample is not None:
            self.legend.removeItem(self._overlay_sample)
            self._overlay_sample = None
            self._fit_legend()
        self._set_empty(not self.has_data)

    def set_overlays_visible(self, visible: bool) -> None:
        for item, _ in self._overlays:
            item.setVisible(visible)

    @property
    def overlay_count(self) -> int:
        return len(self._overlays)

    # -- phases ---------------------------------------------------------------------------

    def add_phase(self, first_x: float, last_x: float, label: str) -> None:
        """Shade the epochs of one training phase and name it in a label inside the view, in the band.

        The label sits at the top of its band (at the foot where curves pass the top), inset from the
        band's and the view's edges so the axis never cuts it, on a backing of the plot's own colour
        so it reads over the grid in either theme.
        """
        colors = theme.plot_colors()
        shade = QColor(colors.overlay)
        shade.setAlpha(40 if len(self._phases) % 2 == 0 else 18)
        band = pg.LinearRegionItem(values=(first_x, last_x), movable=False, brush=pg.mkBrush(shade))
        band.setZValue(-100)  # behind the curves
        for line in band.lines:
            line.setPen(pg.mkPen(None))
        band.setToolTip(label)
        plot = self.getPlotItem()
        plot.addItem(band, ignoreBounds=True)
        self._phases.append(band)
        text = pg.TextItem(label, anchor=(0, 0))
        text.setZValue(60)  # above the curves: it hides a few pixels of one rather than being hidden
        text.setToolTip(f"Training phase: {label}")
        plot.addItem(text, ignoreBounds=True)
        self._phase_labels.append((text, float(first_x), float(last_x)))
        self._style_phase_label(text)
        self._place_phase_labels()

    def clear_phases(self) -> None:
        for band in self._phases:
            self.getPlotItem().removeItem(band)
        for text, _first, _last in self._phase_labels:
            self.getPlotItem().removeItem(text)
        self._phases.clear()
        self._phase_labels.clear()

    def phase_labels(self) -> list[pg.TextItem]:
        """The phases' name labels (tests, screenshots)."""
        return [text for text, _first, _last in self._phase_labels]

    def _style_phase_label(self, text: pg.TextItem) -> None:
        colors = theme.plot_colors()
        text.setColor(QColor(colors.foreground))
        backing = QColor(colors.background)
        backing.setAlpha(215)
        text.fill = pg.mkBrush(backing)
        edge = QColor(colors.foreground)
        edge.setAlpha(70)
        text.border = pg.mkPen(edge)
        text.update()

    def _place_phase_labels(self, *_args: object) -> None:
        if not self._phase_labels:
            return
        vb = self.getPlotItem().vb
        (x0, x1), (y0, y1) = vb.viewRange()
        pixel = vb.viewPixelSize()
        if not all(math.isfinite(v) and v > 0 for v in pixel):
            return
        px, py = pixel
        placed: list[tuple[float, float, float, float]] = []
        for text, first, _last in self._phase_labels:
            rect = text.boundingRect()
            width, height = rect.width() * px, rect.height() * py
            starts = [max(first, x0) + 4 * px] + [box[2] + 4 * px for box in placed]  # or after a neighbour's label
            candidates = []
            for order, start in enumerate(starts):
                left = max(x0 + 4 * px, min(start, x1 - width - 4 * px))  # inside the view, clear of the axis
                for at_top in (True, False):
                    bottom = y1 - 3 * py - height if at_top else y0 + 3 * py
                    box = (left, bottom, left + width, bottom + height)
                    clash = any(_overlap(box, other) for other in placed)
                    candidates.append((clash, self._points_in(box), order, not at_top, box))
            clash, _points, _order, at_foot, box = min(candidates, key=lambda c: c[:4])
            placed.append(box)
            text.setAnchor((0, 1) if at_foot else (0, 0))
            text.setPos(box[0], box[1] if at_foot else box[3])

    def _points_in(self, box: tuple[float, float, float, float]) -> int:
        """How many points of the live curves and overlays fall in ``box`` (view coordinates)."""
        left, bottom, right, top = box
        count = 0
        curves = [(b.x, b.y) for b in self._buffers.values() if b.size]
        for item, _color in self._overlays:
            x, y = item.getData()
            if x is not None and len(x):
                curves.append((np.asarray(x), np.asarray(y)))
        for x, y in curves:
            if self._log_y:
                with np.errstate(divide="ignore", invalid="ignore"):
                    y = np.log10(y)
            finite = np.isfinite(y)
            x, y = x[finite], y[finite]
            if x.size == 0:
                continue
            inside = (x >= left) & (x <= right)
            ys = y[inside]
            count += int(np.count_nonzero((ys >= bottom) & (ys <= top)))
            # the lines between points: sampled across the box where the curve spans it
            xs = np.linspace(max(left, x[0]), min(right, x[-1]), 12)
            if xs[0] <= xs[-1] and x.size > 1:
                ys = np.interp(xs, x, y)
                count += int(np.count_nonzero((ys >= bottom) & (ys <= top)))
        return count

    # -- view -----------------------------------------------------------------------------

    def set_title(self, title: str, y_label: str) -> None:
        if title == self._title and self.getPlotItem().getAxis("left").labelText == (title or y_label):
            return  # a new label re-lays the plot out and repaints it: not when nothing changes
        self._title = title
        self.getPlotItem().setTitle(title, color=theme.plot_colors().foreground, size="10pt", justify="left")
        self.getPlotItem().titleLabel.setVisible(False)
        self.getPlotItem().setLabel("left", title or y_label)

    def set_log_y(self, log: bool) -> None:
        self._log_y = log
        self._y_range = None
        self.getPlotItem().setLogMode(x=False, y=log)
        if self._live:
            self._widen_ranges()

    def set_auto_log_y(self, auto: bool) -> None:
        """Pick the axis from the data: logarithmic once values span more than a decade and a bit."""
        self._auto_log = auto
        if auto:
            self._choose_log_axis()

    def _choose_log_axis(self) -> None:
        lows = [b.y_min for b in self._buffers.values() if b.size]
        highs = [b.y_max for b in self._buffers.values() if b.size]
        if not lows:
            return
        low, high = min(lows), max(highs)
        wanted = low > 0 and high / low > LOG_SPAN
        if wanted != self._log_y:
            self.set_log_y(wanted)

    def set_empty_text(self, text: str) -> None:
        """What this plot will show, said while it has nothing to show."""
        self._empty.setText(text)
        self._set_empty(bool(text) and not self.has_data)

    @property
    def empty_text_visible(self) -> bool:
        return not self._empty.isHidden()

    def save_png(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        if not self.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path

    # -- internals ------------------------------------------------------------------------

    def _set_empty(self, empty: bool) -> None:
        empty = empty and bool(self._empty.text())
        self._empty.setVisible(empty)
        plot = self.getPlotItem()
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setVisible(not empty)
        plot.vb.setVisible(not empty)
        self.legend.setVisible(not empty)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if "_empty" not in self.__dict__:
            return  # pyqtgraph resizes once while it is constructed, before the label exists
        self._empty.setGeometry(self.rect().adjusted(24, 36, -24, -24))
        self._fit_legend()

    def _fit_legend(self) -> None:
        """As many legend columns as the plot's width holds, and the row above the data as tall as the
        legend's rows: at 1100x680 a fixed three-column legend ran past the plot's left edge and its
        second row lay over the curves."""
        legend = self.__dict__.get("legend")
        if legend is not None:
            fit_legend(self, legend)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        self._hide_hover()
        super().leaveEvent(event)

    def _hide_hover(self) -> None:
        self._hover_line.setVisible(False)
        self._hover_text.setVisible(False)

    def _apply_colors(self, _dark: bool = False) -> None:
        colors = theme.plot_colors()
        self.setBackground(colors.background)
        plot = self.getPlotItem()
        for axis in ("left", "bottom"):
            ax = plot.getAxis(axis)
            ax.setPen(pg.mkPen(colors.foreground))
            ax.setTextPen(pg.mkPen(colors.foreground))
            ax.setGrid(int(255 * colors.grid_alpha))
        plot.setTitle(self._title, color=colors.foreground, size="10pt", justify="left")
        plot.titleLabel.setVisible(False)
        restyle_legend(self.legend, colors.foreground)
        self._hover_line.setPen(pg.mkPen(colors.overlay, style=Qt.PenStyle.DotLine))
        self._hover_text.setColor(QColor(colors.foreground))
        self._empty.setStyleSheet(f"color: {colors.foreground}; background: transparent; font-size: 10pt;")
        for key in self._items:
            self._style_item(key)
        for item, color in self._overlays:
            self._style_overlay(item, color)
        if self._overlay_sample is not None:
            self._style_overlay(self._overlay_sample, 0)
        for text, _first, _last in self.__dict__.get("_phase_labels", []):
            self._style_phase_label(text)

    def _style_item(self, key: str) -> None:
        color_index, style, width, markers = self._styles[key]
        color = theme.plot_colors().curves[color_index % len(theme.plot_colors().curves)]
        pen = QPen(QColor(color))
        pen.setWidthF(width)
        pen.setStyle(style)
        pen.setCosmetic(True)
        item = self._items[key]
        item.setPen(pen)
        if markers:
            item.setSymbol("o")
            item.setSymbolSize(6)
            item.setSymbolBrush(QColor(color))
            item.setSymbolPen(pg.mkPen(color))

    def _style_overlay(self, item: pg.PlotDataItem, color_index: int) -> None:
        colors = theme.plot_colors()
        base = QColor(colors.curves[color_index % len(colors.curves)])
        base.setAlpha(110)
        pen = QPen(base)
        pen.setWidthF(1.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        item.setPen(pen)

    def _on_mouse_moved(self, position: QPointF) -> None:
        plot = self.getPlotItem()
        if not plot.vb.sceneBoundingRect().contains(position):
            self._hide_hover()
            return
        point = plot.vb.mapSceneToView(position)
        lines = []
        nearest_x = None
        for key, buffer in self._buffers.items():
            if buffer.size == 0:
                continue
            i = int(np.argmin(np.abs(buffer.x - point.x())))
            nearest_x = buffer.x[i] if nearest_x is None else nearest_x
            lines.append(f"{self._items[key].name()}: {_format_value(buffer.y[i])} @ {buffer.x[i]:g}")
        if not lines:
            self._hide_hover()
            return
        self._hover_line.setPos(nearest_x)
        self._hover_line.setVisible(True)
        self._hover_text.setText("\n".join(lines))
        x_low, x_high = plot.vb.viewRange()[0]
        # Flip the read-out to the left of the cursor in the right half so it stays inside the plot.
        self._hover_text.setAnchor((1, 0) if point.x() > (x_low + x_high) / 2 else (0, 0))
        self._hover_text.setPos(point.x(), plot.vb.viewRange()[1][1])  # view coords are log10 in log mode too
        self._hover_text.setVisible(True)


def _padded(low: float, high: float, log: bool) -> tuple[float, float]:
    """A y range around ``low..high`` with room to grow, so it is not changed every point."""
    if log:
        low, high = max(low, 1e-12), max(high, 1e-12)
        span = max(math.log10(high) - math.log10(low), 0.3)
        return low / 10 ** (span * Y_MARGIN * 2), high * 10 ** (span * Y_MARGIN * 2)
    span = high - low
    if span <= abs(high) * 1e-6:  # one value (a constant learning rate): show it mid-axis, not as noise
        return (high * 0.5, high * 1.5) if high > 0 else (high - 1.0, high + 1.0)
    return low - span * Y_MARGIN, high + span * Y_MARGIN


def restyle_legend(legend: pg.LegendItem, color: str) -> None:
    """Legend labels keep the colour they were created with; repaint existing ones too."""
    legend.setLabelTextColor(color)
    for _sample, label in legend.items:
        label.setText(label.text, color=color)


def fit_legend(widget: pg.PlotWidget, legend: pg.LegendItem) -> None:
    """Give a legend anchored in the row above the data as many columns as ``widget``'s width holds,
    and that row the legend's height (pyqtgraph's own sizing counts rows that no longer exist)."""
    if not legend.items:
        return
    room = widget.width() - 8
    columns = len(legend.items)
    while columns > 1:
        if legend.columnCount != columns:
            legend.setColumnCount(columns)
        if legend.layout.preferredWidth() <= room:
            break
        columns -= 1
    if legend.columnCount != columns:
        legend.setColumnCount(columns)
    rows = math.ceil(len(legend.items) / columns)
    row_height = max(max(sample.height(), label.item.boundingRect().height()) for sample, label in legend.items)
    width = legend.layout.preferredWidth()
    height = rows * row_height + (rows - 1) * legend.layout.verticalSpacing()
    legend.resize(width, height)
    legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-6, 2))
    row = max(24, int(math.ceil(height)) + 10)  # a gap between the legend and the data area
    if getattr(legend, "_kiln_row", None) != row:  # a new row height re-lays the plot out: only on a change
        legend._kiln_row = row
        widget.getPlotItem().layout.setRowFixedHeight(0, row)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two (left, bottom, right, top) boxes overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def release_menus_with(widget: pg.PlotWidget) -> None:
    """Delete the plot's context menus when the widget goes.

    pyqtgraph gives each plot parentless menus (the ViewBox's, the PlotItem's "Plot Options"
    and its sub-menus: about a hundred widgets a window). Signal connections between them and
    the plot form cycles through Qt that Python's collector cannot see, so every closed dialog
    or window with plots kept them alive, and every theme change restyled them all.
    """
    if getattr(widget, "_kiln_menus_released", False):
        return
    widget._kiln_menus_released = True
    item = widget.getPlotItem()
    view = item.getViewBox()

    def menus() -> list[object]:
        return [m for m in (item.__dict__.get("ctrlMenu"), view.__dict__.get("menu")) if m is not None]

    made = menus()  # a plot that turns its menu off later drops it (still alive, in the same cycles)

    def release(*_args: object) -> None:
        for menu in {id(m): m for m in [*made, *menus()]}.values():
            if shiboken6.isValid(menu):
                menu.deleteLater()

    widget.destroyed.connect(release)


def style_plot(widget: pg.PlotWidget, title: str = "") -> None:
    """Theme colours for a plain pyqtgraph plot (backgrounds, axes, title); its menus go with it."""
    release_menus_with(widget)
    colors = theme.plot_colors()
    widget.setBackground(colors.background)
    plot = widget.getPlotItem()
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(pg.mkPen(colors.foreground))
        plot.getAxis(axis).setTextPen(pg.mkPen(colors.foreground))
    if title:
        plot.setTitle(title, color=colors.foreground, size="10pt")
    if plot.legend is not None:
        restyle_legend(plot.legend, colors.foreground)


def _format_value(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.3e}"


class PlotRefresher(QObject):
    """One timer that pushes changed curves to the screen, one plot per tick, while a run is live.

    Only plots that are on screen are refreshed; a hidden plot keeps its points buffered and
    catches up when it is shown again. At :data:`REFRESH_HZ` ticks per second, the UI thread
    spends at most one plot repaint per tick.
    """

    def __init__(self, plots: list[LivePlot], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plots = plots
        self._next = 0
        self._last_refresh: dict[int, float] = {}
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.refresh()

    def tick(self) -> LivePlot | None:
        """Refresh the next visible plot with changes (round robin); returns it, or None."""
        count = len(self.plots)
        now = time.monotonic()
        for step in range(count):
            plot = self.plots[(self._next + step) % count]
            if not (plot.dirty and plot.isVisible()) or now - self._last_refresh.get(id(plot), 0.0) < MIN_REPAINT_S:
                continue
            self._next = (self._next + step + 1) % count
            self._last_refresh[id(plot)] = now
            plot.refresh()
            return plot
        return None

    def refresh(self) -> None:
        """Everything at once: for the end of a run, not for every frame."""
        for plot in self.plots:
            plot.refresh()
