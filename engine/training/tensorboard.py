"""TensorBoard logs for a whole run: one step axis across phases, Kiln's own figures beside Keras's.

Keras's own `keras.callbacks.TensorBoard` counts its steps per `fit` call (its batch counter
restarts in `on_train_begin`, and `evaluation_*_vs_iterations` uses the optimizer's iteration
count, which a new phase's optimizer starts at 0), so a two-phase run read 45, 90, 45, 90.
`RunTensorBoard` is one callback for the whole run, told where each phase starts, and writes
through TensorFlow's public `tf.summary` API into the same layout Keras uses (``train/``,
``validation/``; tags ``epoch_loss``, ``epoch_accuracy``, ...), so `tensorboard --logdir` shows
one continuous curve. It adds the forgetting monitor's figures (``drift/cka``,
``drift/source_accuracy``) per epoch, when asked the loss of every batch (``batch_loss``), and
the run's settings for the HParams dashboard (`run_hparams`): point ``tensorboard --logdir`` at a
comparison's ``runs/`` folder and its runs line up by approach, seed and training-set size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from kiln_lab.engine.training.callbacks import is_number


class RunTensorBoard(keras.callbacks.Callback):
    """Writes a run's TensorBoard logs; call `start_phase` before each phase's `fit`, `close` at the end.

    Args:
        log_dir: the run's ``tensorboard`` folder.
        steps_per_epoch: optimizer steps in one epoch (the step axis is epochs x this).
        batch_loss: also write every batch's loss and metrics (``batch_*``; larger logs).
        drift: the run's forgetting monitor, whose per-epoch CKA and source accuracy are logged.
    """

    def __init__(
        self,
        log_dir: str | Path,
        *,
        steps_per_epoch: int,
        batch_loss: bool = False,
        drift: Any = None,
        hparams: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.batch_loss = batch_loss
        self.drift = drift
        self.hparams = dict(hparams or {})
        self._epoch = 0
        self._writers: dict[str, Any] = {}
        self._hparams_written = False

    def start_phase(self, first_epoch: int) -> None:
        """The run's epoch (0-based) the next `fit` starts at: steps continue from there."""
        self._epoch = int(first_epoch)

    def _writer(self, name: str) -> Any:
        if name not in self._writers:
            import tensorflow as tf

            self._writers[name] = tf.summary.create_file_writer(str(self.log_dir / name))
        return self._writers[name]

    def _scalars(self, writer: str, values: dict[str, float], step: int) -> None:
        import tensorflow as tf

        with self._writer(writer).as_default():
            for tag, value in values.items():
                tf.summary.scalar(tag, float(value), step=step)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.hparams and not self._hparams_written:
            from tensorboard.plugins.hparams import api as hp

            # In the run's own log folder: its train/ and validation/ scalars are the session's metrics.
            with self._writer("").as_default():
                hp.hparams(self.hparams, trial_id=str(self.hparams.get("run", "")) or None)
            self._hparams_written = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.batch_loss and logs:
            step = self._epoch * self.steps_per_epoch + batch + 1  # optimizer steps since the run began
            self._scalars("train", {f"batch_{k}": v for k, v in logs.items() if is_number(v)}, step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: v for k, v in (logs or {}).items() if is_number(v)}
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
        rate = _learning_rate(self.model)
        if rate is not None and "epoch_learning_rate" not in train:
            train["epoch_learning_rate"] = rate
        validation = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        self._scalars("train", train, epoch)
        if validation:
            self._scalars("validation", validation, epoch)
            # Keras's "vs iterations" view, on the run's step count rather than this phase optimizer's.
            iterations = (epoch + 1) * self.steps_per_epoch
            self._scalars(
                "validation", {f"evaluation_{k[4:]}_vs_iterations": v for k, v in logs.items() if k.startswith("val_")},
                iterations,
            )
        self._log_drift(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _log_drift(self, epoch: int) -> None:
        record = getattr(self.drift, "record", None)
        if record is None or not record.cka:
            return
        if record.epoch_of(len(record.cka) - 1) != epoch:  # not measured this epoch (the monitor's time budget)
            return
        figures = {"drift/cka": record.cka[-1]}
        if record.source_accuracy:
            figures["drift/source_accuracy"] = record.source_accuracy[-1]
        self._scalars("train", figures, epoch)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def run_hparams(config: Any, *, train_samples: int) -> dict[str, Any]:
    """The run's settings as HParams values: every scalar of its model and train sections, the data
    source and the training-set size (a comparison's data share)."""
    settings = config.to_dict()
    values: dict[str, Any] = {"run": config.name or "", "data.source": settings["data"].get("source") or ""}
    for section in ("model", "train"):
        for key, value in settings[section].items():
            if isinstance(value, bool | int | float | str):
                values[f"{section}.{key}"] = value
    values["data.train_samples"] = int(train_samples)
    return values


def _learning_rate(model: Any) -> float | None:
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None
