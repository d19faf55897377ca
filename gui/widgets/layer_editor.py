"""The from-scratch layer list editor: add, remove, reorder and edit `LayerSpec` rows.

Each row's cells are real editors (combo boxes, spin boxes). Only the fields that matter
for a row's layer type are enabled, so a dropout row shows its rate and a conv row its
filters, kernel and activation.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kiln_lab.engine.models.layer_types import LAYER_TYPES
from kiln_lab.engine.models.recipe import LayerSpec
from kiln_lab.gui.widgets.forms import declared_combo, declared_spin, declared_tooltip

# Column headers for the LayerSpec fields a row may use; which ones a row uses, and a new
# row's values, come from the engine's layer-type registry.
COLUMNS = {
    "type": "Layer",
    "units": "Units",
    "kernel_size": "Kernel",
    "activation": "Activation",
    "rate": "Rate",
    "kernel_initializer": "Initializer",
}
MIN_ROWS = 5


class LayerEditor(QWidget):
    changed = Signal()  # the list was edited by the user

    def __init__(self) -> None:
        super().__init__()
        self._specs: list[LayerSpec] = []

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS.values()))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(28)
        header = self.table.horizontalHeader()
        # Columns share the width: the table never forces its card wider than the window.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        # Layer names ("Global pooling") need room; units, kernel and rate hold short numbers, so
        # activation and initializer share the rest (their headers fit at the minimum window).
        for column, width in ((0, 104), (1, 56), (2, 44), (4, 56)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, width)
        self.table.setMinimumWidth(0)
        # Five rows in view: a preset's whole list reads at a glance, and editing one row shows its
        # neighbours (the header is about one row tall).
        self.table.setMinimumHeight(28 * (MIN_ROWS + 1) + 6)
        self.table.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)

        self.add_button = QToolButton()
        self.add_button.setText("Add")
        self.add_button.setToolTip("Add a layer below the selected one")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for kind, layer_type in LAYER_TYPES.items():
            action = menu.addAction(layer_type.label)
            action.setToolTip(layer_type.help)
            action.triggered.connect(lambda _=False, k=kind: self.add_layer(k))
        self.add_button.setMenu(menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected layer")
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Move the selected layer one place towards the input")
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Move the selected layer one place towards the output")
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))

        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        self.note = QLabel("")
        self.note.setProperty("role", "muted")
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the card
        self.note.setWordWrap(True)  # a narrow card wraps it onto two lines instead of cutting it
        buttons.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def set_note(self, text: str) -> None:
        self.note.setText(text)

    # -- list -----------------------------------------------------------------------------

    def specs(self) -> tuple[LayerSpec, ...]:
        return tuple(self._specs)

    def set_specs(self, specs: tuple[LayerSpec, ...] | list[LayerSpec]) -> None:
        self._specs = list(specs)
        self._rebuild()

    def add_layer(self, kind: str) -> None:
        row = self.table.currentRow()
        at = row + 1 if row >= 0 else len(self._specs)
        self._specs.insert(at, LAYER_TYPES[kind].new_spec())
        self._rebuild()
        self.table.selectRow(at)
        self.changed.emit()

    def remove_selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self._specs):
            del self._specs[row]
            self._rebuild()
            self.table.selectRow(min(row, len(self._specs) - 1))
            self.changed.emit()

    def move_selected(self, offset: int) -> None:
        row = self.table.currentRow()
        target = row + offset
        if 0 <= row < len(self._specs) and 0 <= target < len(self._specs):
            self._specs[row], self._specs[target] = self._specs[target], self._specs[row]
            self._rebuild()
            self.table.selectRow(target)
            self.changed.emit()

    # -- rows -----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self.table.setRowCount(len(self._specs))
        for row, spec in enumerate(self._specs):
            self._fill_row(row, spec)

    def _fill_row(self, row: int, spec: LayerSpec) -> None:
        layer_type = LAYER_TYPES.get(spec.type)
        used = layer_type.fields if layer_type is not None else frozenset()
        kind = QComboBox()
        for name, known in LAYER_TYPES.items():
            kind.addItem(known.label, name)
            kind.setItemData(kind.count() - 1, known.help, role=3)  # Qt.ToolTipRole
        if layer_type is None:  # a type this Kiln does not know: shown by name, kept as it is
            kind.addItem(spec.type, spec.type)
        kind.setCurrentIndex(max(0, kind.findData(spec.type)))
        kind.setToolTip(declared_tooltip("model.layers.type"))
        kind.setProperty("kiln_path", "model.layers.type")
        kind.currentIndexChanged.connect(lambda _i, r=row, w=kind: self._edit(r, type=w.currentData()))

        units = declared_spin("model.layers.units")
        units.setValue(spec.units or 1)
        units.valueChanged.connect(lambda v, r=row: self._edit(r, units=v))
        kernel = declared_spin("model.layers.kernel_size")
        kernel.setValue(spec.kernel_size)
        kernel.valueChanged.connect(lambda v, r=row: self._edit(r, kernel_size=v))
        activation = declared_combo("model.layers.activation", current=spec.activation, labels={})
        activation.currentIndexChanged.connect(
            lambda _i, r=row, w=activation: self._edit(r, activation=w.currentData())
        )
        rate = declared_spin("model.layers.rate")
        rate.setValue(spec.rate)
        rate.valueChanged.connect(lambda v, r=row: self._edit(r, rate=v))
        init = declared_combo(
            "model.layers.kernel_initializer", current=spec.kernel_initializer, none_label="model's",
            note="\"model's\": the one chosen for the whole model",
        )
        init.currentIndexChanged.connect(lambda _i, r=row, w=init: self._edit(r, kernel_initializer=w.currentData()))

        widgets = {
            "type": kind,
            "units": units,
            "kernel_size": kernel,
            "activation": activation,
            "rate": rate,
            "kernel_initializer": init,
        }
        for column, field in enumerate(COLUMNS):
            if field != "type":
                widgets[field].setEnabled(field in used)
            self.table.setCellWidget(row, column, widgets[field])

    def _edit(self, row: int, **change: object) -> None:
        if not 0 <= row < len(self._specs):
            return
        old = self._specs[row]
        if "type" in change:
            # A new type starts from its registry defaults; the activation and initializer carry over.
            spec = dataclasses.replace(
                LAYER_TYPES[str(change["type"])].new_spec(),
                activation=old.activation,
                kernel_initializer=old.kernel_initializer,
            )
            self._specs[row] = spec
            self._fill_row(row, spec)  # different fields apply now
        else:
            self._specs[row] = dataclasses.replace(old, **change)
        self.changed.emit()
