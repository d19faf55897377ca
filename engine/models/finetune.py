"""Fine-tuning: a pretrained backbone + a new head, its training phases, and its optimizer.

`build_finetune_model` is what `engine.models.build.build_model` calls for
``recipe.kind == "finetune"``. The model takes the images the data pipeline gives
(float32 0..255, the dataset's channels, resized to ``BuiltModel.image_size``) and adapts
them inside itself to what the backbone expects (size, channels, value range), so a saved
model needs no outside preprocessing.
"""

from __future__ import annotations

import re
from typing import Any

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.errors import ConfigError, ModelError
from kiln_lab.engine.events import EventSink, ignore_events
from kiln_lab.engine.models.built import BuiltModel, TrainingPhase
from kiln_lab.engine.models.freeze import (
    POLICIES,
    apply_freeze,
    head_epochs_for,
    parse_freeze,
    second_phase_policy,
    unfreeze_sentence,
)
from kiln_lab.engine.models.recipe import ModelRecipe

__all__ = ["POLICIES", "build_finetune_model", "discriminative_optimizer", "finetune_phases"]


def build_finetune_model(
    recipe: ModelRecipe,
    dataset: Dataset,
    *,
    epochs: int,
    image_size: tuple[int, int] | None = None,
    sink: EventSink = ignore_events,
) -> BuiltModel:
    """The backbone ``recipe.backbone`` names, with a new head for ``dataset``'s task.

    ``image_size`` (the run's data.image_size) overrides the backbone's own input size: the
    pipeline resizes to it and the model resizes on to what the backbone needs.
    """
    from kiln_lab.engine.models.backbones import load_backbone

    if not recipe.backbone:
        raise ConfigError("Fine-tuning needs a backbone.", hint="Pick one from the catalogue, e.g. --backbone demo.")
    parse_freeze(recipe.freeze)  # a bad policy fails before any download
    if not 0 < recipe.finetune_lr_factor <= 1 and recipe.two_phase:
        raise ConfigError(f"The fine-tuning rate factor must be in (0, 1], not {recipe.finetune_lr_factor}.")
    backbone = load_backbone(
        recipe.backbone,
        cut_layer=recipe.cut_layer,
        input_size=tuple(image_size) if image_size else None,
        sink=sink,
    )
    model, size, adapters = _assemble(recipe, dataset, backbone, image_size)
    backbone_name = backbone.layer.name
    return BuiltModel(
        model=model,
        phases=finetune_phases(recipe, epochs, backbone_name),
        image_size=size,
        info={
            "kind": "finetune",
            "backbone": backbone.info(),
            "backbone_layer": backbone_name,
            "freeze": recipe.freeze,
            "two_phase": recipe.two_phase,
            "head_epochs": _head_epochs(recipe, epochs) if recipe.two_phase else None,
            "finetune_lr_factor": recipe.finetune_lr_factor,
            "backbone_lr_mult": recipe.backbone_lr_mult,
            "l2sp": recipe.l2sp,
            "head": {"hidden_units": recipe.head_units, "dropout": recipe.head_dropout},
            "input_adapters": adapters,
        },
        backbone_variables=list(backbone.layer.weights),
        custom_objects=_custom_objects(),
    )


def finetune_phases(recipe: ModelRecipe, epochs: int, backbone_name: str) -> list[TrainingPhase]:
    """One phase for a plain policy; two for the two-phase recipe (head first, then unfrozen, slower)."""
    policy = recipe.freeze
    if recipe.two_phase and epochs >= 2:
        head = _head_epochs(recipe, epochs)
        second = second_phase_policy(policy)
        return [
            TrainingPhase(
                "head", head, 1.0, _freezer(backbone_name, "all"), "Train the new head with the backbone frozen."
            ),
            TrainingPhase(
                "fine-tune",
                epochs - head,
                recipe.finetune_lr_factor,
                _freezer(backbone_name, second),
                unfreeze_sentence(second, recipe.finetune_lr_factor),
            ),
        ]
    kind = parse_freeze(policy)[0]
    name = {"all": "feature-extraction", "none": "fine-tune"}.get(kind, "partial-fine-tune")
    return [TrainingPhase(name, epochs, 1.0, _freezer(backbone_name, policy), POLICIES.get(policy, policy))]


def discriminative_optimizer(
    optimizer: Any,
    built: BuiltModel,
    *,
    backbone_lr_mult: float,
    config: Any = None,
    learning_rate: float | None = None,
) -> Any:
    """``optimizer`` made backbone-aware: the backbone learns at ``backbone_lr_mult`` x the head's rate,
    and L2-SP (``config.model.l2sp``) pulls it toward its pretrained weights. Serialisable (see
    engine.models.finetune_optimizer), so checkpoints resume with the same state."""
    from kiln_lab.engine.models.finetune_optimizer import finetune_optimizer

    l2sp = float(getattr(getattr(config, "model", None), "l2sp", 0.0) or 0.0)
    paths = [variable.path for variable in built.backbone_variables]
    return finetune_optimizer(optimizer, paths, backbone_lr_mult=backbone_lr_mult, l2sp=l2sp)


