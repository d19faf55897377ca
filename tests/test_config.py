"""Run configs round-trip through TOML and JSON and refuse what they do not know."""

from __future__ import annotations

import pytest

from kiln_lab.engine.errors import ConfigError
from kiln_lab.engine.training.config import AugmentConfig, LayerSpec, RunConfig


def _custom_config() -> RunConfig:
    return RunConfig(name="custom").replace(
        data={"source": "/data/cats", "image_size": (32, 48), "augment": AugmentConfig(flip=True, zoom=0.1)},
        model={
            "arch": "custom",
            "layers": (LayerSpec("conv2d", units=8), LayerSpec("maxpool"), LayerSpec("dense", units=4,
                                                                                       kernel_initializer="lecun_normal")),
            "kernel_initializer": "glorot_uniform",
        },
        train={"epochs": 7, "optimizer": "sgd", "learning_rate": 0.01},
    )


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_round_trip(tmp_path, suffix: str) -> None:
    config = _custom_config()
    path = tmp_path / f"run{suffix}"
    config.save(path)
    assert RunConfig.load(path) == config


def test_unknown_setting_is_named(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[train]\nepochz = 3\n')
    with pytest.raises(ConfigError, match="epochz"):
        RunConfig.load(path)


def test_wrong_type_is_named(tmp_path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"train": {"epochs": "many"}}')
    with pytest.raises(ConfigError, match="train.epochs"):
        RunConfig.load(path)


def test_a_config_without_a_version_is_read_as_version_one_and_migrated(tmp_path) -> None:
    path = tmp_path / "old.toml"
    path.write_text('name = "old"\n[train]\nepochs = 3\n')
    config = RunConfig.load(path)
    assert config.version == RunConfig().version and config.train.epochs == 3
    config.validate()


def test_a_config_from_a_newer_kiln_is_refused_with_a_sentence(tmp_path) -> None:
    path = tmp_path / "new.toml"
    path.write_text("version = 99\n")
    with pytest.raises(ConfigError, match="newer Kiln"):
        RunConfig.load(path)


def test_the_saved_file_carries_its_version(tmp_path) -> None:
    path = tmp_path / "run.toml"
    RunConfig().save(path)
    assert f"version = {RunConfig().version}" in path.read_text()


@pytest.mark.parametrize(
    ("section", "change", "named"),
    [
        ("train", {"learning_rate": float("inf")}, "train.learning_rate"),
        ("train", {"learning_rate": 0.0}, "train.learning_rate"),
        ("train", {"epochs": 0}, "train.epochs"),
        ("train", {"schedule": "sometimes"}, "train.schedule"),
        ("train", {"seed": -1}, "train.seed"),
        ("model", {"dropout": 1.5}, "model.dropout"),
        ("model", {"width": 0}, "model.width"),
        ("model", {"depth": -2}, "model.depth"),
        ("model", {"freeze": "half"}, "freeze policy"),
        ("model", {"layers": (LayerSpec("dense", units=0),)}, "model.layers[0].units"),
        ("model", {"layers": (LayerSpec("wormhole"),)}, "model.layers[0].type"),
        ("data", {"image_size": (0, 0)}, "data.image_size"),
        ("data", {"image_size": (-8, 32)}, "data.image_size"),
        ("data", {"val_split": 0.6, "test_split": 0.5}, "leave data to train on"),
        ("data", {"augment": AugmentConfig(rotation=-0.1)}, "data.augment.rotation"),
    ],
)
def test_validate_names_the_setting_out_of_range(section: str, change: dict, named: str) -> None:
    config = RunConfig().replace(**{section: change})
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        config.validate()


def test_the_default_and_a_full_custom_config_validate() -> None:
    assert RunConfig().validate() == RunConfig()
    _custom_config().validate()


def test_one_seed_sets_the_split_the_initializers_and_training() -> None:
    config = RunConfig().with_seed(7)
    assert (config.data.seed, config.model.seed, config.train.seed) == (7, 7, 7)


@pytest.mark.parametrize("text", ["", "\n# nothing yet\n", 'name = "x"\n'])
def test_an_empty_config_file_is_refused_not_read_as_the_demo(tmp_path, text: str) -> None:
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"names no \[data\], \[model\] or \[train\] settings"):
        RunConfig.load(path)
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(ConfigError, match="names no"):
        RunConfig.load(tmp_path / "run.json")


@pytest.mark.parametrize("suffix, text", [(".toml", "a = " + "[" * 100_000), (".json", "[" * 100_000)])
def test_a_config_nested_100000_deep_is_refused_with_a_sentence(tmp_path, suffix: str, text: str) -> None:
    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match="nests its tables too deeply|is not valid"):
        RunConfig.load(path)


def test_a_config_path_goes_through_the_file_gate(tmp_path) -> None:
    """A pipe named as the config would block the read forever; a link to /dev/zero would never end."""
    import os

    from kiln_lab.engine.errors import KilnError

    pipe = tmp_path / "run.toml"
    os.mkfifo(pipe)
    with pytest.raises(KilnError, match="is a named pipe"):
        RunConfig.load(pipe)
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    with pytest.raises(KilnError, match="is a character device"):
        RunConfig.load(zero)
