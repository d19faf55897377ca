"""Live training plots: buffered curves redrawn on a timer, with overlays of earlier runs.

Each curve is one `PlotDataItem` fed from a growable float64 buffer. Events only append to
buffers; a `PlotRefresher` timer (25 Hz) pushes changed buffers with ``setData``. Nothing is
ever cleared and replotted, so a long run costs the same per frame as a short one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QWidget

from gui import theme

REFRESH_HZ = 25


class CurveBuffer:
    """Points of one curve; grows by doubling so appends stay O(1) amortised."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.size = 0
        self.dirty = False

    def append(self, x: float, y: float) -> None:
        if self.size == len(self._x):
            self._x = np.resize(self._x, 2 * len(self._x))
            self._y = np.resize(self._y, 2 * len(self._y))
        self._x[self.size] = x
        self._y[self.size] = y
        self.size += 1
        self.dirty = True

    def clear(self) -> None:
        self.size = 0
        self.dirty = True

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]


class LivePlot(pg.PlotWidget):
    """A titled plot with named live curves, earlier-run overlays, hover read-out and PNG export."""

    def __init__(self, title: str, *, y_label: str, x_label: str = "epoch", parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self._title = title
        self._buffers: dict[str, CurveBuffer] = {}
        self._items: dict[str, pg.PlotDataItem] = {}
        self._styles: dict[str, tuple[int, Qt.PenStyle, float, bool]] = {}
        self._overlays: list[tuple[pg.PlotDataItem, int]] = []
        self._markers: list[pg.InfiniteLine] = []
        plot = self.getPlotItem()
        plot.setTitle(title)
        plot.setLabel("left", y_label)
        plot.setLabel("bottom", x_label)
        plot.showGrid(x=True, y=True)
        plot.getAxis("left").enableAutoSIPrefix(False)  # "0.85", not "850 (x0.001)"
        plot.setMenuEnabled(True)  # right-click: pyqtgraph's own view options and export
        self.legend = plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.setMinimumHeight(180)
        self._hover_line = pg.InfiniteLine(angle=90, movable=False)
        self._hover_text = pg.TextItem(anchor=(0, 0))
        self._hover_line.setVisible(False)
        self._hover_text.setVisible(False)
        plot.addItem(self._hover_line, ignoreBounds=True)
        plot.addItem(self._hover_text, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
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
        """Register a live curve; ``color`` indexes the theme's curve colours."""
        item = self.getPlotItem().plot([], [], name=name)
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        self._buffers[key] = CurveBuffer()
        self._items[key] = item
        self._styles[key] = (color, style, width, markers)
        self._style_item(key)

    def append(self, key: str, x: float, y: float) -> None:
        if np.isfinite(y):
            self._buffers[key].append(float(x), float(y))

    def points(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        buffer = self._buffers[key]
        return buffer.x.copy(), buffer.y.copy()

    def curve_keys(self) -> list[str]:
        return list(self._buffers)

    def reset(self) -> None:
        """Empty the live curves (a new run starts); overlays stay."""
        for buffer in self._buffers.values():
            buffer.clear()
        self.refresh()
        self.getPlotItem().enableAutoRange()

    def refresh(self) -> None:
        """Push changed buffers to their plot items (called by the refresh timer)."""
        for key, buffer in self._buffers.items():
            if buffer.dirty:
                self._items[key].setData(buffer.x, buffer.y)
                buffer.dirty = False

    # -- earlier runs ---------------------------------------------------------------------

    def add_overlay(self, name: str, x: np.ndarray, y: np.ndarray, *, color: int = 0) -> None:
        """A finished run's curve, drawn faint and dashed for comparison."""
        if len(x) == 0:
            return
        item = self.getPlotItem().plot(np.asarray(x, np.float64), np.asarray(y, np.float64), name=name)
        self._overlays.append((item, color))
        self._style_overlay(item, color)

    def clear_overlays(self) -> None:
        for item, _ in self._overlays:
            self.getPlotItem().removeItem(item)
            self.legend.removeItem(item)
        self._overlays.clear()

    def set_overlays_visible(self, visible: bool) -> None:
        for item, _ in self._overlays:
            item.setVisible(visible)

    @property
    def overlay_count(self) -> int:
        return len(self._overlays)

    # -- markers (phase boundaries) -------------------------------------------------------

    def add_marker(self, x: float, label: str) -> None:
        line = pg.InfiniteLine(
            pos=x,
            angle=90,
            movable=False,
            label=label,
            labelOpts={"position": 0.92, "color": theme.plot_colors().foreground},
        )
        line.setPen(pg.mkPen(theme.plot_colors().overlay, style=Qt.PenStyle.DashDotLine))
        self.getPlotItem().addItem(line, ignoreBounds=True)
        self._markers.append(line)

    def clear_markers(self) -> None:
        for line in self._markers:
            self.getPlotItem().removeItem(line)
        self._markers.clear()

    # -- view -----------------------------------------------------------------------------

    def set_title(self, title: str, y_label: str) -> None:
        self._title = title
        self.getPlotItem().setTitle(title, color=theme.plot_colors().foreground, size="10pt")
        self.getPlotItem().setLabel("left", y_label)

    def set_log_y(self, log: bool) -> None:
        self.getPlotItem().setLogMode(x=False, y=log)

    def save_png(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        if not self.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path

    # -- internals ------------------------------------------------------------------------

    def _apply_colors(self, _dark: bool = False) -> None:
        colors = theme.plot_colors()
        self.setBackground(colors.background)
        plot = self.getPlotItem()
        for axis in ("left", "bottom"):
            ax = plot.getAxis(axis)
            ax.setPen(pg.mkPen(colors.foreground))
            ax.setTextPen(pg.mkPen(colors.foreground))
            ax.setGrid(int(255 * colors.grid_alpha))
        plot.setTitle(self._title, color=colors.foreground, size="10pt")
        restyle_legend(self.legend, colors.foreground)
        self._hover_line.setPen(pg.mkPen(colors.overlay, style=Qt.PenStyle.DotLine))
        self._hover_text.setColor(QColor(colors.foreground))
        for key in self._items:
            self._style_item(key)
        for item, color in self._overlays:
            self._style_overlay(item, color)

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
        if not plot.sceneBoundingRect().contains(position):
            self._hover_line.setVisible(False)
            self._hover_text.setVisible(False)
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
            return
        self._hover_line.setPos(nearest_x)
        self._hover_line.setVisible(True)
        self._hover_text.setText("\n".join(lines))
        self._hover_text.setPos(point.x(), plot.vb.viewRange()[1][1])  # view coords are log10 in log mode too
        self._hover_text.setVisible(True)


def restyle_legend(legend: pg.LegendItem, color: str) -> None:
    """Legend labels keep the colour they were created with; repaint existing ones too."""
    legend.setLabelTextColor(color)
    for _sample, label in legend.items:
        label.setText(label.text, color=color)


def style_plot(widget: pg.PlotWidget, title: str = "") -> None:
    """Theme colours for a plain pyqtgraph plot (backgrounds, axes, title)."""
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
    """One timer that redraws a set of live plots at :data:`REFRESH_HZ` while active."""

    def __init__(self, plots: list[LivePlot], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plots = plots
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self.refresh)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.refresh()

    def refresh(self) -> None:
        for plot in self.plots:
            plot.refresh()