def _head_epochs(recipe: ModelRecipe, epochs: int) -> int:
    return head_epochs_for(recipe.head_epochs, epochs)


def _freezer(backbone_name: str, policy: str) -> Any:
    # Finds the backbone by name in whatever model it is given: after a resume that is a
    # model reloaded from the checkpoint, not the one built here.
    def prepare(model: Any) -> None:
        apply_freeze(model.get_layer(backbone_name), policy)

    return prepare


def _assemble(recipe: ModelRecipe, dataset: Dataset, backbone: Any, image_size: Any) -> tuple[Any, Any, list[str]]:
    import keras

    from kiln_lab.engine.models.channels import channel_adapter
    from kiln_lab.engine.models.heads import head_units_and_activation, regression_output, target_scale_of

    adapters: list[str] = []
    if dataset.input_kind != backbone.input_kind:
        raise ModelError(
            f"The backbone '{backbone.card.name}' takes {backbone.input_kind}s, but {dataset.source} holds "
            f"{dataset.input_kind}s.",
            hint="Pick a backbone made for this kind of data, or train from scratch.",
        )
    if dataset.input_kind == "vector":
        size = None
        inputs = keras.Input(tuple(dataset.input_shape), name="features_in")
        if tuple(dataset.input_shape) != tuple(backbone.layer.inputs[0].shape[1:]):
            raise ModelError(
                f"The backbone takes {backbone.layer.inputs[0].shape[1]} features; "
                f"the data has {dataset.input_shape[0]}."
            )
        x = inputs
    else:
        size = tuple(image_size) if image_size else (backbone.input_size or backbone.default_size)
        size = tuple(int(v) for v in (size or dataset.input_shape[:2]))
        channels = int(dataset.input_shape[2]) if len(dataset.input_shape) > 2 else 1
        inputs = keras.Input((*size, channels), name="image")
        x = inputs
        if backbone.input_size and tuple(backbone.input_size) != size:
            x = keras.layers.Resizing(*backbone.input_size, name="resize_to_backbone")(x)
            adapters.append(f"resize {size[0]}x{size[1]} -> {backbone.input_size[0]}x{backbone.input_size[1]}")
        if backbone.channels and channels != backbone.channels:
            x = channel_adapter(channels, backbone.channels, name="channels_to_backbone")(x)
            adapters.append(f"channels {channels} -> {backbone.channels}")
        low, high = backbone.input_range
        if backbone.input_scale is not None:
            scale, offset = backbone.input_scale
            x = keras.layers.Rescaling(scale, offset=offset, name="scale_to_backbone")(x)
            adapters.append(f"scale 0..255 by {scale} + {offset}")
        elif (low, high) != (0.0, 255.0):
            x = keras.layers.Rescaling((high - low) / 255.0, offset=low, name="scale_to_backbone")(x)
            adapters.append(f"scale 0..255 -> {low:g}..{high:g}")
    features = backbone.layer(x)
    rank = len(features.shape) - 1
    if rank == 3:
        features = keras.layers.GlobalAveragePooling2D(name="head_pool")(features)
    elif rank == 2:
        features = keras.layers.GlobalAveragePooling1D(name="head_pool")(features)
    elif rank > 3:
        features = keras.layers.Flatten(name="head_flatten")(features)
    x = features
    initializer = keras.initializers.GlorotUniform(seed=recipe.seed)
    if recipe.head_units > 0:
        x = keras.layers.Dense(
            recipe.head_units, activation="relu", kernel_initializer=initializer, name="head_hidden"
        )(x)
    if recipe.head_dropout > 0:
        x = keras.layers.Dropout(recipe.head_dropout, seed=recipe.seed, name="head_dropout")(x)
    units, activation = head_units_and_activation(dataset.task, dataset.num_classes)
    outputs = keras.layers.Dense(
        units, activation=activation, kernel_initializer=initializer, dtype="float32", name="head_output"
    )(x)
    outputs = regression_output(outputs, dataset.task, target_scale_of(dataset.preprocessing))
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", backbone.card.name).strip("_")[:40] or "backbone"
    return keras.Model(inputs, outputs, name=f"finetune_{slug}"), size, adapters


def _custom_objects() -> dict[str, Any]:
    from kiln_lab.engine.models.custom_objects import kiln_custom_objects

    return kiln_custom_objects()
