"""Top-k predictions as labelled horizontal bars."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget


class TopKBars(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setColumnStretch(1, 1)
        self.predictions: list[tuple[str, float]] = []

    def set_predictions(self, predictions: list[tuple[str, float]], *, regression: bool = False) -> None:
        while self._grid.count():
            widget = self._grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.predictions = list(predictions)
        for row, (name, value) in enumerate(predictions):
            label = QLabel(name)
            label.setStyleSheet("font-weight: 600;" if row == 0 else "")
            self._grid.addWidget(label, row, 0)
            if regression:
                number = QLabel(f"{value:.5g}")
                number.setStyleSheet("font-size: 14pt; font-weight: 600;")
                self._grid.addWidget(number, row, 1)
                continue
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(round(value * 1000)))
            bar.setFormat(f"{value * 100:.1f} %")
            bar.setToolTip(f"The model gives {name} a probability of {value:.4f}")
            self._grid.addWidget(bar, row, 1)
