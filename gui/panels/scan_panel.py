"""A scan in progress: what is being read, a progress bar, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QProgressBar, QPushButton, QVBoxLayout, QWidget

from kiln_lab.gui.widgets.forms import muted_label, title_label


class ScanPanel(QWidget):
    """A scan in progress."""

    cancel = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 120, 80, 80)
        self.title = title_label("Scanning…")
        self.message = muted_label("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop scanning; nothing is changed (Esc)")
        self.cancel_button.setShortcut("Esc")
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    def begin(self, source: str) -> None:
        self.title.setText(f"Scanning {source}")
        self.message.setText("Looking for samples and checking every file…")
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)

    def report(self, done: int, total: int | None, message: str) -> None:
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            self.bar.setFormat(f"{done:,} of {total:,}")
        else:
            self.bar.setRange(0, 0)
        if message:
            self.message.setText(message)
