"""Each config setting is declared once (engine/params.py), and validate(), the CLI's flags, the JSON
schema and the optimizer/schedule code agree with that declaration. The GUI's controls are checked
against it in tests/gui/test_controls_declared.py."""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path

import pytest

from kiln_lab.engine.cli import build_parser, config_from_args
from kiln_lab.engine.errors import ConfigError, KilnError
from kiln_lab.engine.params import Param, declared, default_at, field_type, is_used
from kiln_lab.engine.training.choices import OPTIMIZER_SETTINGS, OPTIMIZERS, SCHEDULE_SETTINGS, SCHEDULES
from kiln_lab.engine.training.config import RunConfig, TrainConfig
from kiln_lab.engine.training.optimizers import scheduled_rate

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("data", "model", "train")
# Settings with no `kiln train` flag of their own, and why.
NO_FLAG = {
    "data.augment.flip": "--augment",
    "data.augment.rotation": "--augment",
    "data.augment.zoom": "--augment",
    "data.augment.contrast": "--augment",
    "model.layers": "a layer list: --config",
}


def all_paths() -> dict[str, Param]:
    """Every declared setting under RunConfig's sections, by dotted path (nested sections included)."""
    found: dict[str, Param] = {}

    def walk(cls: type, prefix: str) -> None:
        for name, spec in declared(cls).items():
            found[f"{prefix}{name}"] = spec
            hint = typing.get_type_hints(cls)[name]
            if dataclasses.is_dataclass(hint):
                walk(hint, f"{prefix}{name}.")

    for section in SECTIONS:
        walk(field_type(RunConfig, section), f"{section}.")
    return found


def base_type(path: str) -> typing.Any:
    hint = field_type(RunConfig, path)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args and typing.get_origin(hint) is not tuple else hint


def with_value(path: str, value: typing.Any) -> RunConfig:
    """A default config with one setting changed (the other split at 0: the two must leave data to train on)."""
    base = RunConfig().replace(data={"val_split": 0.0, "test_split": 0.0}) if path.endswith("_split") else RunConfig()
    section, *rest = path.split(".")
    if len(rest) == 2:  # data.augment.zoom
        inner = dataclasses.replace(getattr(base.data, rest[0]), **{rest[1]: value})
        return base.replace(**{section: {rest[0]: inner}})
    return base.replace(**{section: {rest[0]: value}})


def test_every_config_field_is_declared() -> None:
    from kiln_lab.engine.data.config import AugmentConfig, DataConfig
    from kiln_lab.engine.models.recipe import LayerSpec, ModelRecipe

    for cls in (RunConfig, DataConfig, AugmentConfig, ModelRecipe, LayerSpec, TrainConfig):
        undeclared = [f.name for f in dataclasses.fields(cls) if f.name not in declared(cls) and f.name not in SECTIONS]
        assert not undeclared, f"{cls.__name__} declares no Param for {undeclared}"
        for name, spec in declared(cls).items():
            assert spec.help.strip(), f"{cls.__name__}.{name} has no help"


# -- validate() is made from the declaration -------------------------------------------------------


def _edges(spec: Param, whole: bool) -> tuple[list[float], list[float]]:
    """Values the declaration accepts (at the ends) and refuses (just beyond them)."""
    ok, bad = [], []
    for end, opened, sign in ((spec.low, spec.low_open, -1), (spec.high, spec.high_open, 1)):
        if end is None:
            continue
        tick = 1 if whole else max(1e-6, abs(end) * 1e-9)
        bad.append(end if opened else end + sign * tick)
        ok.append(end - sign * tick if opened else end)
    return ok, bad


@pytest.mark.parametrize("path", [p for p, s in all_paths().items() if s.low is not None or s.high is not None])
def test_validate_refuses_exactly_what_the_declaration_refuses(path: str) -> None:
    spec = all_paths()[path]
    whole = base_type(path) is int or typing.get_origin(base_type(path)) is tuple
    ok, bad = _edges(spec, whole)
    if typing.get_origin(base_type(path)) is tuple:
        def wrap(v: float) -> typing.Any:
            return (int(v), int(v))
    else:
        wrap = int if whole else float
    for value in ok:
        with_value(path, wrap(value)).validate()
    for value in bad:
        with pytest.raises(ConfigError, match=path.replace(".", r"\.")) as caught:
            with_value(path, wrap(value)).validate()
        assert spec.range_text() in caught.value.sentence


@pytest.mark.parametrize("path", [p for p, s in all_paths().items() if s.choices is not None])
def test_validate_accepts_each_declared_choice_and_nothing_else(path: str) -> None:
    spec = all_paths()[path]
    for name in spec.names():
        config = with_value(path, name)
        if path == "model.kind" and name == "finetune":
            config = config.replace(model={"backbone": "demo"})
        if path == "model.arch" and name == "custom":
            continue  # needs a layer list: explicit code in ModelRecipe.validate
        config.validate()
    with pytest.raises(ConfigError, match="Choose one of"):
        with_value(path, "no-such-name").validate()


