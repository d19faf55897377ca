"""Trusting a backbone that would run code: the question to the person, and recording the yes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget


def ask_trust_backbone(parent: QWidget, path: str, sentence: str) -> bool:
    """Ask before running code from a backbone nobody trusted yet; True on yes."""
    answer = QMessageBox.question(
        parent,
        "Trust this backbone?",
        f"{sentence}\n\nTrust {Path(path).name} and train with it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes
