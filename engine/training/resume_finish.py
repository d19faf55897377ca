"""A run whose every epoch is already in its checkpoint: ready the rebuilt model to be saved.

A kill -9 after the last epoch's checkpoint but before ``model.keras`` is written leaves a
run with nothing left to train. ``--resume`` then fits no phase, so nothing compiles the
model the checkpoint was loaded into, and evaluating or saving it fails ("You must call
compile() before using the model"). This compiles it for the checkpoint's own phase and puts
the optimizer's state back, so the saved model is the one the uninterrupted run would have saved.
"""

from __future__ import annotations

from typing import Any


def needs_finishing(model: Any, checkpoint: Any) -> bool:
    """True when a resumed run trained nothing, so its model was never compiled."""
    return checkpoint is not None and not getattr(model, "compiled", False)


def compile_from_checkpoint(built: Any, checkpoint: Any, config: Any, dataset: Any, strategy: Any) -> None:
    """Compile ``built.model`` for the checkpoint's phase and restore the saved optimizer state."""
    from kiln_lab.engine.training.checkpoint import restore_optimizer
    from kiln_lab.engine.training.compile import compile_for_phase

    if not built.phases:
        return
    phase = built.phases[min(checkpoint.phase_index, len(built.phases) - 1)]
    with strategy.scope():
        compile_for_phase(built, phase, config, task=dataset.task, num_classes=dataset.num_classes)
        restore_optimizer(built.model, checkpoint)
