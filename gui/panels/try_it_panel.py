"""The Evaluate page's "Try it" panel: predict on a dropped or chosen image, or a form of table columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.engine.data.imagefile import IMAGE_EXTENSIONS
from kiln_lab.gui.widgets.forms import muted_label
from kiln_lab.gui.widgets.images import array_to_pixmap
from kiln_lab.gui.widgets.top_k_bars import TopKBars

IMAGE_SUFFIXES = IMAGE_EXTENSIONS  # the engine's list: what the decoder reads


class TryItPanel(QGroupBox):
    """Drop an image (or type a CSV row) and see the model's top-k answers."""

    predict_image = Signal(str)
    predict_row = Signal(str)

    def __init__(self) -> None:
        super().__init__("Try it")
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        self.hint = muted_label("Drop an image here, or open one, to see what the model answers.")
        layout.addWidget(self.hint)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Predict the class of an image file")
        self.open_button.clicked.connect(self._open)
        row.addWidget(self.open_button)
        self.row_edit = QLineEdit()
        self.row_edit.setPlaceholderText("CSV row, e.g. 120, 3, 15, 2.5, north")
        self.row_edit.setToolTip("The input columns in the file's order, comma-separated; the target may be left out")
        self.row_edit.returnPressed.connect(lambda: self.predict_row.emit(self.row_edit.text()))
        self.row_button = QPushButton("Predict")
        self.row_button.setToolTip("Predict the typed row")
        self.row_button.clicked.connect(
            lambda: self.predict_row.emit(self.form_row() if self.row_form.isVisible() else self.row_edit.text())
        )
        row.addWidget(self.row_edit, 1)
        row.addWidget(self.row_button)
        layout.addLayout(row)
        # Tables: one labelled field per input column, so nobody has to remember the column order.
        self.row_form = QWidget()
        self.row_form_layout = QFormLayout(self.row_form)
        self.row_form_layout.setContentsMargins(0, 0, 0, 0)
        self.row_fields: list[QWidget] = []  # a line edit per numeric column, a combo box per categorical one
        self.row_form.setVisible(False)
        layout.insertWidget(1, self.row_form)  # the fields first, then Predict under them
        body = QHBoxLayout()
        self.picture = QLabel()
        self.picture.setFixedSize(96, 96)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setStyleSheet("border: 1px dashed palette(mid); border-radius: 6px;")
        self.picture.setText("drop\nimage")
        body.addWidget(self.picture)
        self.bars = TopKBars()
        body.addWidget(self.bars, 1)
        layout.addLayout(body)
        layout.addStretch(1)

    def clear(self) -> None:
        """Forget the last answer (another model or dataset now)."""
        self.bars.set_predictions([])
        self.picture.clear()
        self.picture.setText("drop\nimage")

    def set_input_kind(self, kind: str, columns: list[dict[str, Any]] | tuple = ()) -> None:
        """Images: open or drop a file. Tables: a form of the input ``columns`` (the dataset's preprocessing
        columns: name, type, categories, mean), or one CSV line when the columns are unknown."""
        image = kind == "image"
        form = not image and bool(columns)
        self.open_button.setVisible(image)
        self.picture.setVisible(image)
        self.row_edit.setVisible(not image and not form)
        self.row_button.setVisible(not image)
        self.row_form.setVisible(form)
        names = [str(c.get("name", "")) for c in columns]
        if form and [f.property("column") for f in self.row_fields] != names:
            while self.row_form_layout.rowCount():
                self.row_form_layout.removeRow(0)
            self.row_fields = []
            for column in columns:
                categories = column.get("categories") or []
                if categories:
                    field = QComboBox()
                    field.addItems([str(c) for c in categories])
                else:
                    field = QLineEdit()
                    mean = column.get("mean")
                    field.setPlaceholderText(f"e.g. {mean:.4g}" if isinstance(mean, (int, float)) else "a number")
                    field.returnPressed.connect(self._predict_form)
                field.setProperty("column", column.get("name"))
                self.row_form_layout.addRow(str(column.get("name", "")), field)
                self.row_fields.append(field)
        if image:
            self.hint.setText("Drop an image here, or open one, to see what the model answers.")
        elif form:
            self.hint.setText("Fill in the input columns and press Predict (or Enter).")
        else:
            self.hint.setText("Type one row of input values, comma-separated, and press Enter.")

    def form_row(self) -> str:
        """The form's values as the one CSV line the engine reads, in the file's column order."""
        values = [f.currentText() if isinstance(f, QComboBox) else f.text().strip() for f in self.row_fields]
        return ", ".join(values)

    def _predict_form(self) -> None:
        self.predict_row.emit(self.form_row())

    def show_result(self, result: dict[str, Any]) -> None:
        if result.get("input") is not None and np.asarray(result["input"]).ndim == 3:
            self.picture.setPixmap(array_to_pixmap(result["input"], 92))
        self.bars.set_predictions(result["top_k"], regression=result["regression"])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls()
        if urls and Path(urls[0].toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls()
        if urls:
            self.predict_image.emit(urls[0].toLocalFile())
            event.acceptProposedAction()

    def _open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open an image", "", "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ")"
        )
        if path:
            self.predict_image.emit(path)