def test_the_error_sentence_says_the_declared_range() -> None:
    with pytest.raises(ConfigError) as caught:
        RunConfig().replace(train={"epochs": 0}).validate()
    assert caught.value.message == "'train.epochs' must be at least 1 and at most 100000, not 0."


def test_a_layer_checks_only_the_settings_its_type_uses() -> None:
    from kiln_lab.engine.models.recipe import LayerSpec

    RunConfig().replace(model={"arch": "custom", "layers": (LayerSpec("dropout", rate=0.5),)}).validate()
    with pytest.raises(ConfigError, match=r"model\.layers\[0\]\.units"):
        RunConfig().replace(model={"arch": "custom", "layers": (LayerSpec("dense", units=0),)}).validate()


# -- the CLI's flags are made from the declaration ------------------------------------------------------


def train_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def flag_disagreements(parser: argparse.ArgumentParser) -> list[str]:
    """Every way the train parser's config flags differ from the declarations (empty: they agree)."""
    problems: list[str] = []
    actions = {a.dest: a for a in parser._actions}
    for path, spec in all_paths().items():
        action = actions.get(path)
        if path in NO_FLAG:
            if action is not None or spec.cli is not None:
                problems.append(f"{path}: listed in NO_FLAG but has a flag")
            continue
        if action is None:
            problems.append(f"{path}: no flag")
            continue
        flag = spec.cli_flag(path.rsplit(".", 1)[1])
        if flag not in action.option_strings:
            problems.append(f"{path}: flag {action.option_strings}, declared {flag}")
        kind = base_type(path)
        if kind is bool:
            if not isinstance(action, argparse.BooleanOptionalAction):
                problems.append(f"{path}: not an on/off flag")
        elif dataclasses.is_dataclass(kind):
            if action.type != kind.parse:
                problems.append(f"{path}: not parsed by {kind.__name__}.parse")
        else:
            expected = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else kind
            if action.type is not expected:
                problems.append(f"{path}: type {action.type}, declared {expected}")
        names = list(spec.names())
        if (action.choices and list(action.choices)) != (names or None):
            problems.append(f"{path}: choices {action.choices}, declared {names}")
        if spec.help.rstrip(".") not in (action.help or "") or spec.range_text() not in (action.help or ""):
            problems.append(f"{path}: help {action.help!r} does not say the declared help and range")
    return problems


def test_every_train_flag_agrees_with_the_declaration() -> None:
    assert flag_disagreements(train_parser()) == []


def test_the_flag_check_fails_when_a_flag_disagrees() -> None:
    parser = train_parser()
    action = next(a for a in parser._actions if a.dest == "train.optimizer")
    action.choices = ["adam", "sgd"]  # a hand-kept list that forgot two optimizers
    epochs = next(a for a in parser._actions if a.dest == "train.epochs")
    epochs.type = float
    problems = flag_disagreements(parser)
    assert any(p.startswith("train.optimizer: choices") for p in problems)
    assert any(p.startswith("train.epochs: type") for p in problems)


def test_settings_the_cli_used_to_leave_out_have_flags(tmp_path: Path) -> None:
    args = train_parser().parse_args([
        "--out", str(tmp_path / "run"), "--data", "demo:digits", "--momentum", "0.5", "--weight-decay", "0.01",
        "--step-every", "4", "--step-factor", "0.3", "--plateau-patience", "7", "--no-checkpoint",
        "--no-forgetting-monitor", "--cache", "memory", "--finetune-lr-factor", "0.2", "--head-units", "16",
        "--head-dropout", "0.4", "--split-seed", "5", "--init-seed", "6",
    ])
    config = config_from_args(args).validate()
    assert (config.train.momentum, config.train.weight_decay, config.train.step_every) == (0.5, 0.01, 4)
    assert (config.train.step_factor, config.train.plateau_patience) == (0.3, 7)
    assert not config.train.checkpoint and not config.train.forgetting_monitor
    assert config.data.cache == "memory" and (config.data.seed, config.model.seed, config.train.seed) == (5, 6, 42)
    assert (config.model.finetune_lr_factor, config.model.head_units, config.model.head_dropout) == (0.2, 16, 0.4)


def test_the_readme_flags_still_work(tmp_path: Path) -> None:
    args = train_parser().parse_args([
        "--out", str(tmp_path / "b"), "--data", "demo:digits", "--epochs", "3", "--arch", "cnn", "--init",
        "he_normal", "--image-size", "64", "48", "--augment", "flip,zoom=0.1", "--target", "price",
        "--backbone", "demo", "--two-phase", "--seed", "7", "--learning-rate", "0.005",
    ])
    config = config_from_args(args).validate()
    assert config.train.epochs == 3 and config.model.arch == "cnn" and config.data.image_size == (64, 48)
    assert config.data.augment.flip and config.data.augment.zoom == 0.1 and config.data.target == "price"
    assert config.model.kind == "finetune" and config.model.backbone == "demo" and config.model.two_phase
    assert (config.data.seed, config.model.seed, config.train.seed) == (7, 7, 7)
    assert config.train.learning_rate == 0.005 and config.name == "b"


