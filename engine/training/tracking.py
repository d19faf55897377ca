"""MLflow, where a team keeps its experiments: a run's settings, its per-epoch metrics, the model and its card.

Optional (``pip install mlflow-skinny``; a ``sqlite:///`` store also needs ``sqlalchemy`` and
``alembic``). Asked for with ``train.mlflow`` (``--mlflow URI``): a tracking URI such as
``sqlite:///mlflow.db``, a ``file:`` folder or an ``http(s)://`` server. One MLflow run per Kiln
run, in the experiment ``$MLFLOW_EXPERIMENT_NAME`` (default ``kiln``): params are the run's
settings (the same flat names as TensorBoard's HParams), metrics are Keras's logs with the
epoch as the step (phases continue one axis), and when the run ends the run folder's
``model.keras``, ``model_card.md``/``.json``, ``run.json``, ``history.json`` and
``training_log.csv`` become its artifacts. Kiln talks to MLflow through `MlflowClient` (no
global active run), so the app's training thread and anything else in the process stay apart.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

import keras

from kiln_lab.engine.errors import KilnError
from kiln_lab.engine.training.callbacks import is_number

DEFAULT_EXPERIMENT = "kiln"
INSTALL = "pip install mlflow-skinny"
SQLITE_INSTALL = "pip install mlflow-skinny sqlalchemy alembic"
ARTIFACTS = ("model.keras", "model_card.md", "model_card.json", "run.json", "history.json", "training_log.csv")


def require_mlflow(uri: str) -> None:
    """Raise a `KilnError` sentence with the install command when ``uri`` cannot be logged to here."""
    needed = ["mlflow"] + (["sqlalchemy", "alembic"] if uri.startswith("sqlite:") else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise KilnError(
            f"Logging to MLflow ({uri}) needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            "not installed here.",
            hint=f"Install with: {SQLITE_INSTALL if uri.startswith('sqlite:') else INSTALL} (or run without --mlflow).",
        )


class MlflowLogger(keras.callbacks.Callback):
    """One MLflow run for one Kiln run; add it to every phase's callbacks, then `finish` or `fail`."""

    def __init__(self, uri: str, params: dict[str, Any], *, run_name: str) -> None:
        super().__init__()
        from mlflow import MlflowClient
        from mlflow.entities import Param

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id if experiment else self.client.create_experiment(name, **_artifact_place(uri))
        )
        self.run_id = self.client.create_run(experiment_id, run_name=run_name, tags={"kiln": "run"}).info.run_id
        self.client.log_batch(self.run_id, params=[Param(key, str(value)[:6000]) for key, value in params.items()])
        self._open = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, epoch) for key, value in (logs or {}).items() if is_number(value)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, out_dir: Path | None, reason: str) -> None:
        """Log the run folder's files and close the MLflow run (KILLED when stopped, FAILED on NaN)."""
        if out_dir is not None:
            for name in ARTIFACTS:
                if (Path(out_dir) / name).is_file():
                    self.client.log_artifact(self.run_id, str(Path(out_dir) / name))
        self.client.set_tag(self.run_id, "kiln.reason", reason)
        status = {"completed": "FINISHED", "early_stopping": "FINISHED", "stopped": "KILLED"}.get(reason, "FAILED")
        self.client.set_terminated(self.run_id, status=status)
        self._open = False

    def fail(self) -> None:
        """Close the MLflow run as FAILED (the Kiln run raised); quiet if MLflow cannot be reached."""
        if self._open:
            self._open = False
            try:
                self.client.set_terminated(self.run_id, status="FAILED")
            except Exception:  # noqa: BLE001 - the run's own error is the one to report
                pass


def open_mlflow_run(uri: str, params: dict[str, Any], *, run_name: str) -> MlflowLogger:
    """An `MlflowLogger` with its MLflow run opened; a store that cannot be used is one sentence."""
    try:
        return MlflowLogger(uri, params, run_name=run_name)
    except Exception as exc:  # noqa: BLE001 - MLflow's own errors vary by store; the person needs the sentence
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise KilnError(
            f"MLflow at {uri} could not open a run ({first}).",
            hint="Check the tracking URI (e.g. sqlite:///mlflow.db or http://host:5000) and that the server "
            "is running, or run without --mlflow.",
        ) from exc


def _artifact_place(uri: str) -> dict[str, str]:
    # A local SQLite store keeps its artifacts beside the database, not in the working folder.
    if uri.startswith("sqlite:///"):
        database = Path(uri[len("sqlite:///"):])  # sqlite:///relative.db, sqlite:////absolute.db
        return {"artifact_location": (database.parent / "mlartifacts").resolve().as_uri()}
    return {}


