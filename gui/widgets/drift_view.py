"""The forgetting monitor on the Train page: backbone drift (CKA) and source-task accuracy per epoch.

Fed `engine.events.DriftMeasured` events, which arrive once per epoch, so it repaints on
epoch ends only (no timer). A "forgetting" `RunWarning` shows below the plot with its
remedies. Once the run has ended, a row offers to roll the model back to the weights kept
after an earlier epoch (the last one within the drift thresholds is suggested). Hidden for
runs without a backbone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.gui import theme


class DriftView(QWidget):
    remedy = Signal(object)  # the ``model`` section changes of the remedy clicked, for the next run
    roll_back = Signal(int)  # the epoch (1-based) whose kept weights the trained model should take

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from kiln_lab.engine.monitors.forgetting_rules import CKA_WARNING

        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        # The tab is named "Backbone drift": the plot's rows go to the data and the legend above it.
        item.setLabel("left", "CKA / accuracy")
        item.setLabel("bottom", "epoch (0 = pretrained)")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setYRange(0, 1.05, padding=0)
        item.setMouseEnabled(x=False, y=False)
        item.getAxis("bottom").setTickSpacing(major=1, minor=1)  # whole epochs
        # The legend sits in the row above the data (as on the live plots): never over the curves.
        self.legend = pg.LegendItem(offset=None, labelTextSize="8pt", colCount=2, horSpacing=8, verSpacing=-6)
        self.legend.layout.setContentsMargins(0, 0, 0, 0)
        item.layout.setRowFixedHeight(0, 22)
        self.legend.setParentItem(item)
        self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-6, 2))
        item.legend = self.legend
        colors = theme.plot_colors().curves
        self.cka_curve = self.plot.plot([], [], pen=pg.mkPen(colors[4], width=2), symbol="o", symbolSize=6,
                                        symbolBrush=colors[4], name="CKA")
        dashed = pg.mkPen(colors[3], width=2, style=Qt.PenStyle.DashLine)
        self.source_curve = self.plot.plot([], [], pen=dashed, symbol="s", symbolSize=6, symbolBrush=colors[3],
                                           name="source-task accuracy")
        self.cka_curve.setToolTip("CKA: how alike the backbone's features are to the pretrained ones (1 = unchanged)")
        self.threshold = pg.InfiniteLine(pos=CKA_WARNING, angle=0, movable=False,
                                         pen=pg.mkPen("#c0392b", width=1, style=Qt.PenStyle.DotLine),
                                         label=f"warn below {CKA_WARNING:g}", labelOpts={"position": 0.6})
        item.addItem(self.threshold)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setProperty("role", "warning")
        self.warning.setStyleSheet("color: #b03a2e; font-weight: 600;")
        self.warning.hide()
        # Two short lines, no word wrap: a wrapping label makes the Train page's grid give this
        # cell the height the loss and accuracy plots need.
        self.figures = QLabel("")
        self.figures.setProperty("role", "muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # The plot keeps a readable height (at 1100x680 the warning, remedies and roll-back row left it
        # 64 px of data); when the tab is shorter than the plot and what is said below it, the tab
        # scrolls as one (a scroll area for the text alone gave it a 68 px slit).
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        self.plot.setMinimumHeight(150)
        content_layout.addWidget(self.plot, 1)
        details = QWidget()
        self.details_layout = details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 2, 0, 0)
        details_layout.addWidget(self.figures)
        details_layout.addWidget(self.warning)
        # Side by side where they fit, one a line where they do not (the narrow tab at the minimum size).
        self.remedy_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.remedy_buttons: list[QPushButton] = []
        details_layout.addLayout(self.remedy_row)
        self.roll_back_row = QWidget()
        row = QHBoxLayout(self.roll_back_row)
        row.setContentsMargins(0, 0, 0, 0)
        # Reads as one phrase, "Roll back to | epoch 3", and fits the narrow drift tab.
        self.roll_back_button = QPushButton("Roll back to")
        self.roll_back_button.setToolTip(
            "Give the model the weights kept after that epoch: Evaluate and Export then use them; the run "
            "folder's model.keras stays as trained"
        )
        self.roll_back_epoch = QSpinBox()
        self.roll_back_epoch.setPrefix("epoch ")
        self.roll_back_epoch.setToolTip(
            "Each epoch's weights were kept in the run folder (checkpoint/epochs); the last epoch within both "
            "drift thresholds is suggested"
        )
        self.roll_back_button.clicked.connect(lambda: self.roll_back.emit(self.roll_back_epoch.value()))
        row.addWidget(self.roll_back_button)
        row.addWidget(self.roll_back_epoch)
        row.addStretch(1)
        self.roll_back_row.hide()
        details_layout.addWidget(self.roll_back_row)
        self.details = details
        content_layout.addWidget(details)
        self.scroll = QScrollArea()
        self.scroll.setWidget(content)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.scroll)
        self._apply_colors()
        theme.theme_changes.changed.connect(self._apply_colors)  # a bound method: disconnected when deleted
        self.setMinimumWidth(200)  # the drift tab shares the Train page with three plots at the minimum window size
        self.cka: list[tuple[float, float]] = []
        self.source: list[tuple[float, float]] = []

    def _apply_colors(self, _dark: bool = False) -> None:
        """The plot in the theme's colours (it kept a white background in the dark theme)."""
        from kiln_lab.gui.plots import style_plot

        style_plot(self.plot)
        colors = theme.plot_colors()
        self.plot.getPlotItem().getAxis("left").setGrid(int(255 * colors.grid_alpha))
        self.plot.getPlotItem().getAxis("bottom").setGrid(int(255 * colors.grid_alpha))
        self.threshold.label.setColor(QColor(colors.foreground))

    def reset(self) -> None:
        self.cka.clear()
        self.source.clear()
        self.cka_curve.setData([], [])
        self.source_curve.setData([], [])
        self.warning.hide()
        self.warning.setText("")
        self.figures.setText("")
        self._clear_remedies()
        self.roll_back_row.hide()
        self.hide()
        self._fit_details()

    def add(self, event: Any) -> None:
        """One `DriftMeasured` (epoch -1 is the pretrained baseline, drawn at x = 0)."""
        x = float(event.epoch + 1)
        self.cka.append((x, float(event.cka)))
        if event.source_accuracy is not None:
            self.source.append((x, float(event.source_accuracy)))
        self._repaint()
        text = f"CKA {event.cka:.3f} vs pretrained"
        if event.source_accuracy is not None:
            text += f"\nsource task {event.source_accuracy:.0%}, was {event.source_baseline:.0%}"
        self.figures.setText(text if event.epoch >= 0 else "Pretrained baseline measured.")
        self.show()
        self._fit_details()

    def show_warning(self, message: str, model: Any = None) -> None:
        """The forgetting warning, with one button per remedy when the run's ``model`` recipe is given."""
        self.warning.setText(message)
        self.warning.show()
        self._clear_remedies()
        if model is not None:
            from kiln_lab.engine.monitors.forgetting_rules import remedy_changes

            for label, changes in remedy_changes(model.backbone_lr_mult, model.l2sp, model.freeze):
                button = QPushButton(label)
                button.setToolTip(f"Use {changes} for the next run")
                button.clicked.connect(lambda _checked=False, c=changes: self.remedy.emit(c))
                self.remedy_row.addWidget(button)
                self.remedy_buttons.append(button)
        self._arrange_remedies()
        self.show()
        self._fit_details()

    def _fit_details(self) -> None:
        """The text below the plot takes the height it needs at this width, no more (the plot keeps the
        rest); the tab scrolls when the two do not fit."""
        needed = self.details_layout.heightForWidth(max(1, self.scroll.viewport().width()))
        height = needed if needed > 0 else self.details.sizeHint().height()
        self.details.setFixedHeight(height)
        self.scroll.widget().setMinimumHeight(self.plot.minimumHeight() + height)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._arrange_remedies()
        self._fit_details()
        from kiln_lab.gui.plots import fit_legend

        fit_legend(self.plot, self.legend)

    def _arrange_remedies(self) -> None:
        spacing = max(0, self.remedy_row.spacing())
        needed = sum(b.sizeHint().width() for b in self.remedy_buttons) + spacing * max(0, len(self.remedy_buttons) - 1)
        wide = needed <= self.width()
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.remedy_row.direction() != direction:
            self.remedy_row.setDirection(direction)

    def offer_roll_back(self, epochs: list[int], suggested: int | None) -> None:
        """The run ended with ``epochs`` (1-based) kept: offer them, ``suggested`` first (None: every
        epoch drifted past a threshold, so the earliest, closest to the pretrained weights)."""
        if not epochs:
            self.roll_back_row.hide()
            return
        self.roll_back_epoch.setRange(min(epochs), max(epochs))
        self.roll_back_epoch.setValue(suggested if suggested in epochs else min(epochs))
        self.roll_back_row.show()
        self._fit_details()

    def _clear_remedies(self) -> None:
        for button in self.remedy_buttons:
            self.remedy_row.removeWidget(button)
            button.deleteLater()
        self.remedy_buttons.clear()

    def _repaint(self) -> None:
        for curve, points in ((self.cka_curve, self.cka), (self.source_curve, self.source)):
            if points:
                data = np.asarray(points, dtype=np.float64)
                curve.setData(data[:, 0], data[:, 1])
        last = max((x for x, _ in self.cka), default=1.0)
        self.plot.getPlotItem().setXRange(0, max(1.0, last), padding=0.05)
