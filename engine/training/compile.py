"""Compile a built model for one training phase: optimizer, loss, metrics."""

from __future__ import annotations

from typing import Any

from kiln_lab.engine.models.built import BuiltModel, TrainingPhase
from kiln_lab.engine.models.heads import loss_and_metrics
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.engine.training.optimizers import make_optimizer


def phase_learning_rate(config: RunConfig, phase: TrainingPhase) -> float:
    return config.train.learning_rate * phase.learning_rate_factor


def compile_for_phase(
    built: BuiltModel, phase: TrainingPhase, config: RunConfig, *, task: str, num_classes: int
) -> Any:
    """Apply the phase's trainable flags and compile. Returns the model."""
    model = built.model
    if phase.prepare is not None:
        phase.prepare(model)
    learning_rate = phase_learning_rate(config, phase)
    optimizer = make_optimizer(config.train, learning_rate)
    if built.backbone_variables and (config.model.backbone_lr_mult != 1.0 or config.model.l2sp > 0):
        from kiln_lab.engine.models.finetune import discriminative_optimizer

        optimizer = discriminative_optimizer(
            optimizer, built, backbone_lr_mult=config.model.backbone_lr_mult, config=config, learning_rate=learning_rate
        )
    loss, metrics = loss_and_metrics(task, num_classes, model=model)  # regression: errors in target spreads
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile_setting(config.train.xla))
    return model


def jit_compile_setting(xla: bool) -> bool:
    """What ``xla`` means for ``model.compile(jit_compile=...)`` on the current Keras backend.

    TensorFlow: XLA on or off (off is still a compiled tf.function). JAX: always compiled
    (jax.jit is XLA; ``jit_compile=False`` would run every step eagerly, many times slower).
    PyTorch: ``torch.compile`` on or off.
    """
    from kiln_lab.engine.runtime import keras_backend

    return True if keras_backend() == "jax" else bool(xla)
