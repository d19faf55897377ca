"""Optimizers and learning-rate schedules named in a `TrainConfig`."""

from __future__ import annotations

import math
from typing import Any

from engine.errors import ConfigError
from engine.training.choices import OPTIMIZERS, SCHEDULES
from engine.training.config import TrainConfig

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_optimizer", "scheduled_rate"]

def make_optimizer(train: TrainConfig, learning_rate: float) -> Any:
    import keras

    name = train.optimizer.lower()
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=train.weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=train.momentum)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, momentum=train.momentum)
    raise ConfigError(
        f"'{train.optimizer}' is not an optimizer Kiln offers.", hint=f"Choose one of: {', '.join(OPTIMIZERS)}."
    )


def scheduled_rate(train: TrainConfig, base_rate: float, epoch: int, total_epochs: int) -> float:
    """The learning rate for ``epoch`` (0-based) under an epoch-wise schedule.

    ``plateau`` is not epoch-wise (it reacts to validation loss); it starts at the base rate.
    """
    schedule = train.schedule.lower()
    if schedule in ("constant", "plateau"):
        return base_rate
    if schedule == "step":
        return base_rate * train.step_factor ** (epoch // max(1, train.step_every))
    if schedule == "cosine":
        return base_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, total_epochs)))
    raise ConfigError(
        f"'{train.schedule}' is not a learning-rate schedule.", hint=f"Choose one of: {', '.join(SCHEDULES)}."
    )
