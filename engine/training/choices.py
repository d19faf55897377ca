"""The names a `TrainConfig` accepts, each with a one-line help: one list for the CLI, GUI and checks."""

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
