"""The freeze policy control: every policy the engine accepts, with its argument.

The policies and their help come from `engine.models.freeze.POLICIES` (``all``, ``none``,
``top:N``, ``from:LAYER``); the layer list for ``from:`` is the backbone's, once a build
has told the page its names, and any other name can be typed.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from kiln_lab.engine.errors import ConfigError
from kiln_lab.engine.models.freeze import POLICIES, parse_freeze
from kiln_lab.gui.widgets.forms import int_spin


class FreezePolicyEdit(QWidget):
    """``value()`` / ``set_value()`` speak the engine's policy strings; ``edited`` fires on a person's change."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.kind_combo = QComboBox()
        for policy, explanation in POLICIES.items():
            kind, _, arg = policy.partition(":")
            self.kind_combo.addItem(f"{kind} {arg}".strip(), kind)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, explanation, role=3)  # Qt.ToolTipRole
        self.kind_combo.setToolTip("Which backbone layers learn")
        self.top_spin = int_spin(2, 0, 10000, "top:N: how many of the backbone's top layers learn")
        self.layer_combo = QComboBox()
        self.layer_combo.setEditable(True)
        self.layer_combo.setMinimumContentsLength(10)
        self.layer_combo.setToolTip(
            "from:LAYER: the backbone learns from this layer up. Count parameters to list the backbone's layers"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind_combo, 1)
        layout.addWidget(self.top_spin)
        layout.addWidget(self.layer_combo, 1)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.top_spin.valueChanged.connect(self.edited)
        self.layer_combo.lineEdit().editingFinished.connect(self.edited)
        self.layer_combo.activated.connect(lambda _i: self.edited.emit())
        self._update_arguments()

    def explanation(self) -> str:
        return str(self.kind_combo.currentData(role=3) or "")

    def set_layer_names(self, names: list[str]) -> None:
        """The backbone's layer names, bottom to top, offered for ``from:``."""
        text = self.layer_combo.currentText()
        blocked = self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        self.layer_combo.setEditText(text)
        self.layer_combo.blockSignals(blocked)

    def value(self) -> str:
        kind = self.kind_combo.currentData()
        if kind == "top":
            return f"top:{self.top_spin.value()}"
        if kind == "from":
            layer = self.layer_combo.currentText().strip()
            return f"from:{layer}" if layer else "from:"
        return str(kind)

    def set_value(self, policy: str) -> bool:
        """Show ``policy``; False (showing nothing new) when it is not a policy this control can show."""
        try:
            kind, arg = parse_freeze(policy)
        except ConfigError:
            return False
        index = self.kind_combo.findData(kind)
        if index < 0:
            return False
        blocked = [w.blockSignals(True) for w in (self.kind_combo, self.top_spin, self.layer_combo)]
        self.kind_combo.setCurrentIndex(index)
        if kind == "top":
            self.top_spin.setValue(int(arg))
        elif kind == "from":
            self.layer_combo.setEditText(str(arg))
        for widget, was in zip((self.kind_combo, self.top_spin, self.layer_combo), blocked):
            widget.blockSignals(was)
        self._update_arguments()
        return self.value() == policy.strip()

    def _on_kind(self) -> None:
        self._update_arguments()
        self.edited.emit()

    def _update_arguments(self) -> None:
        kind = self.kind_combo.currentData()
        self.top_spin.setVisible(kind == "top")
        self.layer_combo.setVisible(kind == "from")