def test_a_flag_outside_the_declared_choices_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(KilnError, match="invalid choice"):
        train_parser().parse_args(["--out", str(tmp_path), "--optimizer", "lion"])
    with pytest.raises(KilnError, match="not an augmentation"):
        train_parser().parse_args(["--out", str(tmp_path), "--augment", "blur"])


# -- which settings each optimizer and schedule uses: one table --------------------------------------


def test_used_when_follows_the_optimizer_and_schedule_tables() -> None:
    for table, chooser, names in ((OPTIMIZER_SETTINGS, "optimizer", OPTIMIZERS),
                                  (SCHEDULE_SETTINGS, "schedule", SCHEDULES)):
        assert set(table) == set(names)
        for name in names:
            train = dataclasses.replace(TrainConfig(), **{chooser: name})
            for setting in {s for settings in table.values() for s in settings}:
                assert is_used(train, setting) == (setting in table[name]), (name, setting)


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_a_schedule_reads_only_the_settings_it_declares(schedule: str) -> None:
    base = TrainConfig(schedule=schedule, step_every=3, step_factor=0.5, plateau_patience=2)
    changed = {"step_every": 5, "step_factor": 0.25, "plateau_patience": 9}

    def rates(train: TrainConfig) -> list[float]:
        return [scheduled_rate(train, 0.1, epoch, 12) for epoch in range(12)]

    for setting, value in changed.items():
        differs = rates(dataclasses.replace(base, **{setting: value})) != rates(base)
        if differs:  # plateau reacts to validation loss in Keras' ReduceLROnPlateau, not here
            assert setting in SCHEDULE_SETTINGS[schedule], f"{schedule} reads {setting} but does not declare it"
        elif schedule == "step":
            assert setting not in SCHEDULE_SETTINGS[schedule], f"step declares {setting} but ignores it"


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_make_optimizer_passes_exactly_the_declared_settings(optimizer: str) -> None:
    pytest.importorskip("keras")
    from kiln_lab.engine.training.optimizers import make_optimizer

    train = TrainConfig(optimizer=optimizer, momentum=0.37, weight_decay=0.0123)
    config = make_optimizer(train, 0.01).get_config()
    for setting in ("momentum", "weight_decay"):
        passed = config.get(setting) is not None and abs(config[setting] - getattr(train, setting)) < 1e-9
        assert passed == (setting in OPTIMIZER_SETTINGS[optimizer]), (optimizer, setting, config.get(setting))


# -- the JSON schema ----------------------------------------------------------------------------------------


def test_the_json_schema_states_every_declared_range_choice_and_default() -> None:
    schema = RunConfig.json_schema()
    for path, spec in all_paths().items():
        node = schema
        for part in path.split("."):
            node = node["properties"][part]
            if part == "layers":
                break
        if path.startswith("model.layers"):
            continue
        assert spec.help.rstrip(".") in node["description"], path
        bounds = node.get("items", node)
        if spec.low is not None:
            assert bounds["exclusiveMinimum" if spec.low_open else "minimum"] == spec.low, path
        if spec.high is not None:
            assert bounds["exclusiveMaximum" if spec.high_open else "maximum"] == spec.high, path
        if spec.choices is not None:
            assert [n for n in bounds["enum"] if n is not None] == list(spec.names()), path
        default = default_at(RunConfig, path)
        if not dataclasses.is_dataclass(default):
            assert node["default"] == (list(default) if isinstance(default, tuple) else default), path
    layer = schema["properties"]["model"]["properties"]["layers"]["items"]
    assert layer["required"] == ["type"] and layer["properties"]["units"]["maximum"] == 65536


def test_a_default_config_matches_its_schema_types() -> None:
    schema = RunConfig.json_schema()
    types = {"object": dict, "string": str, "integer": int, "number": (int, float), "boolean": bool,
             "array": list, "null": type(None)}

    def check(value: typing.Any, node: dict, where: str) -> None:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        assert any(isinstance(value, types[k]) for k in kinds), where
        if isinstance(value, dict):
            assert set(value) == set(node["properties"]), where
            for key, item in value.items():
                check(item, node["properties"][key], f"{where}.{key}")

    check(RunConfig().to_dict(), schema, "config")


def test_the_schema_in_docs_is_the_generated_one(capsys) -> None:
    from kiln_lab.engine.cli import main

    assert main(["config-schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == RunConfig.json_schema()
    assert json.loads((ROOT / "docs" / "config-schema.json").read_text()) == printed, (
        "docs/config-schema.json is stale: python main.py config-schema > docs/config-schema.json"
    )
