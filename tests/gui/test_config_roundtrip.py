"""A form bound to a config round-trips it: open a config with every field set to a non-default
value, touch every control on every page, save, and get the identical config back."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QRadioButton, QSlider

from kiln_lab.engine.models.recipe import LayerSpec
from kiln_lab.engine.training.config import RunConfig

# Strings, tuples and None-defaults have no generic "other value": each is named here. A new
# field of such a type fails `test_every_field_is_set` until it gets a value below.
CHOSEN: dict[str, typing.Any] = {
    "data.source": "demo:iris",
    "data.target": "label",
    "data.task": "regression",
    "data.x_key": "features",
    "data.y_key": "labels",
    "data.image_size": (64, 48),  # not square: the size list cannot show it, and must keep it
    "data.cache": "memory",
    "data.val_split": 0.1,
    "data.seed": 7,
    "model.kind": "finetune",
    "model.arch": "custom",
    "model.activation": "gelu",
    "model.kernel_initializer": "glorot_uniform",
    "model.bias_initializer": "random_normal",
    "model.backbone": "demo",
    "model.cut_layer": "block3",  # no control shows it: it must survive untouched
    "model.freeze": "from:block5",
    "model.head_epochs": 3,
    "model.source_task": "demo:digits",
    "model.seed": 8,
    "train.optimizer": "sgd",
    "train.schedule": "step",
    "train.distribution": "mirrored",
    "train.seed": 9,
    "train.mlflow": "sqlite:///mlflow.db",  # no control yet: it must survive untouched
    "name": "roundtrip",
    "layers.type": "conv2d",
    "layers.activation": "tanh",
    "layers.kernel_initializer": "he_uniform",
}


def _other(path: str, default: typing.Any) -> typing.Any:
    if path in CHOSEN:
        return CHOSEN[path]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1 if default else 3
    if isinstance(default, float):
        return default / 2 if default else 0.05
    raise AssertionError(f"Give {path} a non-default value in CHOSEN")


def non_default(cls: type, prefix: str = "") -> typing.Any:
    """An instance of the dataclass ``cls`` with every field changed from its default."""
    values = {}
    for field in dataclasses.fields(cls):
        if field.name == "version":
            continue
        path = f"{prefix}{field.name}"
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:  # a required field (LayerSpec.type)
            values[field.name] = CHOSEN[path]
            continue
        if dataclasses.is_dataclass(default):
            values[field.name] = non_default(type(default), f"{path}.")
        elif path == "model.layers":
            values[field.name] = (non_default(LayerSpec, "layers."), LayerSpec("dropout", rate=0.3))
        else:
            values[field.name] = _other(path, default)
    return cls(**values)


def leaves(value: typing.Any, prefix: str = "") -> dict[str, typing.Any]:
    if dataclasses.is_dataclass(value):
        out = {}
        for field in dataclasses.fields(value):
            out.update(leaves(getattr(value, field.name), f"{prefix}{field.name}."))
        return out
    return {prefix.rstrip("."): value}


@pytest.fixture
def full_config() -> RunConfig:
    return non_default(RunConfig).validate()


def test_every_field_is_set(full_config):
    defaults = leaves(RunConfig())
    same = [path for path, value in leaves(full_config).items() if path != "version" and defaults[path] == value]
    assert same == []


def touch_every_control(window) -> int:
    """Set each control to what it shows, toggle each check box twice, visit each radio and come back."""
    touched = 0
    for page in window.pages:
        for spin in page.findChildren(QAbstractSpinBox) + page.findChildren(QSlider):
            spin.setValue(spin.value())
            touched += 1
        for box in page.findChildren(QComboBox):
            box.setCurrentIndex(box.currentIndex())
            touched += 1
        for edit in page.findChildren(QLineEdit):
            if not isinstance(edit.parent(), (QComboBox, QAbstractSpinBox)):
                edit.editingFinished.emit()  # what leaving the field does
                touched += 1
        for button in page.findChildren(QAbstractButton):
            if isinstance(button, QRadioButton):
                continue
            if button.isCheckable():
                button.toggle()
                button.toggle()
                touched += 1
        radios = [r for r in page.findChildren(QRadioButton)]
        chosen = [r for r in radios if r.isChecked()]
        for radio in radios:
            if not radio.isChecked() and chosen:
                radio.setChecked(True)
                chosen[0].setChecked(True)
                touched += 1
    return touched


@pytest.mark.slow  # loads TensorFlow; the same round trip without it is in the fast tier below
def test_gui_round_trips_every_field(qtbot, window, full_config, tmp_path):
    window.session.load_config(full_config)
    assert touch_every_control(window) > 40
    path = tmp_path / "run.toml"
    worker = window.export_page.save_config_to(str(path))
    qtbot.waitUntil(lambda: not worker.running, timeout=10_000)
    assert RunConfig.load(path) == full_config


def test_round_trip_before_tensorflow_loads(qtbot, settings, full_config):
    """No engine yet (no device known, no catalogue): the device options and the backbone are kept."""
    from kiln_lab.gui.app import create_window

    window = create_window(settings)
    qtbot.addWidget(window)
    window.session.load_config(full_config)
    touch_every_control(window)
    assert window.session.config == full_config
    assert not window.train_page.mixed_check.isEnabled() and window.train_page.mixed_check.isChecked()


@pytest.fixture(scope="module")
def bare_window(tmp_path_factory):
    """One window without TensorFlow for the small checks below (a window costs seconds to build)."""
    from PySide6.QtWidgets import QApplication

    from kiln_lab.gui.app import create_window
    from kiln_lab.gui.settings import AppSettings

    QApplication.instance() or QApplication([])
    window = create_window(AppSettings(str(tmp_path_factory.mktemp("bare") / "settings.ini")))
    yield window
    window.deleteLater()


@pytest.fixture
def fresh(bare_window):
    bare_window.session.load_config(RunConfig())
    return bare_window


def test_the_seed_sets_all_three_seeds_like_the_cli(qtbot, fresh):
    window = fresh
    window.train_page.seeds.seed_spin.setValue(1234)
    config = window.session.config
    assert (config.data.seed, config.model.seed, config.train.seed) == (1234, 1234, 1234)
    assert config == RunConfig().with_seed(1234)
    window.train_page.seeds.split_seed_spin.setValue(5)
    assert window.session.config.data.seed == 5 and window.session.config.model.seed == 1234


def test_a_freeze_policy_survives_every_model_control(qtbot, fresh):
    window = fresh
    page = window.model_page
    config = RunConfig().replace(model={"kind": "finetune", "backbone": "demo", "freeze": "from:block5"})
    window.session.load_config(config)
    assert page.finetune.freeze_edit.value() == "from:block5"
    page.finetune.two_phase_check.toggle()
    page.finetune.head_units_spin.setValue(64)
    page.scratch.depth_spin.setValue(3)
    assert window.session.config.model.freeze == "from:block5"
    # Choosing top:N in the control is a person's edit: it is written.
    freeze = page.finetune.freeze_edit
    freeze.kind_combo.setCurrentIndex(freeze.kind_combo.findData("top"))
    assert window.session.config.model.freeze.startswith("top:")


def test_an_edited_layer_list_stays_custom(qtbot, fresh):
    window = fresh
    scratch = window.model_page.scratch
    scratch.preset_combo.setCurrentIndex(scratch.preset_combo.findData("mlp"))
    assert window.session.config.model.layers == ()  # a preset: the engine expands it
    scratch.layer_editor.table.selectRow(0)
    scratch.layer_editor.add_layer("dropout")
    model = window.session.config.model
    assert model.arch == "custom" and [s.type for s in model.layers] == ["dense", "dropout", "dense"]
    scratch.depth_spin.setValue(5)  # preset knobs leave a custom list alone
    assert window.session.config.model.layers == model.layers
    assert scratch.preset_combo.currentData() == "custom"
