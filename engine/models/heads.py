"""The output head, loss and metrics that follow the task."""

from __future__ import annotations

from typing import Any

import numpy as np


def head_units_and_activation(task: str, num_classes: int) -> tuple[int, str]:
    """softmax over classes, one sigmoid unit for two classes, a linear unit for regression."""
    if task == "regression":
        return 1, "linear"
    if num_classes == 2:
        return 1, "sigmoid"
    return num_classes, "softmax"


def target_scale_of(preprocessing: dict[str, Any]) -> tuple[float, float] | None:
    """(mean, std) of a regression target, as the data source measured it."""
    mean, std = preprocessing.get("target_mean"), preprocessing.get("target_std")
    if mean is None or std is None:
        return None
    return float(mean), float(std) if float(std) > 0 else 1.0


def regression_output(outputs: Any, task: str, target_scale: tuple[float, float] | None) -> Any:
    """Map a standardised regression prediction back to the target's units (a plain Keras layer)."""
    if task != "regression" or target_scale is None:
        return outputs
    import keras

    mean, std = target_scale
    return keras.layers.Rescaling(scale=std, offset=mean, name="target_units")(outputs)


def loss_and_metrics(task: str, num_classes: int) -> tuple[str, list[str]]:
    if task == "regression":
        return "mse", ["mae"]
    if num_classes == 2:
        return "binary_crossentropy", ["accuracy"]
    return "sparse_categorical_crossentropy", ["accuracy"]


def monitor_metric(task: str) -> str:
    """The metric a person reads first: accuracy, or MAE for regression."""
    return "mae" if task == "regression" else "accuracy"


def class_probabilities(outputs: Any) -> np.ndarray:
    """Model outputs as an (N, K) probability table, also for a one-unit sigmoid head."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        p = outputs[:, 0]
        return np.stack([1.0 - p, p], axis=1)
    return outputs
