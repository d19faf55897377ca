"""The Train page's run strip: Start / Pause / Stop and the progress bar with its status line."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QStyle, QVBoxLayout, QWidget


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RunControls(QWidget):
    """Buttons that start, pause and stop a run, and where the run stands (progress and a sentence).

    After the engine process ended under a run (killed, out of memory, past Stop's grace),
    "Resume run" continues that run's folder from its last checkpoint.
    """

    resume_requested = Signal(str)  # the run folder to continue

    def __init__(self) -> None:
        super().__init__()
        controls = QHBoxLayout(self)
        controls.setContentsMargins(0, 0, 0, 0)
        style = self.style()
        self.start_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Start")
        self.start_button.setProperty("role", "primary")
        self.start_button.setToolTip("Build the model and train it (Ctrl+R)")
        self.pause_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        self.pause_button.setToolTip("Pause between two batches; resume where it stopped")
        self.stop_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Stop")
        self.stop_button.setToolTip("Stop after the current batch and keep the model as it is (Ctrl+.)")
        self.resume_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Resume run")
        self.resume_button.setToolTip("Continue the interrupted run from its last checkpoint, in its own folder")
        self.resume_button.setVisible(False)
        self.resume_button.clicked.connect(lambda: self.resume_requested.emit(self._resume_dir or ""))
        self._resume_dir: str | None = None
        for button in (self.start_button, self.pause_button, self.stop_button, self.resume_button):
            controls.addWidget(button)
        controls.addSpacing(12)
        progress_column = QVBoxLayout()
        progress_column.setSpacing(2)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(10)
        self.progress_label = QLabel("Not started.")
        # Its text changes with every batch: a fixed size keeps those changes from re-laying out the page.
        # Two lines high and wrapping: at 1100x680 "Epoch 3/10 · batch 12/40 · 0:41 elapsed · ETA 1:30" and
        # "Run 2 of 4: fine-tuning on 100%, repeat 1" are wider than the strip and were cut.
        self.progress_label.setWordWrap(True)
        self.progress_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.progress_label.setFixedHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 2)
        progress_column.addWidget(self.progress)
        progress_column.addWidget(self.progress_label)
        controls.addLayout(progress_column, 1)

    def show_busy(self, text: str) -> None:
        """Something is under way with no measurable progress yet (building the model)."""
        self.progress_label.setText(text)
        self.progress.setRange(0, 0)

    def show_fraction(self, fraction: float, text: str) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(min(1.0, max(0.0, fraction)) * 1000))
        self.progress_label.setText(text)

    def show_stopping(self) -> None:
        self.progress_label.setText("Stopping after the current batch…")
        self.stop_button.setEnabled(False)
        self.pause_button.setEnabled(False)

    def set_paused(self, paused: bool) -> None:
        style = self.style()
        if paused:
            self.pause_button.setText("Resume")
            self.pause_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
            self.progress_label.setText(self.progress_label.text() + " · paused")
        else:
            self.pause_button.setText("Pause")
            self.pause_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def set_running(self, running: bool, has_data: bool) -> None:
        self.start_button.setEnabled(has_data and not running)
        self.start_button.setToolTip(
            "Build the model and train it (Ctrl+R)" if has_data else "Load a dataset first (Ctrl+O)"
        )
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)

    def offer_resume(self, out_dir: str) -> None:
        """Show "Resume run" for the run in ``out_dir`` (its engine ended before the run did)."""
        self._resume_dir = out_dir
        self.resume_button.setVisible(True)
        self.resume_button.setEnabled(True)
        self.progress_label.setText("Interrupted: Resume run continues it from its last checkpoint.")

    def hide_resume(self) -> None:
        self._resume_dir = None
        self.resume_button.setVisible(False)
