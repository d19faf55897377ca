"""The output head, loss and metrics that follow the task."""

from __future__ import annotations

from typing import Any

import numpy as np

TARGET_UNITS = "target_units"  # the layer that maps standardised predictions to the target's units


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
    """Map a standardised regression prediction back to the target's units (a plain Keras layer).

    The layer is named ``target_units``; `loss_and_metrics` reads the scale back from it so
    the loss can measure errors in standard deviations while outputs stay in target units.
    """
    if task != "regression" or target_scale is None:
        return outputs
    import keras

    import kiln_lab.engine.models.target_loss  # noqa: F401 - registers the loss, so checkpoints holding it load

    mean, std = target_scale
    # float32 even under mixed precision: float16 overflows past 65504 (targets near 1e30 exist).
    return keras.layers.Rescaling(scale=std, offset=mean, dtype="float32", name=TARGET_UNITS)(outputs)


def target_scale_in(model: Any) -> tuple[float, float] | None:
    """(mean, std) from a model's ``target_units`` layer; None when it has none."""
    try:
        layer = model.get_layer(TARGET_UNITS)
    except (ValueError, AttributeError):
        return None
    return float(layer.offset), float(layer.scale)


def loss_and_metrics(task: str, num_classes: int, model: Any = None) -> tuple[Any, list[str]]:
    """The loss and metrics to compile with.

    For a regression ``model`` whose output is rescaled to the target's units, the loss is
    `StandardisedMSE` (errors in standard deviations of the target, so the gradient does not
    grow with the target's spread) and MAE stays in the target's units.
    """
    if task == "regression":
        scale = target_scale_in(model) if model is not None else None
        if scale is None:
            return "mse", ["mae"]
        from kiln_lab.engine.models.target_loss import StandardisedMSE

        return StandardisedMSE(mean=scale[0], std=scale[1]), ["mae"]
    if num_classes == 2:
        return "binary_crossentropy", ["accuracy"]
    return "sparse_categorical_crossentropy", ["accuracy"]


# The task's headline metric in Keras's log names, preferred first (what `loss_and_metrics` compiles).
HEADLINE_METRICS = {
    "classification": ("accuracy", "sparse_categorical_accuracy", "binary_accuracy"),
    "regression": ("mae", "mean_absolute_error"),
}


def headline_metric(task: str, logs: dict[str, Any]) -> str | None:
    """The key in Keras's ``logs`` to headline for ``task``: accuracy, or MAE for regression.

    Falls back to the first other training metric; None when the logs hold only the loss.
    """
    for key in HEADLINE_METRICS.get(task, ()):
        if key in logs:
            return key
    others = [k for k in logs if not k.startswith("val_") and k not in ("loss", "learning_rate")]
    return others[0] if others else None


def model_for_saving(model: Any) -> Any:
    """The model to save and hand back after training: loadable by plain Keras.

    A model compiled with Kiln's `StandardisedMSE` would need Kiln to load; this returns the
    same layers and weights (shared, not copied) compiled with Keras's own MSE and MAE, both
    in the target's units. Every other model is returned as it is.
    """
    from kiln_lab.engine.models.target_loss import StandardisedMSE

    if not isinstance(getattr(model, "loss", None), StandardisedMSE):
        return model
    import keras

    plain = keras.Model(model.inputs, model.outputs, name=model.name)
    plain.compile(loss="mse", metrics=["mae"])
    return plain


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
