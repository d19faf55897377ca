"""Small form helpers: every numeric control gets a range and a tooltip that says what it does.

A control for a config setting takes its range, choices, step, tooltip and enabled state from
the setting's declaration (`engine.params`), through `declared_spin`, `declared_combo`,
`configure_from_declaration` and `enable_used`; it records the config path and scale it
shows in the widget properties ``kiln_path`` and ``kiln_scale``, which
``tests/gui/test_controls_declared.py`` compares with the declaration.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QAbstractSlider, QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QWidget

from kiln_lab.engine.params import Param, declared, default_at, field_type, is_used
from kiln_lab.engine.training.config import RunConfig

SPIN_LIMIT = 2**31 - 1  # QSpinBox holds a C int
_DEFAULT = object()  # declared_combo: select the setting's default


def int_spin(
    value: int, minimum: int, maximum: int, tooltip: str, *, step: int = 1, suffix: str = "", special: str | None = None
) -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tooltip)
    box.setAccelerated(True)
    if suffix:
        box.setSuffix(suffix)
    if special:  # shown at the minimum, e.g. "off"
        box.setSpecialValueText(special)
    return box


def float_spin(
    value: float,
    minimum: float,
    maximum: float,
    tooltip: str,
    *,
    step: float = 0.1,
    decimals: int = 2,
    suffix: str = "",
    special: str | None = None,
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tooltip)
    box.setAccelerated(True)
    if suffix:
        box.setSuffix(suffix)
    if special:
        box.setSpecialValueText(special)
    return box


class LearningRateSpin(QDoubleSpinBox):
    """A learning rate: shown in scientific notation, steps by factors of ~2 rather than adding.

    Its range and tooltip come from ``train.learning_rate``'s declaration.
    """

    def __init__(self, path: str = "train.learning_rate") -> None:
        super().__init__()
        self.setDecimals(8)
        configure_from_declaration(self, path, note="Arrow keys halve or double it")
        self.setValue(default_at(RunConfig, path))

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # noqa: ANN201 - Qt override
        from PySide6.QtGui import QValidator

        try:
            float(text)
            return QValidator.State.Acceptable, text, pos
        except ValueError:
            return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        self.setValue(self.value() * (2.0**steps))


def combo(items: dict[str, str] | list[str], current: str | None, tooltip: str) -> QComboBox:
    """A combo box whose item data is the engine's name; dict values become item tooltips."""
    box = QComboBox()
    if isinstance(items, dict):
        for name, explanation in items.items():
            box.addItem(name.replace("_", " "), name)
            box.setItemData(box.count() - 1, explanation, role=3)  # Qt.ToolTipRole
    else:
        for name in items:
            box.addItem(name, name)
    if current is not None:
        select(box, current)
    box.setToolTip(tooltip)
    return box


def select(box: QComboBox, value: str) -> None:
    index = box.findData(value)
    if index >= 0:
        box.setCurrentIndex(index)


# -- controls made from a setting's declaration ---------------------------------------------------


def declaration_at(path: str) -> Param:
    """The declaration of a config path ("train.epochs", "model.layers.units")."""
    return RunConfig.declaration(path)


def declared_tooltip(path: str, note: str = "") -> str:
    """The setting's help, unit and range (``note`` adds what the control shows differently)."""
    text = declaration_at(path).describe()
    return f"{text}. {note}" if note else text


def declared_spin(
    path: str,
    *,
    scale: float = 1.0,
    decimals: int | None = None,
    step: float | None = None,
    prefix: str = "",
    suffix: str = "",
    special: str | None = None,
    note: str = "",
) -> QSpinBox | QDoubleSpinBox:
    """A spin box for a numeric setting: range, step, decimals and tooltip from its declaration.

    ``scale`` converts the config's value to what the box shows (360: a fraction of a turn in
    degrees); the binding's ``to_widget``/``from_widget`` do the same conversion.
    """
    spec = declaration_at(path)
    whole = _base_type(field_type(RunConfig, path)) is int and scale == 1.0
    box: QSpinBox | QDoubleSpinBox = QSpinBox() if whole else QDoubleSpinBox()
    if not whole:
        box.setDecimals(decimals if decimals is not None else spec.decimals if spec.decimals is not None else 2)
    configure_from_declaration(box, path, scale=scale, note=note)
    box.setSingleStep(step if step is not None else spec.step if spec.step is not None else 1)
    default = default_at(RunConfig, path)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        box.setValue(default * scale)
    box.setAccelerated(True)
    box.setPrefix(prefix)
    box.setSuffix(suffix)
    if special:  # shown at the minimum, e.g. "off"
        box.setSpecialValueText(special)
    _cap_width(box)
    return box


