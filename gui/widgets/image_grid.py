"""Grids of small images: per-class sample rows, augmented previews, misclassified examples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from kiln_lab.gui.widgets.images import array_to_pixmap


def _clear(layout: QGridLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.deleteLater()


class ImageTile(QFrame):
    """One image with a caption under it."""

    def __init__(self, image: np.ndarray, caption: str, size: int, tooltip: str = "") -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        picture = QLabel()
        picture.setPixmap(array_to_pixmap(image, size))
        picture.setFixedSize(size, size)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(picture, 0, Qt.AlignmentFlag.AlignHCenter)
        if caption:
            text = QLabel(caption)
            text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text.setWordWrap(True)
            text.setMaximumWidth(size + 24)
            text.setStyleSheet("font-size: 8.5pt;")
            layout.addWidget(text)
        if tooltip:
            self.setToolTip(tooltip)


class ImageGrid(QScrollArea):
    """Images with captions, flowed into a fixed number of columns."""

    def __init__(self, *, tile_size: int = 64, columns: int | None = None) -> None:
        super().__init__()
        self.tile_size = tile_size
        self.fixed_columns = columns  # None: as many as fit the width
        self.columns = columns or 8
        self._items: list = []
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        self._grid = QGridLayout(inner)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._grid.setSpacing(6)
        self.setWidget(inner)
        self.count = 0

    def set_images(self, items: Sequence[tuple[np.ndarray, str]] | Sequence[tuple[np.ndarray, str, str]]) -> None:
        self._items = list(items)
        self.columns = self._fitting_columns()
        _clear(self._grid)
        for i, item in enumerate(items):
            image, caption = item[0], item[1]
            tooltip = item[2] if len(item) > 2 else ""
            tile = ImageTile(image, caption, self.tile_size, tooltip)
            self._grid.addWidget(tile, i // self.columns, i % self.columns)
        self.count = len(items)

    def _fitting_columns(self) -> int:
        if self.fixed_columns:
            return self.fixed_columns
        tile = self.tile_size + 10 + self._grid.horizontalSpacing()  # picture + frame margins
        return max(1, (self.viewport().width() - 8) // tile)

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        super().resizeEvent(event)
        if self._items and self._fitting_columns() != self.columns:
            self.set_images(self._items)  # re-flow to the new width

    def show_message(self, text: str) -> None:
        self._items = []
        _clear(self._grid)
        label = QLabel(text)
        label.setProperty("role", "muted")
        label.setWordWrap(True)
        self._grid.addWidget(label, 0, 0, 1, max(1, self.columns))
        self.count = 0


class ClassRows(QScrollArea):
    """One row per class: the class name, then a few of its samples."""

    def __init__(self, *, tile_size: int = 44) -> None:
        super().__init__()
        self.tile_size = tile_size
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        self._grid = QGridLayout(inner)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._grid.setHorizontalSpacing(4)
        self._grid.setVerticalSpacing(4)
        self.setWidget(inner)
        self.rows = 0

    def set_rows(self, rows: dict[str, np.ndarray]) -> None:
        _clear(self._grid)
        for r, (name, images) in enumerate(rows.items()):
            label = QLabel(name)
            label.setMinimumWidth(70)
            label.setMaximumWidth(140)
            label.setToolTip(name)
            label.setStyleSheet("font-weight: 600;")
            self._grid.addWidget(label, r, 0)
            for c, image in enumerate(images):
                picture = QLabel()
                picture.setPixmap(array_to_pixmap(image, self.tile_size))
                picture.setFixedSize(self.tile_size, self.tile_size)
                picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
                picture.setStyleSheet("background: palette(base); border: 1px solid palette(mid);")
                self._grid.addWidget(picture, r, c + 1)
        self.rows = len(rows)
        # As wide as a row of samples: the list scrolls down, never sideways.
        self._grid.activate()
        needed = self._grid.sizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth() + 4
        self.setMinimumWidth(needed if rows else 0)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
