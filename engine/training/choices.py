"""The names a `TrainConfig` accepts, each with a one-line help, and the settings each one uses.

One list for the CLI, the GUI, the checks and the training code.
"""

from __future__ import annotations

OPTIMIZERS: dict[str, str] = {
    "adam": "Adam: adaptive per-weight steps; a safe default.",
    "adamw": "AdamW: Adam with decoupled weight decay; a common choice for fine-tuning.",
    "sgd": "SGD with momentum: simple, often generalises well with a schedule.",
    "rmsprop": "RMSprop: adaptive steps with momentum.",
}

SCHEDULES: dict[str, str] = {
    "constant": "Constant learning rate.",
    "step": "Multiply the rate by the step factor every N epochs.",
    "cosine": "Cosine decay from the rate to zero over the run.",
    "plateau": "Multiply the rate by the factor when validation loss stops improving.",
}

STRATEGIES: dict[str, str] = {
    "auto": "All GPUs of this machine when there are several (MirroredStrategy), else the default device.",
    "none": "The default device only.",
    "mirrored": "MirroredStrategy: synchronous data parallelism over this machine's GPUs.",
    "multiworker": "MultiWorkerMirroredStrategy over the machines named in TF_CONFIG.",
}

# Which TrainConfig settings each optimizer and schedule uses: one table for `make_optimizer`
# (an optimizer's settings are passed to its Keras class under these same names), the
# schedule code, the settings' `used_when` (so the GUI greys out the others) and the tests.
OPTIMIZER_SETTINGS: dict[str, tuple[str, ...]] = {
    "adam": (),
    "adamw": ("weight_decay",),
    "sgd": ("momentum",),
    "rmsprop": ("momentum",),
}

SCHEDULE_SETTINGS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("step_every", "step_factor"),
    "cosine": (),
    "plateau": ("step_factor", "plateau_patience"),
}


def users_of(setting: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The names in ``table`` (optimizers or schedules) that use ``setting``."""
    return tuple(name for name, settings in table.items() if setting in settings)
