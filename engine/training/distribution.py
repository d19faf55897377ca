"""TensorFlow's own distribution strategies, picked by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.training.choices import STRATEGIES


def distribution_strategy(name: str) -> Any:
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
    import types

    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _patch_multiworker_metric_reduction()

    def local_results(value: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_results, next(batches))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = types.MethodType(maybe_symbolic_build, model)


def _patch_multiworker_metric_reduction() -> None:
    """Keras 3 averages each step's metric values across workers with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails for the scalar values every
    metric reports ("Invalid reduction dimension 0 for input with 0 dimensions"). A scalar
    has no batch axis to average over: reduce it across replicas only (``axis=None``).
    Applied once, and only when a multi-worker strategy is in use.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_kiln_patched", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        import tensorflow as tf

        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):

            def mean(value: Any) -> Any:
                local = strategy.experimental_local_results(value)[0] if hasattr(value, "values") else value
                axis = 0 if getattr(local, "shape", tf.TensorShape([])).rank else None
                return strategy.reduce("MEAN", value, axis=axis)

            return tf.nest.map_structure(mean, values)
        return original(values, strategy, reduction)

    reduce_per_replica._kiln_patched = True  # type: ignore[attr-defined]
    trainer.reduce_per_replica = reduce_per_replica
