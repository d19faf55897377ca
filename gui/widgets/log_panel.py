"""A read-only run log: plain sentences with a time, warnings and errors stand out."""

from __future__ import annotations

import html
import time

from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import QPlainTextEdit

LEVEL_COLORS = {"info": None, "warning": "#d48a00", "error": "#d64545", "success": "#2a9d55"}


class LogPanel(QPlainTextEdit):
    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)  # a long run must not grow the log without bound
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(9)
        self.setFont(font)
        self.setPlaceholderText("The run log: what happened, warnings (NaN loss, skipped files) in plain words.")
        self.lines: list[tuple[str, str]] = []  # (level, text), for tests and "copy log"
        # Follow new lines unless the person scrolled up to read. Qt's own follow only works while the
        # scroll bar is at its end; a hidden log (another tab in front) stops updating its range, so
        # after the first line added while hidden it is never "at the end" again.
        self.following = True
        self._adding = False
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().rangeChanged.connect(lambda _low, _high: self.following and self.scroll_to_end())

    def add(self, text: str, level: str = "info") -> None:
        self.lines.append((level, text))
        stamp = time.strftime("%H:%M:%S")
        color = LEVEL_COLORS.get(level)
        body = html.escape(text)
        if level == "warning":
            body = f"⚠ {body}"
        elif level == "error":
            body = f"✖ {body}"
        if color:
            body = f'<span style="color:{color}">{body}</span>'
        self._adding = True
        try:
            self.appendHtml(f'<span style="color:#8a9099">{stamp}</span>&nbsp;&nbsp;{body}')
            if self.following:
                self.scroll_to_end()
        finally:
            self._adding = False

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        adding, self._adding = self._adding, True
        bar.setValue(bar.maximum())
        self._adding = adding

    def _on_scrolled(self, value: int) -> None:
        if not self._adding and self.isVisible():  # only the person's scrolling changes whether it follows
            self.following = value >= self.verticalScrollBar().maximum()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self.following:  # the range caught up with lines added while hidden
            self.scroll_to_end()

    def warnings(self) -> list[str]:
        return [text for level, text in self.lines if level == "warning"]
