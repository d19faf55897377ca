"""Optimizers and learning-rate schedules named in a `TrainConfig`."""

from __future__ import annotations

import math
from typing import Any

from kiln_lab.engine.errors import ConfigError
from kiln_lab.engine.training.choices import OPTIMIZER_SETTINGS, OPTIMIZERS, SCHEDULES
from kiln_lab.engine.training.config import TrainConfig

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_optimizer", "scheduled_rate"]

# Kiln's optimizer names -> Keras class names; each gets the settings `OPTIMIZER_SETTINGS`
# names for it, under the same names (momentum, weight_decay), and no others.
_KERAS_CLASSES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


def make_optimizer(train: TrainConfig, learning_rate: float) -> Any:
    import keras

    name = train.optimizer.lower()
    if name not in OPTIMIZER_SETTINGS:
        raise ConfigError(
            f"'{train.optimizer}' is not an optimizer Kiln offers.", hint=f"Choose one of: {', '.join(OPTIMIZERS)}."
        )
    settings = {setting: getattr(train, setting) for setting in OPTIMIZER_SETTINGS[name]}
    return getattr(keras.optimizers, _KERAS_CLASSES[name])(learning_rate=learning_rate, **settings)


def scheduled_rate(train: TrainConfig, base_rate: float, epoch: int, total_epochs: int) -> float:
    """The learning rate for ``epoch`` (0-based) under an epoch-wise schedule.

    ``plateau`` is not epoch-wise (it reacts to validation loss); it starts at the base rate.
    The settings each schedule reads are the ones `SCHEDULE_SETTINGS` names (a test checks).
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
