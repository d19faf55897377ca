"""What a scan found wrong: the engine's sentences about the dataset, and each skipped file with its reason."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout

from kiln_lab.gui.widgets.forms import muted_label


class ProblemsPanel(QGroupBox):
    def __init__(self) -> None:
        super().__init__("Problems found")
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["File or issue", "Reason"])
        self.tree.setRootIsDecorated(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.summary = muted_label("")
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)

    def show_dataset(self, dataset: Any) -> None:
        """Sentences about the whole dataset above; skipped files, each with its reason, in the list."""
        self.setTitle("Problems found")
        skipped = [(s.path, s.reason) for s in dataset.skipped]
        self._show(dataset.source, skipped, list(dataset.problems), "No problems: every file was read.")

    def show_failure(self, source: str, sentence: str, items: tuple[tuple[str, str], ...]) -> None:
        """Data that could not be used at all: the sentence, and each file it is about with its full reason."""
        self.setTitle(f"Why {Path(source).name or source} could not be used")
        self._show(source, list(items), [sentence], "")

    def _show(self, source: str, skipped: list[tuple[str, str]], problems: list[str], none: str) -> None:
        self.tree.clear()
        root = Path(source)
        for path, reason in skipped:
            shown = path
            if root.is_dir() and Path(path).is_relative_to(root):
                shown = str(Path(path).relative_to(root))  # cats/img_12.jpg, not a long absolute path
            item = QTreeWidgetItem([shown, reason])
            item.setToolTip(0, path)
            item.setToolTip(1, reason)
            self.tree.addTopLevelItem(item)
        n_skipped = len(skipped)
        self.tree.setVisible(n_skipped > 0)
        lines = [f"• {html.escape(problem, quote=False)}" for problem in problems]
        if n_skipped and not lines:  # the engine's own sentences usually say it already
            lines.insert(0, f"{n_skipped} file{'s' if n_skipped != 1 else ''} skipped (not used for training):")
        self.summary.setText("<br>".join(lines or [none]))