def _cap_width(box: QSpinBox | QDoubleSpinBox) -> None:
    """No wider than a box for values up to 99999: a declared limit of 1e9 is a guard, not a typical value."""
    probe = QSpinBox() if isinstance(box, QSpinBox) else QDoubleSpinBox()
    if isinstance(box, QDoubleSpinBox):
        probe.setDecimals(box.decimals())
    probe.setRange(0, 99999)
    probe.setPrefix(box.prefix())
    probe.setSuffix(box.suffix())
    probe.setSpecialValueText(box.specialValueText())
    if box.sizeHint().width() > probe.sizeHint().width():
        box.setMaximumWidth(probe.sizeHint().width())


def configure_from_declaration(widget: QWidget, path: str, *, scale: float = 1.0, note: str = "") -> QWidget:
    """Give an existing spin box, slider or combo box the range (or choices) and tooltip a setting declares."""
    spec = declaration_at(path)
    if isinstance(widget, QComboBox):
        _fill_choices(widget, spec)
    else:
        decimals = widget.decimals() if isinstance(widget, QDoubleSpinBox) else 0
        low, high = spec.shown_range(decimals, scale)
        low, high = max(low, -SPIN_LIMIT), min(high, SPIN_LIMIT)
        if isinstance(widget, (QSpinBox, QAbstractSlider)):
            widget.setRange(int(low), int(high))
        else:
            widget.setRange(low, high)
    widget.setToolTip(declared_tooltip(path, note))
    widget.setProperty("kiln_path", path)
    widget.setProperty("kiln_scale", float(scale))
    return widget


def declared_combo(
    path: str,
    *,
    current: Any = _DEFAULT,
    labels: dict[Any, str] | None = None,
    none_label: str | None = None,
    note: str = "",
) -> QComboBox:
    """A combo box of a setting's declared choices (item data = the engine's name, tooltip = its help).

    ``none_label``: an optional setting's first item, standing for None (its ``none_means``).
    """
    box = QComboBox()
    if none_label is not None:
        box.addItem(none_label, None)
        box.setItemData(0, declaration_at(path).none_means, role=3)  # Qt.ToolTipRole
    _fill_choices(box, declaration_at(path), labels)
    configure_from_declaration(box, path, note=note)
    index = box.findData(default_at(RunConfig, path) if current is _DEFAULT else current)
    box.setCurrentIndex(max(0, index))
    return box


def _fill_choices(box: QComboBox, spec: Param, labels: dict[Any, str] | None = None) -> None:
    if box.property("kiln_filled"):
        return  # filled already (declared_combo): keep its labels
    box.setProperty("kiln_filled", True)
    for name, explanation in spec.choice_help().items():
        label = (labels or {}).get(name, str(name).replace("_", " "))
        box.addItem(label, name)
        if explanation:
            box.setItemData(box.count() - 1, explanation, role=3)  # Qt.ToolTipRole


def enable_used(controls: dict[str, QWidget], section: Any) -> None:
    """Enable each setting's control only while the setting applies (``used_when``: momentum for SGD).

    ``controls`` maps field names of ``section`` (a config section) to their controls.
    """
    params = declared(section)
    for name, widget in controls.items():
        if params[name].used_when is not None:
            widget.setEnabled(is_used(section, name))


def _base_type(hint: Any) -> Any:
    import typing

    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args and typing.get_origin(hint) is not tuple else hint


def title_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "title")
    return label


def muted_label(text: str, *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "muted")
    label.setWordWrap(wrap)
    return label


def set_enabled(widgets: list[QWidget], enabled: bool) -> None:
    for widget in widgets:
        widget.setEnabled(enabled)


def describe_count(n: int | None) -> str:
    """A parameter count for people: 1.23 M, 45.6 k, 789."""
    if n is None:
        return "?"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 10_000:
        return f"{n / 1e3:.1f} k"
    return f"{n:,}"
