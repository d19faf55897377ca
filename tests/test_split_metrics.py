"""Training, validation and test metrics side by side: each column is model.evaluate on that split."""

from __future__ import annotations

import numpy as np
import pytest

from kiln_lab.engine import api
from kiln_lab.engine.analysis.split_metrics import overfitting_sentence
from kiln_lab.engine.training.config import RunConfig


def _evaluate_on(model, dataset, split, image_size=None) -> dict[str, float]:
    """What Keras itself says on ``split``: the samples read as a plain array."""
    indices = dataset.splits[split]
    x = dataset.loader.read(indices, image_size)
    y = dataset.labels[indices].astype(np.int64 if dataset.is_classification else np.float32)
    return model.evaluate(x, y, verbose=0, return_dict=True)


def test_each_column_equals_model_evaluate_on_its_split(tmp_path) -> None:
    config = RunConfig().replace(model={"kind": "scratch", "arch": "mlp", "depth": 1, "width": 16},
                                 data={"test_split": 0.2}, train={"epochs": 2, "checkpoint": False})
    outcome = api.train(config, out_dir=str(tmp_path / "run"))
    table = api.split_metrics(outcome.model, config.data)
    assert table["splits"] == ["train", "val", "test"] and table["missing"] == []
    assert table["rows"][:3] == ["loss", "accuracy", "macro_f1"]
    model, dataset = api._model(outcome.model), api._dataset(config.data)
    for split in ("train", "val", "test"):
        expected = _evaluate_on(model, dataset, split)
        column = table["columns"][split]
        assert column["loss"] == pytest.approx(expected["loss"], rel=1e-4)
        assert column["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
        assert column["samples"] == len(dataset.splits[split])
    # The other metrics agree with the evaluate task's report on the same split.
    report = api.evaluate(outcome.model, config.data, split="val")["report"]
    assert table["columns"]["val"]["macro_f1"] == pytest.approx(report.metrics["macro_f1"])


@pytest.mark.slow
def test_a_regression_table_has_mae_rmse_r2_and_says_when_there_is_no_test_split(tmp_path) -> None:
    config = RunConfig().replace(data={"source": "demo:housing", "test_split": 0.0},
                                 model={"kind": "scratch", "arch": "mlp", "depth": 1, "width": 16},
                                 train={"epochs": 2, "checkpoint": False})
    outcome = api.train(config)
    table = api.split_metrics(outcome.model, config.data)
    assert table["task"] == "regression" and table["splits"] == ["train", "val"] and table["missing"] == ["test"]
    assert table["rows"] == ["loss", "mae", "rmse", "r2"]
    model, dataset = api._model(outcome.model), api._dataset(config.data)
    expected = _evaluate_on(model, dataset, "val")
    column = table["columns"]["val"]
    assert column["loss"] == pytest.approx(expected["loss"], rel=1e-4)
    assert column["mae"] == pytest.approx(expected["mae"], rel=1e-4)
    assert column["rmse"] == pytest.approx(np.sqrt(expected["loss"]), rel=1e-3)  # the loss is MSE


def test_a_large_training_validation_gap_is_said_in_a_sentence() -> None:
    close = {"train": {"accuracy": 0.95}, "val": {"accuracy": 0.92}}
    apart = {"train": {"accuracy": 1.0}, "val": {"accuracy": 0.7}}
    assert overfitting_sentence("classification", close) is None
    sentence = overfitting_sentence("classification", apart)
    assert sentence.startswith("Overfitting") and "100.0%" in sentence and "70.0%" in sentence
    assert overfitting_sentence("regression", {"train": {"rmse": 1.0}, "val": {"rmse": 3.0}}).startswith("Overfitting")
    assert overfitting_sentence("regression", {"train": {"rmse": 1.0}, "val": {"rmse": 1.2}}) is None
