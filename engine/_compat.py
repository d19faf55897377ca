"""Every use of private Keras and tensorflow-hub internals, in one place, behind named functions.

Kiln needs a few things the public APIs do not offer (multi-worker fit under Keras 3, a
per-variable learning rate, a Keras 3 layer over a SavedModel, download progress from hub).
Each function below names the private attribute it touches and the versions it was checked
on; `pyproject.toml` bounds keras and tensorflow-hub to the minors tested here. When a bound
is raised, run the suite (tests/test_finetune_*.py, tests/test_distribution.py,
tests/test_backbone_sources.py, tests/test_compat.py) and update the versions named here.

Checked on: Keras 3.15.1, TensorFlow 2.21.0, tensorflow-hub 0.16.1 (Python 3.11).
A leaf module: imports nothing from the rest of the engine.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from typing import Any

# --- Keras layers (SavedModelLayer) ---------------------------------------------------------


def layer_name_scope(layer: Any) -> Any:
    """The name scope a layer's own variables are created in, so their paths read ``layer/var``.

    Uses ``keras.name_scope``'s private ``caller=`` argument, which makes the scope the layer's
    (checked on Keras 3.15.1; ``keras.src.backend.name_scope``).
    """
    import keras

    return keras.name_scope(layer.name, caller=layer)


def track_variable(layer: Any, variable: Any) -> None:
    """Make ``layer`` own a variable it did not create with ``add_weight`` (its weights, saving).

    ``Layer._track_variable`` (checked on Keras 3.15.1).
    """
    layer._track_variable(variable)


def mark_built(layer: Any) -> None:
    """Build a layer whose weights exist at construction, so Keras never calls ``build()``.

    ``Layer._build_at_init`` (checked on Keras 3.15.1): marks it built and locks its state.
    """
    layer._build_at_init()


def in_safe_mode() -> bool | None:
    """Whether the model load in progress runs with ``safe_mode`` on (None outside a load).

    ``keras.src.saving.serialization_lib.in_safe_mode`` (checked on Keras 3.15.1); the same rule
    ``keras.layers.TFSMLayer`` follows.
    """
    from keras.src.saving import serialization_lib

    return serialization_lib.in_safe_mode()


def variables_used_by(functions: list[Any]) -> tuple[list[Any], list[Any]]:
    """(trainable, non-trainable) tf.Variables that restored tf.functions capture.

    ``keras.src.export.saved_model_export_archive._list_variables_used_by_fns`` (checked on
    Keras 3.15.1), for SavedModels whose object graph lists no ``variables`` attribute.
    """
    from keras.src.export.saved_model_export_archive import _list_variables_used_by_fns

    return _list_variables_used_by_fns(functions)


# --- Keras optimizers (engine/models/finetune_optimizer.py) ---------------------------------


def optimizer_variable_key(optimizer: Any, variable: Any) -> Any:
    """The key an optimizer files a variable's slots under (stable across traced steps).

    ``BaseOptimizer._var_key`` (checked on Keras 3.15.1).
    """
    return optimizer._var_key(variable)


def override_weight_decay(cls: type, split: Callable[[Any, list[Any], Callable[[list[Any]], None]], None]) -> type:
    """Route ``cls``'s decoupled weight decay through ``split(optimizer, variables, apply)``.

    Keras applies AdamW-style decay once per step in ``BaseOptimizer._apply_weight_decay(
    variables)`` (checked on Keras 3.15.1), outside ``update_step``; ``apply(vars)`` is Keras's
    own decay for ``vars`` at the optimizer's current ``weight_decay``.
    """

    def _apply_weight_decay(self: Any, variables: list[Any]) -> None:
        return split(self, variables, lambda chosen: super(cls, self)._apply_weight_decay(chosen))

    cls._apply_weight_decay = _apply_weight_decay  # type: ignore[attr-defined]
    return cls


def eager_numpy(variable: Any) -> Any:
    """A variable's value as a NumPy copy, also while Keras traces a TensorFlow train step.

    Under the TensorFlow backend Keras may build an optimizer inside the traced step, where
    ``.numpy()`` is unavailable; ``tf.init_scope`` lifts the read out of the graph (public TF
    API, but TensorFlow-only, hence here). Other backends read eagerly anyway.
    """
    import keras
    import numpy as np

    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        with tf.init_scope():
            return np.array(variable.numpy(), copy=True)
    return np.array(keras.ops.convert_to_numpy(variable), copy=True)


# --- Multi-worker training under the TF backend (engine/training/distribution.py) -----------


def build_from_local_batch(model: Any, strategy: Any, local_batch: Callable[[Any], Any]) -> None:
    """Make ``model.fit`` build the model symbolically from this worker's own first batch.

    Keras's TF trainer calls ``model._maybe_symbolic_build(iterator=..., data_batch=...)``
    before the first step and uses ``model._distribute_strategy`` / ``model._symbolic_build``
    (checked on Keras 3.15.1; keras-team/keras#20585). An instance-level override: other
    models are untouched.
    """
    import tensorflow as tf

    def maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_batch, next(batches))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = types.MethodType(maybe_symbolic_build, model)


def patch_multiworker_metric_reduction() -> None:
    """Reduce scalar metric values across workers over replicas only (``axis=None``).

    Keras averages each step's logs with ``strategy.reduce("MEAN", value, axis=0)`` in
    ``keras.src.backend.tensorflow.trainer.reduce_per_replica`` when
    ``_collective_all_reduce_multi_worker(strategy)`` (checked on Keras 3.15.1), which fails for
    the scalars every metric reports. Replaces that module function once, process-wide; other
    strategies take the original path.
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


# --- tensorflow-hub's resolver (engine/models/backbones/hub.py) ------------------------------


@contextlib.contextmanager
def hub_download_hooks(on_bytes: Callable[[int], None], lock_timeout_s: int) -> Iterator[None]:
    """While inside: ``on_bytes(total)`` hears download progress, and a stale lock file left by a
    crashed download is taken over after ``lock_timeout_s`` (hub's own default is 10 minutes).

    Replaces ``tensorflow_hub.resolver.DownloadManager._log_progress`` (reading its
    ``_total_bytes_downloaded``) and ``compressed_module_resolver.LOCK_FILE_TIMEOUT_SEC``
    (checked on tensorflow-hub 0.16.1). Both are process-wide: the caller serialises downloads.
    """
    from tensorflow_hub import compressed_module_resolver, resolver

    saved_log = resolver.DownloadManager._log_progress
    saved_lock_timeout = compressed_module_resolver.LOCK_FILE_TIMEOUT_SEC

    def log_progress(self: Any, bytes_downloaded: int) -> None:
        saved_log(self, bytes_downloaded)
        on_bytes(int(self._total_bytes_downloaded))

    resolver.DownloadManager._log_progress = log_progress
    compressed_module_resolver.LOCK_FILE_TIMEOUT_SEC = lock_timeout_s
    try:
        yield
    finally:
        resolver.DownloadManager._log_progress = saved_log
        compressed_module_resolver.LOCK_FILE_TIMEOUT_SEC = saved_lock_timeout


def private_api_problems() -> list[str]:
    """The private attributes above that the installed Keras / tensorflow-hub lack (empty = all there).

    A cheap check for a test or a start-up report: it finds a renamed internal before a run does.
    """
    import importlib

    wanted = [
        ("keras.src.layers.layer", "Layer", "_track_variable"),
        ("keras.src.layers.layer", "Layer", "_build_at_init"),
        ("keras.src.saving.serialization_lib", None, "in_safe_mode"),
        ("keras.src.export.saved_model_export_archive", None, "_list_variables_used_by_fns"),
        ("keras.src.optimizers.base_optimizer", "BaseOptimizer", "_var_key"),
        ("keras.src.optimizers.base_optimizer", "BaseOptimizer", "_apply_weight_decay"),
        ("keras.src.trainers.trainer", "Trainer", "_symbolic_build"),
    ]
    import keras

    if keras.config.backend() == "tensorflow":
        wanted += [
            ("keras.src.backend.tensorflow.trainer", None, "reduce_per_replica"),
            ("keras.src.backend.tensorflow.trainer", None, "_collective_all_reduce_multi_worker"),
            ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer", "_maybe_symbolic_build"),
        ]
        with contextlib.suppress(ImportError):
            import tensorflow_hub  # noqa: F401

            wanted += [
                ("tensorflow_hub.resolver", "DownloadManager", "_log_progress"),
                ("tensorflow_hub.compressed_module_resolver", None, "LOCK_FILE_TIMEOUT_SEC"),
            ]
    missing = []
    for module_name, owner, attribute in wanted:
        try:
            target = importlib.import_module(module_name)
            if owner is not None:
                target = getattr(target, owner)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{owner or ''}")
            continue
        if not hasattr(target, attribute):
            missing.append(f"{module_name}.{owner + '.' if owner else ''}{attribute}")
    return missing
