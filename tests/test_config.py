"""Run configs round-trip through TOML and JSON and refuse what they do not know."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.training.config import AugmentConfig, LayerSpec, RunConfig


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
