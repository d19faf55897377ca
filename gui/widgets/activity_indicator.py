"""The status bar's activity indicator: what runs, how far along, and a Cancel for it.

It reads the `gui.workers.ActivityBoard`, where every task the window starts is listed. A task
that has run for `SHOW_AFTER_S` gets a progress bar (determinate when the engine reports
`Progress` with a total, busy otherwise) and a Cancel button that cancels that one task (Esc
does the same, see `MainWindow`). With several tasks running, a "3 tasks" button lists them and
cancels the one picked; Cancel itself cancels the newest. Nothing is ever cancelled silently.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QMenu, QProgressBar, QPushButton, QToolButton, QWidget

from kiln_lab.gui.workers import Activity, ActivityBoard, activity_board

SHOW_AFTER_S = 1.0  # a task shorter than this never flashes a bar and a button
REFRESH_MS = 250


class ActivityIndicator(QWidget):
    """Progress bar, task count and Cancel for the status bar; the words are the window's label."""

    changed = Signal()  # something shown changed (the window updates its words)

    def __init__(self, board: ActivityBoard | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.board = board or activity_board()
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setFixedWidth(120)
        self.bar.setFixedHeight(12)
        self.bar.setTextVisible(False)
        self.count_button = QToolButton()
        self.count_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.count_button.setToolTip("Several tasks are running: pick one to cancel it")
        self.menu = QMenu(self.count_button)
        self.count_button.setMenu(self.menu)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel this task (Esc); the page goes back to how it was before it")
        self.cancel_button.clicked.connect(self.cancel_shown)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.bar)
        layout.addWidget(self.count_button)
        layout.addWidget(self.cancel_button)
        self.busy = False  # the window's own busy state (loading TensorFlow, a training run): a busy bar
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.board.changed.connect(self.refresh)
        self.refresh()

    # -- what is shown -------------------------------------------------------------------

    def shown(self) -> Activity | None:
        """The task the bar and Cancel are about: the newest one past `SHOW_AFTER_S` that is not being
        cancelled already (else the newest being cancelled, with its Cancel greyed)."""
        late = [e for e in self.board.entries() if e.seconds >= SHOW_AFTER_S]
        waiting = [e for e in late if not e.cancelling]
        return waiting[-1] if waiting else (late[-1] if late else None)

    @property
    def cancellable(self) -> bool:
        return self.cancel_button.isVisibleTo(self) and self.cancel_button.isEnabled()

    def refresh(self) -> None:
        entries = self.board.entries()
        if entries and not self._timer.isActive():
            self._timer.start()  # to show the bar once a task passes a second, and to notice the end
        elif not entries:
            self._timer.stop()
        entry = self.shown()
        late = [e for e in entries if e.seconds >= SHOW_AFTER_S]
        if entry is not None and entry.determinate and not entry.cancelling:
            self.bar.setRange(0, int(entry.total or 0))
            self.bar.setValue(min(int(entry.done or 0), int(entry.total or 0)))
        else:
            self.bar.setRange(0, 0)  # busy
        self.bar.setToolTip("" if entry is None else entry.text + (f" {entry.detail}" if entry.detail else ""))
        self.bar.setVisible(entry is not None or self.busy)
        self.cancel_button.setVisible(entry is not None)
        self.cancel_button.setEnabled(entry is not None and not entry.cancelling)
        self.cancel_button.setText("Cancelling…" if entry is not None and entry.cancelling else "Cancel")
        self.count_button.setVisible(len(late) > 1)
        self.count_button.setText(f"{len(late)} tasks")
        self.setVisible(self.bar.isVisibleTo(self) or self.cancel_button.isVisibleTo(self))
        self.changed.emit()

    # -- cancelling ----------------------------------------------------------------------

    def cancel_shown(self) -> Activity | None:
        """Cancel the task the indicator shows (the newest one not cancelling yet)."""
        entry = self.shown()
        if entry is None or entry.cancelling:
            return None
        return self.board.cancel(entry)

    def _fill_menu(self) -> None:
        self.menu.clear()
        for entry in reversed(self.board.entries()):
            action = self.menu.addAction(("" if entry.cancelling else "Cancel: ") + entry.text)
            action.setEnabled(not entry.cancelling)
            action.triggered.connect(lambda _checked=False, e=entry: self.board.cancel(e))
