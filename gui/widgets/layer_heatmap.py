"""A layer x step heatmap of a per-layer quantity (log10 gradient norm at initialisation, by default).

One `pg.ImageItem` with a colour bar: each row a layer (first layer at the top), each
column an optimizer step. Vanishing gradients show as a dark band in the early layers,
exploding ones as a bright band; the row labels are the layer names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiln_lab.gui import theme
from kiln_lab.gui.plots import release_menus_with


class LayerHeatmap(QWidget):
    """Paint ``values[layer, step]`` with layer names on the left axis and a labelled colour bar."""

    def __init__(self, title: str = "log10 gradient norm per layer", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        release_menus_with(self.plot)
        item = self.plot.getPlotItem()
        item.setTitle(title, justify="left")
        item.setLabel("bottom", "optimizer step (0 = at initialisation)")
        item.invertY(True)  # the first layer on top, as in the layer list
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        item.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), label="log10 |grad|", interactive=False,
                                        width=12)
        self.colorbar.setImageItem(self.image, insert_in=item)
        self.values = np.zeros((0, 0))
        self.names: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(220)
        self._title = title
        self._restyle()
        theme.theme_changes.changed.connect(self._restyle)  # a bound method: disconnected when deleted

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Tall enough for each layer's row and name (a page that scrolls gives it this much), not more."""
        rows = max(len(self.names), 4)
        return QSize(520, min(max(self.minimumHeight(), 90 + 26 * rows), 560))

    def _restyle(self, _dark: bool = False) -> None:
        """The theme's plot colours: background, axes, title and the colour bar's scale."""
        colors = theme.plot_colors()
        self.plot.setBackground(colors.background)
        item = self.plot.getPlotItem()
        item.setTitle(self._title, justify="left", color=colors.foreground)
        pen = pg.mkPen(colors.foreground)
        for axis in (item.getAxis("left"), item.getAxis("bottom"), self.colorbar.axis):
            axis.setPen(pen)
            axis.setTextPen(pen)
        for name in ("left", "bottom"):
            label = item.getAxis(name).label
            label.setDefaultTextColor(pg.mkColor(colors.foreground))
        self.colorbar.axis.label.setDefaultTextColor(pg.mkColor(colors.foreground))

    def set_data(self, names: Sequence[str], values: np.ndarray, flags: dict[str, str] | None = None) -> None:
        """Show ``values`` (layers x steps); layers in ``flags`` get their flag beside the name."""
        values = np.asarray(values, dtype=np.float64)
        self.values, self.names = values, list(names)
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high - low < 1e-6:
            low, high = low - 0.5, high + 0.5
        self.image.setImage(values, autoLevels=False)
        self.image.setRect(0, 0, values.shape[1], values.shape[0])
        self.colorbar.setLevels((low, high))
        flags = flags or {}
        ticks = [(i + 0.5, f"{name} ({flags[name]})" if name in flags else name) for i, name in enumerate(names)]
        self.plot.getPlotItem().getAxis("left").setTicks([ticks])
        steps = values.shape[1]
        self.plot.getPlotItem().getAxis("bottom").setTicks([[(s + 0.5, str(s)) for s in range(steps)]])
        self.plot.getPlotItem().setRange(xRange=(0, steps), yRange=(0, len(names)), padding=0)
        self.updateGeometry()  # more layers, a taller hint

    def clear(self) -> None:
        self.set_data([], np.zeros((0, 1)))
