"""Field <-> widget binding: each form control is bound to one `RunConfig` path.

A `Field` links a control to a dotted path such as ``train.learning_rate`` and holds the
value it stands for. It writes that value into the config only when the person edits the
control, so a control that cannot show a value keeps it instead of replacing it: a freeze
combo without ``from:block5``, a disabled mixed-precision box on a machine without a GPU,
an image size the size list does not hold. `FormBinding` owns a page's fields, shows a
config in them with signals blocked, and re-shows a field when the config changes under it
(another control, a loaded file), so every form round-trips the config it was given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSlider,
    QSpinBox,
    QWidget,
)

from kiln_lab.engine.training.config import RunConfig

_UNSHOWN = object()  # a value the control cannot display (the field keeps it regardless)


def get_path(config: Any, path: str) -> Any:
    """``get_path(config, "data.augment.flip")``: a value inside nested dataclasses."""
    value = config
    for part in path.split("."):
        value = getattr(value, part)
    return value


def set_path(config: Any, path: str, value: Any) -> Any:
    """A copy of ``config`` with the value at ``path`` replaced (frozen dataclasses all the way down)."""
    head, _, rest = path.partition(".")
    if not rest:
        return dataclasses.replace(config, **{head: value})
    return dataclasses.replace(config, **{head: set_path(getattr(config, head), rest, value)})


class Field:
    """One control bound to one config path.

    Args:
        path: dotted config path (``model.freeze``).
        widget: the control; spin boxes, sliders, check boxes, combo boxes (item data = the
            engine's name) and line edits are understood without ``read``/``write``/``signal``.
        to_widget: config value -> what the control shows; raise ``ValueError`` (or return
            ``None`` for a combo without that item) when it cannot show it.
        from_widget: what the control shows -> config value.
        apply: writes the value into a config (default: `set_path`); the seed uses
            `RunConfig.with_seed` so one seed means the same as the CLI's ``--seed``.
    """

    def __init__(
        self,
        path: str,
        widget: QWidget,
        *,
        to_widget: Callable[[Any], Any] | None = None,
        from_widget: Callable[[Any], Any] | None = None,
        apply: Callable[[RunConfig, Any], RunConfig] | None = None,
        read: Callable[[], Any] | None = None,
        write: Callable[[Any], bool] | None = None,
        signal: Any = None,
    ) -> None:
        self.path = path
        self.widget = widget
        self.value: Any = None
        self._to_widget = to_widget or (lambda v: v)
        self._from_widget = from_widget or (lambda v: v)
        self._apply = apply or (lambda config, v: set_path(config, path, v))
        self._read = read or _reader(widget)
        self._write = write or _writer(widget)
        self.signal = signal if signal is not None else _signal(widget)
        self.shown = True  # False: the control could not show the value it holds

    def show(self, value: Any) -> None:
        """Display ``value`` (signals blocked by the caller) and hold it."""
        self.value = value
        try:
            shown = self._to_widget(value)
        except (ValueError, TypeError):
            shown = _UNSHOWN
        self.shown = shown is not _UNSHOWN and bool(self._write(shown))

    def take_from_widget(self) -> Any:
        """The person edited the control: its value becomes the field's."""
        self.value = self._from_widget(self._read())
        self.shown = True
        return self.value

    def apply(self, config: RunConfig) -> RunConfig:
        return self._apply(config, self.value)


class FormBinding(QObject):
    """A page's bound fields, kept in step with the session's config.

    ``edited`` fires (with the field) after a person's edit has been written to the session.
    """

    edited = Signal(object)

    def __init__(self, session: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.fields: list[Field] = []
        self._showing = False
        session.config_changed.connect(self.sync)

    def bind(self, path: str, widget: QWidget, **options: Any) -> Field:
        """Bind ``widget`` to ``path`` (see `Field`), show the current value and follow edits."""
        field = Field(path, widget, **options)
        self.fields.append(field)
        self._show_fields([field], self.session.config)
        field.signal.connect(lambda *_args, f=field: self._on_edit(f))
        return field

    def field(self, path: str) -> Field:
        return next(f for f in self.fields if f.path == path)

    def show(self, config: RunConfig) -> None:
        """Show every field's value from ``config`` (a config loaded from a file, a new page)."""
        self._show_fields(self.fields, config)

    def sync(self, config: RunConfig) -> None:
        """Re-show only the fields whose value changed in ``config`` (edited elsewhere)."""
        stale = [f for f in self.fields if get_path(config, f.path) != f.value]
        if stale:
            self._show_fields(stale, config)

    def _show_fields(self, fields: list[Field], config: RunConfig) -> None:
        self._showing = True
        try:
            for field in fields:
                blocked = field.widget.blockSignals(True)
                try:
                    field.show(get_path(config, field.path))
                finally:
                    field.widget.blockSignals(blocked)
        finally:
            self._showing = False

    def _on_edit(self, field: Field) -> None:
        if self._showing:
            return
        field.take_from_widget()
        new = field.apply(self.session.config)
        sections = {name: getattr(new, name) for name in ("data", "model", "train", "name")}
        self.session.update(**sections)
        self.edited.emit(field)


# -- what each kind of control reads, writes and announces -----------------------------------


def _reader(widget: QWidget) -> Callable[[], Any]:
    if isinstance(widget, QComboBox):
        return widget.currentData
    if isinstance(widget, QAbstractButton):
        return widget.isChecked
    if isinstance(widget, QLineEdit):
        return widget.text
    if isinstance(widget, (QAbstractSpinBox, QSlider)):
        return widget.value
    raise TypeError(f"No reader for {type(widget).__name__}: pass read=")


def _writer(widget: QWidget) -> Callable[[Any], bool]:
    """A writer returns False when the control cannot show the value (it then shows nothing new)."""
    if isinstance(widget, QComboBox):

        def write_combo(value: Any) -> bool:
            index = widget.findData(value)
            if index < 0:
                return False
            widget.setCurrentIndex(index)
            return True

        return write_combo
    if isinstance(widget, QAbstractButton):
        return lambda value: widget.setChecked(bool(value)) or True
    if isinstance(widget, QLineEdit):
        return lambda value: widget.setText("" if value is None else str(value)) or True
    if isinstance(widget, QDoubleSpinBox):

        def write_double(value: Any) -> bool:
            widget.setValue(float(value))
            return widget.value() == float(value)  # out of range or finer than its decimals: kept, not shown

        return write_double
    if isinstance(widget, (QSpinBox, QSlider)):

        def write_int(value: Any) -> bool:
            widget.setValue(int(value))
            return widget.value() == value

        return write_int
    raise TypeError(f"No writer for {type(widget).__name__}: pass write=")


def _signal(widget: QWidget) -> Any:
    if isinstance(widget, QComboBox):
        return widget.currentIndexChanged
    if isinstance(widget, QAbstractButton):
        return widget.toggled
    if isinstance(widget, QLineEdit):
        return widget.editingFinished
    if isinstance(widget, (QAbstractSpinBox, QSlider)):
        return widget.valueChanged
    raise TypeError(f"No change signal for {type(widget).__name__}: pass signal=")
