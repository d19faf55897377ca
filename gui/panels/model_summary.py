"""The Model page's "Built model" strip: count parameters, compare both, and the layer table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from kiln_lab.gui.widgets.forms import muted_label


class ModelSummaryPanel(QGroupBox):
    """Shows `engine.models.summary.describe_built`'s plain summary of a built model."""

    def __init__(self) -> None:
        super().__init__("Built model")
        layout = QHBoxLayout(self)
        numbers = QVBoxLayout()
        self.count_button = QPushButton("Count parameters")
        self.count_button.setProperty("role", "primary")
        self.count_button.setToolTip(
            "Build the chosen model for the loaded data (in the background) and show its layers and parameter counts"
        )
        self.params_label = QLabel("–")
        self.params_label.setProperty("role", "big-number")
        self.params_detail = muted_label("Load data, then count the parameters of the model you chose.")
        self.compare_button = QPushButton("Compare both…")
        self.compare_button.setToolTip(
            "Train the from-scratch model and the fine-tuned model head to head on the same data, "
            "with the Train page's settings, and compare accuracy, time, data and size"
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        numbers.addLayout(buttons)
        numbers.addWidget(self.params_label)
        numbers.addWidget(self.params_detail)
        numbers.addStretch(1)
        self.layers_tree = QTreeWidget()
        self.layers_tree.setHeaderLabels(["Layer", "Type", "Output", "Parameters", "Trainable"])
        self.layers_tree.setRootIsDecorated(False)
        self.layers_tree.setAlternatingRowColors(True)
        self.layers_tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        layout.addLayout(numbers, 1)
        layout.addWidget(self.layers_tree, 3)
        # Room for a small model's every layer (about eight rows) without scrolling the table;
        # the page scrolls as a whole, so this costs no other part its room.
        rows = 8
        row_height = self.layers_tree.fontMetrics().height() + 6
        self.layers_tree.setMinimumHeight(row_height * (rows + 1) + 8)

    def say(self, headline: str, detail: str) -> None:
        self.params_label.setText(headline)
        self.params_detail.setText(detail)

    def mark_changed(self) -> None:
        if self.params_label.text() not in ("–", "…"):
            self.clear("Changed: count again to see the new size.")

    def clear(self, detail: str) -> None:
        """No current model to show: the sentence says why; no layers of a model that is not the one chosen."""
        self.say("–", detail)
        self.layers_tree.clear()

    def show_summary(self, summary: dict[str, Any]) -> None:
        frozen = summary["params"] - summary["trainable"]
        size = summary.get("image_size")
        parts = [f"{summary['trainable']:,} trainable, {frozen:,} frozen"]
        if size:
            parts.append(f"images resized to {size[0]} x {size[1]}")
        if len(summary.get("phases", [])) > 1:
            parts.append(" then ".join(f"{p['name']} ({p['epochs']} epochs)" for p in summary["phases"]))
        self.say(f"{summary['params']:,} parameters", "; ".join(parts) + ".")
        self.layers_tree.clear()
        for layer in summary["layers"]:
            item = QTreeWidgetItem(
                [layer["name"], layer["type"], layer["output"], f"{layer['params']:,}", f"{layer['trainable']:,}"]
            )
            for column in (3, 4):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.layers_tree.addTopLevelItem(item)
