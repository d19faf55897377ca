"""Help > Getting started: the whole path through Kiln in a few lines, and where runs are kept."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget


def getting_started_text(runs_folder: str) -> str:
    """The steps as rich text; ``runs_folder`` is where this window keeps its runs."""
    steps = (
        "<b>Drop your data</b> on the window: a folder of images with one subfolder per class, a CSV table, "
        "or a .npz / .h5 file. Or load a demo from the Data page.",
        "<b>Check the Data page</b>: classes, split (a test share is held back for the end), augmentation, "
        "and any files Kiln could not read, each with its reason.",
        "<b>Pick a path</b> on the Model page: fine-tune a pretrained backbone (images start here) or train "
        "from scratch. “Compare both” trains the two head to head.",
        "<b>Press Ctrl+R</b> to train. The Train page shows the curves live; Ctrl+P pauses, Ctrl+. stops.",
        "<b>Evaluate</b> (Ctrl+E) on the held-out data: per-class scores, confusion, mistakes, “Try it”.",
        "<b>Export</b> the model (Ctrl+S) as .keras, SavedModel or TFLite, with a model card beside it.",
    )
    items = "".join(f"<li style='margin-bottom:6px'>{step}</li>" for step in steps)
    where = html.escape(runs_folder)
    return (
        f"<ol>{items}</ol>"
        f"<p>Every run is kept in its own folder under <code>{where}</code> (model, curves, config); "
        "the Runs page lists them all, to open, compare or train more.</p>"
    )


class GettingStartedDialog(QDialog):
    def __init__(self, runs_folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Getting started with Kiln")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(560)
        self.text = QLabel(getting_started_text(runs_folder))
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
