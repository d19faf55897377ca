"""The field<->widget binding: a control that cannot show a value keeps it; edits are written."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox

from kiln_lab.engine.training.config import RunConfig
from kiln_lab.gui.binding import FormBinding, get_path, set_path
from kiln_lab.gui.session import Session


def test_paths_reach_into_nested_sections():
    config = set_path(RunConfig(), "data.augment.zoom", 0.3)
    assert get_path(config, "data.augment.zoom") == 0.3 and config.data.augment.flip is False
    assert get_path(set_path(config, "name", "x"), "name") == "x"


def test_a_combo_without_the_value_keeps_it_until_edited(qtbot):
    session = Session()
    session.load_config(RunConfig().replace(train={"optimizer": "rmsprop"}))
    box = QComboBox()
    qtbot.addWidget(box)
    box.addItem("adam", "adam")
    box.addItem("sgd", "sgd")
    binding = FormBinding(session)
    field = binding.bind("train.optimizer", box)
    assert not field.shown and session.config.train.optimizer == "rmsprop"
    box.setCurrentIndex(box.currentIndex())  # touched, not changed
    assert session.config.train.optimizer == "rmsprop"
    box.setCurrentIndex(1)  # a person's choice is written
    assert session.config.train.optimizer == "sgd" and field.shown


def test_a_spin_box_out_of_range_keeps_the_value_and_follows_the_config(qtbot):
    session = Session()
    session.load_config(RunConfig().replace(train={"momentum": 0.99951}))
    spin = QDoubleSpinBox()
    qtbot.addWidget(spin)
    spin.setDecimals(3)
    binding = FormBinding(session)
    binding.bind("train.momentum", spin)
    spin.setValue(spin.value())
    assert session.config.train.momentum == 0.99951  # 3 decimals cannot show it: kept
    session.update(train={"momentum": 0.5})  # changed elsewhere: the control follows
    assert spin.value() == 0.5
    spin.setValue(0.25)
    assert session.config.train.momentum == 0.25


def test_rotation_shows_in_degrees_and_is_kept_as_a_fraction_of_a_turn(qtbot):
    from kiln_lab.engine.data.config import AugmentConfig
    from kiln_lab.gui.panels.augment_panel import AugmentPanel

    session = Session()
    session.load_config(RunConfig().replace(data={"augment": AugmentConfig(rotation=0.05)}))
    panel = AugmentPanel(FormBinding(session), lambda: None)
    qtbot.addWidget(panel)
    assert panel.rotation_spin.value() == 18.0 and panel.rotation_spin.suffix() == "°"
    panel.rotation_spin.setValue(10.0)  # a person types degrees
    assert session.config.data.augment.rotation == 10 / 360
