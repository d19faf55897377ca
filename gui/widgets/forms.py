"""Small form helpers: every numeric control gets a range and a tooltip that says what it does."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QWidget


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
    """A learning rate: shown in scientific notation, steps by factors of ~2 rather than adding."""

    def __init__(self, value: float, tooltip: str) -> None:
        super().__init__()
        self.setDecimals(8)
        self.setRange(1e-7, 10.0)
        self.setValue(value)
        self.setToolTip(tooltip)

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
