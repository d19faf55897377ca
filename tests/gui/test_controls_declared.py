"""Every form control for a config setting agrees with the setting's declaration (engine/params.py):
its range (in the units it shows), its choices, its tooltip, and when it is enabled."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSlider, QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from kiln_lab.engine.params import declared, is_used
from kiln_lab.engine.training.choices import OPTIMIZERS, SCHEDULES
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui.binding import FormBinding

# Bound controls that show something other than a declared range or option list.
NOT_DECLARED = {"model.backbone": "the backbone catalogue, plus any handle or file"}


@pytest.fixture
def window(qtbot, settings, tmp_path: Path):
    """The main window, built but not shown: no TensorFlow is loaded for these checks."""
    from kiln_lab.gui.app import create_window

    win = create_window(settings, runs_folder=str(tmp_path / "runs"))
    qtbot.addWidget(win)
    return win


def control_disagreements(root: QWidget) -> list[str]:
    """Every way a declared control under ``root`` differs from its setting's declaration."""
    problems: list[str] = []
    for widget in root.findChildren(QWidget):
        path = widget.property("kiln_path")
        if not path:
            continue
        spec = RunConfig.declaration(path)
        scale = widget.property("kiln_scale") or 1.0
        if isinstance(widget, (QSpinBox, QDoubleSpinBox, QAbstractSlider)):
            decimals = widget.decimals() if isinstance(widget, QDoubleSpinBox) else 0
            shown = (widget.minimum(), widget.maximum())
            if shown != pytest.approx(spec.shown_range(decimals, scale)):
                problems.append(f"{path}: range {shown}, declared {spec.shown_range(decimals, scale)}")
        elif isinstance(widget, QComboBox):
            items = [widget.itemData(i) for i in range(widget.count())]
            if path == "data.image_size":  # square sizes, each within the declared range
                outside = [s for s in items if s is not None and not spec.low <= s <= spec.high]
                if outside:
                    problems.append(f"{path}: sizes {outside} outside the declared range")
                continue
            names = [n for n in items if n is not None]
            known = list(spec.names())
            if path == "model.layers.type":
                names = names[: len(known)]  # an unknown type read from a file is shown after the known ones
            if names != known:
                problems.append(f"{path}: choices {names}, declared {known}")
        if not widget.toolTip().startswith(spec.help.rstrip(".")):
            problems.append(f"{path}: tooltip {widget.toolTip()!r} does not start with the declared help")
    return problems


def test_every_declared_control_agrees_with_its_declaration(window) -> None:
    assert control_disagreements(window) == []


def test_every_bound_number_or_choice_control_is_made_from_a_declaration(window) -> None:
    bound = [f for binding in window.findChildren(FormBinding) for f in binding.fields]
    checked = 0
    for field in bound:
        if not isinstance(field.widget, (QSpinBox, QDoubleSpinBox, QAbstractSlider, QComboBox)):
            continue
        if field.path in NOT_DECLARED:
            continue
        assert field.widget.property("kiln_path") == field.path, f"{field.path} is not made from its declaration"
        checked += 1
    assert checked >= 30  # epochs, batch size, rates, seeds, splits, augmentation, recipe knobs, ...


def test_the_layer_editor_cells_are_made_from_the_declarations(window) -> None:
    editor = window.model_page.scratch.layer_editor
    paths = {w.property("kiln_path") for w in editor.findChildren(QWidget)} - {None}
    fields = {f"model.layers.{name}" for name in declared(type(editor.specs()[0]))}
    assert paths == fields


def test_the_check_fails_when_a_control_disagrees(window) -> None:
    form = window.train_page.form
    form.epochs_spin.setMaximum(10000)  # the old hand-kept cap, below the config's 100000
    form.optimizer_combo.removeItem(form.optimizer_combo.findData("adamw"))
    problems = control_disagreements(window)
    assert any(p.startswith("train.epochs: range") for p in problems)
    assert any(p.startswith("train.optimizer: choices") for p in problems)


def test_a_control_is_enabled_exactly_when_its_setting_applies(window) -> None:
    session = window.session
    form = window.train_page.form
    for optimizer in OPTIMIZERS:
        for schedule in SCHEDULES:
            session.update(train={"optimizer": optimizer, "schedule": schedule})
            train = session.config.train
            for field in form.binding.fields:
                name = field.path.removeprefix("train.")
                if declared(train)[name].used_when is None:
                    continue
                disabled = field.widget.testAttribute(Qt.WidgetAttribute.WA_ForceDisabled)
                assert disabled == (not is_used(train, name)), (optimizer, schedule, name)


def test_recipe_controls_follow_their_declared_conditions(window) -> None:
    session = window.session
    panel = window.model_page
    for kernel, two_phase in (("he_normal", False), ("random_normal", True)):
        session.update(model={"kernel_initializer": kernel, "two_phase": two_phase})
        recipe = session.config.model
        for name, widget in (
            ("init_scale", panel.scratch.scale_spin),
            ("head_epochs", panel.finetune.head_epochs_spin),
            ("finetune_lr_factor", panel.finetune.lr_factor_spin),
        ):
            disabled = widget.testAttribute(Qt.WidgetAttribute.WA_ForceDisabled)
            assert disabled == (not is_used(recipe, name)), (kernel, two_phase, name)
