"""TensorFlow's own distribution strategies, picked by name."""

from __future__ import annotations

from typing import Any

from engine.errors import ConfigError

STRATEGIES = {
    "auto": "All GPUs of this machine when there are several (MirroredStrategy), else the default device.",
    "none": "The default device only.",
    "mirrored": "MirroredStrategy: synchronous data parallelism over this machine's GPUs.",
    "multiworker": "MultiWorkerMirroredStrategy over the machines named in TF_CONFIG.",
}


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
