"""A read-only run log: plain sentences with a time, warnings and errors stand out."""

from __future__ import annotations

import html
import time

from PySide6.QtGui import QFont
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
        self.appendHtml(f'<span style="color:#8a9099">{stamp}</span>&nbsp;&nbsp;{body}')

    def warnings(self) -> list[str]:
        return [text for level, text in self.lines if level == "warning"]
