"""`build_model`: a recipe and a dataset -> a `BuiltModel` ready for the training job."""

from __future__ import annotations

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.events import EventSink, ignore_events
from kiln_lab.engine.models.built import BuiltModel, TrainingPhase
from kiln_lab.engine.models.recipe import ModelRecipe

__all__ = ["BuiltModel", "TrainingPhase", "build_model"]


def build_model(
    recipe: ModelRecipe,
    dataset: Dataset,
    *,
    epochs: int,
    image_size: tuple[int, int] | None = None,
    sink: EventSink = ignore_events,
) -> BuiltModel:
    """Build (not compile) the model for ``dataset``. Call on the thread that will train it.

    ``sink`` receives `Progress` events while a pretrained backbone downloads.
    """
    if recipe.kind == "finetune":
        from kiln_lab.engine.models.finetune import build_finetune_model

        return build_finetune_model(recipe, dataset, epochs=epochs, image_size=image_size, sink=sink)

    from kiln_lab.engine.models.heads import target_scale_of
    from kiln_lab.engine.models.scratch import build_scratch_model, expand_preset

    input_shape = tuple(dataset.input_shape)
    size = None
    if dataset.input_kind == "image":
        size = tuple(image_size) if image_size else tuple(input_shape[:2])
        input_shape = (*size, input_shape[2])
    model = build_scratch_model(
        recipe,
        input_shape=input_shape,
        input_kind=dataset.input_kind,
        task=dataset.task,
        num_classes=dataset.num_classes,
        target_scale=target_scale_of(dataset.preprocessing),
    )
    layers = [layer_spec.__dict__ for layer_spec in expand_preset(recipe, dataset.input_kind)]
    return BuiltModel(
        model=model,
        phases=[TrainingPhase("train", epochs=epochs)],
        image_size=size,
        info={
            "kind": "scratch",
            "arch": recipe.arch,
            "layers": layers,
            "kernel_initializer": recipe.kernel_initializer,
            "bias_initializer": recipe.bias_initializer,
            "init_scale": recipe.init_scale,
        },
    )
