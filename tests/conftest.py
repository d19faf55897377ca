"""Shared test setup: quiet TensorFlow, a private trust registry, small configs."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Kiln follows ~/.keras/keras.json when KERAS_BACKEND is unset (as Keras does); the suite is
# written for the TensorFlow default, so a developer's keras.json must not switch it here.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_kiln_data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The trust registry lives here, never in the real home folder. One per session, so a
    # backbone folder a module-scoped fixture made (and trusted) stays trusted in its tests;
    # tests of the gate make fresh files, whose hashes no other test has recorded.
    os.environ["KILN_DATA_DIR"] = str(tmp_path_factory.mktemp("kiln-data"))


@pytest.fixture
def tiny_config():
    """A from-scratch MLP on the digits demo that trains in about a second."""
    from kiln_lab.engine.training.config import RunConfig

    return RunConfig().replace(
        model={"arch": "mlp", "depth": 1, "width": 16},
        train={"epochs": 2, "batch_size": 64, "learning_rate": 0.005, "checkpoint": True},
    )
