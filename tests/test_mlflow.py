"""MLflow as an optional extra: a run logged to a real local store, read back with MLflow's own client."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from kiln_lab.engine.cli import main

ARGS = ["train", "--data", "demo:digits", "--arch", "mlp", "--width", "16", "--depth", "1", "--epochs", "2"]


@pytest.mark.slow
def test_a_run_is_logged_to_a_sqlite_store_with_params_metrics_model_and_card(tmp_path, monkeypatch) -> None:
    pytest.importorskip("mlflow", reason="the optional mlflow extra is not installed")
    pytest.importorskip("sqlalchemy", reason="a sqlite:/// MLflow store needs sqlalchemy")
    pytest.importorskip("alembic", reason="a sqlite:/// MLflow store needs alembic")
    import keras
    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out), "--mlflow", uri]) == 0

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("kiln")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["kiln.reason"] == "completed"
    assert run.data.params["model.kind"] == "scratch" and float(run.data.params["train.learning_rate"]) > 0
    history = json.loads((out / "history.json").read_text())
    for key in ("loss", "val_loss", "val_accuracy"):
        logged = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in logged] == [0, 1]
        assert [m.value for m in logged] == pytest.approx(history[key], rel=1e-6)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.keras", "model_card.md", "model_card.json", "run.json", "training_log.csv"} <= artifacts
    model_path = client.download_artifacts(run.info.run_id, "model.keras", str(tmp_path))
    x = np.random.default_rng(0).uniform(0, 16, (4, 8, 8, 1)).astype("float32")
    same = keras.models.load_model(model_path).predict(x, verbose=0)
    assert np.allclose(same, keras.models.load_model(out / "model.keras").predict(x, verbose=0))
    card = json.loads((out / "model_card.json").read_text())
    assert "local MLflow store" in card["privacy"]
    assert (tmp_path / "mlartifacts").is_dir()  # beside the database, not in the working folder


def test_mlflow_missing_is_one_sentence_before_anything_is_written(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out), "--mlflow", "http://localhost:5000"]) == 2
    assert "pip install mlflow-skinny" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_credentials_in_the_tracking_uri_are_refused(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out), "--mlflow", "https://me:secret@mlflow.example.org"]) == 2
    assert "MLFLOW_TRACKING_PASSWORD" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_a_store_that_cannot_be_reached_refuses_the_run_before_its_folder(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("mlflow", reason="the optional mlflow extra is not installed")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    out = tmp_path / "run"
    # Nothing listens on port 9 (discard) here: MLflow's client cannot connect.
    assert main([*ARGS, "--out", str(out), "--mlflow", "http://127.0.0.1:9"]) == 2
    assert "could not open a run" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


@pytest.mark.slow
def test_an_interrupted_run_closes_its_mlflow_run_as_failed(tiny_config, tmp_path, monkeypatch) -> None:
    # Ctrl-C mid-phase is a KeyboardInterrupt, no Exception: the MLflow run must not stay RUNNING.
    pytest.importorskip("mlflow", reason="the optional mlflow extra is not installed")
    pytest.importorskip("sqlalchemy", reason="a sqlite:/// MLflow store needs sqlalchemy")
    pytest.importorskip("alembic", reason="a sqlite:/// MLflow store needs alembic")
    import keras
    from mlflow import MlflowClient

    from kiln_lab.engine.training.job import run_training

    class Interrupts(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if batch == 2:
                raise KeyboardInterrupt

    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = tiny_config.replace(train={"epochs": 1, "checkpoint": False, "mlflow": uri})
    with pytest.raises(KeyboardInterrupt):
        run_training(config, out_dir=tmp_path / "run", callbacks=(Interrupts(),))
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("kiln").experiment_id])
    assert run.info.status == "FAILED"
