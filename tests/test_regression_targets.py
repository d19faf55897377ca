"""Regression trains on standardised errors and reports in the target's units (issue 8, item 7)."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from kiln_lab.engine.data.arrays import dataset_from_arrays
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.engine.training.job import run_training


def _regression_data(mean: float, spread: float, n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    signal = x @ np.array([0.8, -0.5, 0.3, 0.1]) + 0.05 * rng.normal(size=n)
    y = (mean + spread * signal / signal.std()).astype(np.float32)
    return dataset_from_arrays(x, y, source="memory", source_kind="arrays", val_split=0.25, test_split=0.0, seed=1)


def _config(optimizer: str, learning_rate: float, epochs: int) -> RunConfig:
    return RunConfig().replace(
        data={"source": "memory"},
        model={"arch": "mlp", "depth": 1, "width": 16},
        train={"epochs": epochs, "batch_size": 32, "optimizer": optimizer, "learning_rate": learning_rate},
    )


def test_targets_near_1e30_train_to_a_finite_loss() -> None:
    dataset = _regression_data(mean=1e30, spread=1e29)
    result = run_training(_config("adam", 0.01, 3), dataset=dataset)
    assert all(math.isfinite(v) for v in result.history["loss"] + result.history["val_loss"])
    assert result.history["loss"][-1] < 5.0  # measured in target spreads, not in (1e29)^2
    assert math.isfinite(result.metrics["val_mae"]) and result.metrics["val_mae"] < 1e30
    x = dataset.loader.read(dataset.splits["val"])
    predictions = result.model.predict(x, verbose=0)
    assert np.all(np.isfinite(predictions)) and 5e29 < float(np.median(predictions)) < 2e30


@pytest.mark.slow
def test_a_wide_target_trains_with_plain_sgd_and_mae_is_in_target_units(tmp_path) -> None:
    dataset = _regression_data(mean=5000.0, spread=3000.0)
    result = run_training(_config("sgd", 0.05, 8), dataset=dataset, out_dir=tmp_path)
    losses = result.history["loss"]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.5 * losses[0]
    val = dataset.splits["val"]
    predictions = result.model.predict(dataset.loader.read(val), verbose=0)[:, 0]
    manual_mae = float(np.mean(np.abs(predictions - dataset.labels[val])))
    assert result.metrics["val_mae"] == pytest.approx(manual_mae, rel=1e-3)
    assert 10 < manual_mae < 3000  # target units: learned well below the spread, far above 1
    assert result.history["mae"][-1] > 10  # the history's MAE is in target units too

    # The saved model names no Kiln class, so plain Keras loads it (and compiles it with MSE).
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        config = json.loads(archive.read("config.json"))
    assert "kiln>" not in json.dumps(config.get("compile_config"))
    assert config["compile_config"]["loss"] == "mse"
