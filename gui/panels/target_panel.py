"""What to predict from a table: the target column and the task (classes or a number).

Bound to ``data.target`` and ``data.task`` (the CLI's ``--target`` and ``--task``). The
column list is the scanned table's header; the task list says what "automatic" decided for
the column shown. Changing either makes the Data page scan the table again through the
engine (`DataPage`), which also says, in the note under the controls, why a choice cannot
be used (regression on a column of words) and keeps the last one that could.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QLabel

from kiln_lab.gui.binding import FormBinding
from kiln_lab.gui.widgets.forms import declared_combo, declared_tooltip, muted_label

TASK_WORDS = {"classification": "classes", "regression": "a number"}
TASK_LABELS = {
    "auto": "Automatic",
    "classification": "Classification: which class",
    "regression": "Regression: a number",
}
# The engine's rule for "automatic" (engine/data/tabular.py `_encode_target`), in words.
AUTO_RULE = (
    "Automatic reads the target column this way: text (cat, dog) is classes; whole numbers with few "
    "different values (0/1, ratings 1 to 5; at most 10, or at most 20 when each has ten rows) are classes; "
    "other numbers (prices, temperatures, counts with many values) are a quantity to predict (regression). "
    "Choose classification or regression to read it the other way."
)


class TargetPanel(QGroupBox):
    """The target column and the task of a table (hidden for images and arrays, whose labels say it)."""

    def __init__(self, binding: FormBinding) -> None:
        super().__init__("What to predict")
        self.binding = binding
        self._picked = ""  # the column the engine read as the target (the default when none is chosen)
        grid = QGridLayout(self)
        self.column_combo = QComboBox()
        self.column_combo.setToolTip(declared_tooltip(
            "data.target", "Every other column is an input the model predicts it from"))
        self.column_combo.setProperty("kiln_path", "data.target")
        self.task_combo = declared_combo("data.task", labels=TASK_LABELS, note=AUTO_RULE)
        self.note = muted_label("")
        grid.addWidget(QLabel("Target column"), 0, 0)
        grid.addWidget(self.column_combo, 0, 1)
        grid.addWidget(QLabel("Task"), 1, 0)
        grid.addWidget(self.task_combo, 1, 1)
        grid.addWidget(self.note, 2, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        # Another column starts from "automatic": what the engine reads it as shows in the task list.
        binding.bind(
            "data.target", self.column_combo, to_widget=lambda name: name or self._picked,
            apply=lambda config, name: config.replace(data={"target": name, "task": "auto"}),
        )
        binding.bind("data.task", self.task_combo)

    def show_dataset(self, dataset: Any) -> None:
        """Fill the column list from the scanned table and say what the engine read."""
        preprocessing = dataset.preprocessing or {}
        is_table = preprocessing.get("kind") == "tabular"
        self.setVisible(is_table)
        if not is_table:
            return
        self._picked = str(preprocessing.get("target", ""))
        blocked = self.column_combo.blockSignals(True)
        try:
            self.column_combo.clear()
            for name in preprocessing.get("header", []):
                self.column_combo.addItem(str(name), str(name))
        finally:
            self.column_combo.blockSignals(blocked)
        # "Automatic" names what it decided for this column.
        self.task_combo.setItemText(
            self.task_combo.findData("auto"), f"Automatic ({dataset.task})"
        )
        self.binding.show(self.binding.session.config)
        self.show_note(self.describe(dataset))

    def describe(self, dataset: Any) -> str:
        words = TASK_WORDS.get(dataset.task, dataset.task)
        if dataset.is_classification:
            return f"Kiln predicts '{self._picked}' as {words}: {dataset.num_classes} classes."
        return f"Kiln predicts '{self._picked}' as {words} (regression): the model learns its value."

    def show_note(self, text: str, *, problem: bool = False) -> None:
        self.note.setText(text)
        self.note.setProperty("kiln_problem", problem)
        self.note.setStyleSheet("color: #d9534f;" if problem else "")  # red that reads on light and dark
