"""The error dialog: one sentence the user can act on, and a fold with the details."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.gui.workers import WorkerError


class ErrorDialog(QDialog):
    """Shown with ``open()`` (window-modal, not blocking), so the window keeps running."""

    def __init__(self, title: str, error: WorkerError, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error = error
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(520)

        icon = QLabel()
        pixmaps = QStyle.StandardPixmap
        kind = pixmaps.SP_MessageBoxWarning if error.user_error else pixmaps.SP_MessageBoxCritical
        icon.setPixmap(self.style().standardIcon(kind).pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.sentence_label = QLabel(error.sentence)
        self.sentence_label.setWordWrap(True)
        self.sentence_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sentence_label.setStyleSheet("font-size: 10.5pt;")
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.sentence_label, 1)

        self.details = QPlainTextEdit(error.details or "No further details.")
        self.details.setReadOnly(True)
        self.details.setVisible(False)
        self.details.setMinimumHeight(200)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)

        self.details_button = QPushButton("Show details")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._toggle_details)
        copy_button = QPushButton("Copy details")
        copy_button.setToolTip("Copy the sentence and the technical details, e.g. for a bug report.")
        copy_button.clicked.connect(self._copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        buttons.addButton(self.details_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(copy_button, QDialogButtonBox.ButtonRole.ActionRole)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setText("Hide details" if shown else "Show details")
        self.adjustSize()

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(f"{self.error.sentence}\n\n{self.error.details}")


def show_error(parent: QWidget, title: str, error: WorkerError | str, details: str = "") -> ErrorDialog:
    """Open an error dialog without blocking; returns it (tests look for it)."""
    if isinstance(error, str):
        error = WorkerError(error, details, True)
    dialog = ErrorDialog(title, error, parent)
    dialog.open()
    return dialog
