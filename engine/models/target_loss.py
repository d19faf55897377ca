"""The regression loss: mean squared error measured in standard deviations of the target.

A regression model's output is in the target's units (its last layer rescales by the
training targets' mean and standard deviation), so predictions, MAE and saved models read
naturally. Plain MSE on those units grows with the square of the target's spread: targets
near 1e30 overflow float32, and a spread of a few thousand makes SGD diverge at any sensible
learning rate. This loss standardises both sides before squaring, so the gradient that
reaches the network is the one of a target with mean 0 and spread 1, whatever the units.

Importing this module imports Keras; it registers the loss so checkpoints holding it load.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kiln")
class StandardisedMSE(keras.losses.Loss):
    """``mean(((y_true - mean) / std - (y_pred - mean) / std) ** 2)``: MSE in target spreads."""

    def __init__(self, mean: float = 0.0, std: float = 1.0, name: str = "standardised_mse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.mean = float(mean)
        self.std = float(std) if float(std) > 0 else 1.0

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.reshape(ops.cast(y_true, "float32"), ops.shape(y_pred))
        # Subtract before dividing: (1e30 - 1e30) / 1e29 stays finite where 1e30 ** 2 would not.
        true_std = (y_true - self.mean) / self.std
        pred_std = (y_pred - self.mean) / self.std
        return ops.mean(ops.square(true_std - pred_std), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "std": self.std}
