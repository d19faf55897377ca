"""TensorFlow's own distribution strategies, picked by name."""

from __future__ import annotations

import contextlib
import types
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import ConfigError
from kiln_lab.engine.training.checkpoint import BACKUP_DIR, read_checkpoint
from kiln_lab.engine.training.choices import STRATEGIES


class SingleDevice:
    """The one-device "strategy" for Keras's JAX and PyTorch backends (TensorFlow's strategies need TF).

    Offers what the job uses of a `tf.distribute.Strategy`: a scope, the replica count, and
    ``extended.should_checkpoint`` (this process writes the run folder).
    """

    num_replicas_in_sync = 1
    cluster_resolver = None
    extended = types.SimpleNamespace(should_checkpoint=True)

    def scope(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def distribution_strategy(name: str) -> Any:
    """The strategy ``name`` (one of `STRATEGIES`) stands for on this machine and backend."""
    from kiln_lab.engine.runtime import keras_backend

    if name not in STRATEGIES:
        raise ConfigError(f"'{name}' is not a distribution strategy.", hint=f"Choose one of: {', '.join(STRATEGIES)}.")
    backend = keras_backend()
    if backend != "tensorflow":
        if name in ("auto", "none"):
            return SingleDevice()
        raise ConfigError(
            f"The '{name}' strategy is TensorFlow's, but Keras runs on its {backend} backend here.",
            hint="Unset KERAS_BACKEND (TensorFlow is the default) to train on several devices, or pick 'auto'.",
        )
    import tensorflow as tf

    if name == "auto":
        gpus = tf.config.list_physical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        import os

        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "Multi-worker training needs the TF_CONFIG environment variable naming the cluster and this worker.",
                hint="Set TF_CONFIG on every machine, then start the same command there.",
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"'{name}' is not a distribution strategy.", hint=f"Choose one of: {', '.join(STRATEGIES)}.")


def worker_out_dir(strategy: Any, out_dir: Path | None) -> Path | None:
    """Where this worker writes its run folder.

    In multi-worker training every worker runs the same job, but only the chief may write
    the shared run folder; the others write into a private subfolder, so no two processes
    ever write the same file.
    """
    if out_dir is None or getattr(strategy.extended, "should_checkpoint", True):
        return out_dir
    resolver = strategy.cluster_resolver
    return out_dir / f".worker-{resolver.task_type}-{resolver.task_id}"


def adapt_model_to_strategy(model: Any, strategy: Any) -> None:
    """Work around Keras 3's multi-worker gaps (keras-team/keras#20585).

    Before the first step, Keras's TF trainer builds the model symbolically from one batch,
    which it gets by ``strategy.reduce("MEAN", batch)``; under
    ``MultiWorkerMirroredStrategy`` that reduce cannot take the per-replica input batch and
    ``fit`` fails with "Attempt to convert a value (PerReplica...)". The symbolic build only
    needs the batch's shapes and dtypes, so this instance-level override builds from this
    worker's own first replica batch instead. Other strategies are left alone.
    """
    if isinstance(strategy, SingleDevice):  # JAX / PyTorch: nothing to adapt, and no TensorFlow to import
        return
    import tensorflow as tf

    from kiln_lab.engine import _compat

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _compat.patch_multiworker_metric_reduction()

    def local_results(value: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    _compat.build_from_local_batch(model, strategy, local_results)


def backup_folder(distribution: str, out_dir: Path | None) -> Path | None:
    """Where a multi-worker run backs up every epoch; None for other runs (they resume with --resume)."""
    return out_dir / BACKUP_DIR if out_dir is not None and distribution == "multiworker" else None


def restart_history(checkpoint_folder: Path) -> dict[str, list[float]]:
    """The history an interrupted multi-worker run recorded so far (from Kiln's own checkpoint), or {}."""
    checkpoint = read_checkpoint(checkpoint_folder)
    return {k: list(v) for k, v in checkpoint.history.items()} if checkpoint is not None else {}


def backup_callbacks(distribution: str, out_dir: Path | None, history: dict[str, list[float]]) -> list[Any]:
    """``BackupAndRestore`` for a multi-worker run, and a callback that trims ``history`` to its epoch.

    Cluster schedulers restart a failed job by running the same command again: when a worker
    dies, every worker's fit fails, the job is restarted, and Keras's ``BackupAndRestore``
    puts back the weights, the optimizer state and the epoch of the last backup on every
    worker. The history carried over from Kiln's checkpoint may hold one epoch more than the
    backup (a kill between the two writes): it is cut back to the epoch that fit restarts at.
    """
    folder = backup_folder(distribution, out_dir)
    if folder is None:
        return []
    import shutil

    import keras

    # Every worker must restart at the same epoch, or their collective ops stop matching: like
    # tf.keras's multi-worker BackupAndRestore, all restore from the chief's backup (the run
    # folder is on storage every worker reaches); each still writes its own.
    chief = out_dir.parent / BACKUP_DIR if out_dir.name.startswith(".worker-") else folder

    class ChiefBackupAndRestore(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs: dict | None = None) -> None:
            if chief != folder and chief.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                shutil.copytree(chief, folder)
            super().on_train_begin(logs)

    class TrimHistoryToRestart(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self._first = True

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            if self._first:
                self._first = False
                for values in history.values():
                    del values[epoch:]

    return [ChiefBackupAndRestore(str(folder)), TrimHistoryToRestart()]
