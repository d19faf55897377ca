"""What `build_model` returns: the Keras model with its training phases and run-record facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainingPhase:
    """One stretch of epochs with a fixed set of trainable weights and a learning-rate factor.

    A from-scratch model has one phase. Fine-tuning's two-phase recipe has two: head only
    (backbone frozen), then unfrozen at a lower rate. ``prepare`` sets the trainable flags
    on the model before the phase is compiled.
    """

    name: str
    epochs: int
    learning_rate_factor: float = 1.0
    prepare: Callable[[Any], None] | None = None
    description: str = ""


@dataclass
class BuiltModel:
    model: Any  # keras.Model
    phases: list[TrainingPhase]
    image_size: tuple[int, int] | None  # the (H, W) images must be resized to; None for vectors
    info: dict[str, Any] = field(default_factory=dict)  # for the run record: initializers, backbone card
    # Fine-tuning hooks, used by `engine.training.compile`: which variables count as the
    # backbone (for the learning-rate multiplier) and the anchors for L2-SP.
    backbone_variables: list[Any] = field(default_factory=list)
    custom_objects: dict[str, Any] = field(default_factory=dict)
