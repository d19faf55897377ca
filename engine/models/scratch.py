"""From-scratch models: presets that expand into an editable layer list, and the builder.

A preset is only a starting layer list (`expand_preset`); the GUI's layer editor and the
run config both hold the list itself, so whatever a person edits is what gets built.
"""

from __future__ import annotations

from typing import Any

from kiln_lab.engine.errors import ModelError
from kiln_lab.engine.models.heads import head_units_and_activation, regression_output
from kiln_lab.engine.models.initializers import make_initializer
from kiln_lab.engine.models.layer_types import ACTIVATIONS, LAYER_TYPES, PRESETS, BuildContext
from kiln_lab.engine.models.recipe import LayerSpec, ModelRecipe

__all__ = ["ACTIVATIONS", "LAYER_TYPES", "PRESETS", "build_scratch_model", "expand_preset"]


def expand_preset(recipe: ModelRecipe, input_kind: str) -> tuple[LayerSpec, ...]:
    """The layer list a preset stands for, given depth / width / activation / dropout / batch norm."""
    if recipe.layers:
        return recipe.layers
    act, width, depth = recipe.activation, max(1, recipe.width), max(1, recipe.depth)
    extras: list[LayerSpec] = []
    layers: list[LayerSpec] = []
    arch = recipe.arch
    if arch in ("cnn", "resnet") and input_kind != "image":
        arch = "mlp"  # convolutions need images; tabular data gets the MLP
    if arch == "mlp":
        for _ in range(depth):
            layers.append(LayerSpec("dense", units=width, activation=act))
            if recipe.batch_norm:
                layers.append(LayerSpec("batchnorm"))
            if recipe.dropout > 0:
                layers.append(LayerSpec("dropout", rate=recipe.dropout))
        return tuple(layers)
    if arch == "cnn":
        for i in range(depth):
            layers.append(LayerSpec("conv2d", units=width * 2**i, kernel_size=3, activation=act))
            if recipe.batch_norm:
                layers.append(LayerSpec("batchnorm"))
            layers.append(LayerSpec("maxpool"))
    elif arch == "resnet":
        layers.append(LayerSpec("conv2d", units=width, kernel_size=3, activation=act))
        for i in range(depth):
            layers.append(LayerSpec("residual", units=width * 2**i, kernel_size=3, activation=act))
            if i < depth - 1:
                layers.append(LayerSpec("maxpool"))
    else:
        raise ModelError(f"'{recipe.arch}' is not a model preset.", hint=f"Choose one of: {', '.join(PRESETS)}.")
    layers.append(LayerSpec("globalpool"))
    if recipe.dropout > 0:
        extras.append(LayerSpec("dropout", rate=recipe.dropout))
    return tuple(layers + extras)


def build_scratch_model(
    recipe: ModelRecipe,
    *,
    input_shape: tuple[int, ...],
    input_kind: str,
    task: str,
    num_classes: int,
    target_scale: tuple[float, float] | None = None,
) -> Any:
    """A functional Keras model from the recipe's layer list. Images come in as 0..255 floats.

    ``target_scale`` = (mean, std) of a regression target: the head predicts a standardised
    value and a last layer maps it back, so training starts near the right scale.
    """
    import keras

    layer_specs = expand_preset(recipe, input_kind)
    seed_counter = iter(range(recipe.seed, recipe.seed + 10_000))

    def kernel_init(spec: LayerSpec | None) -> Any:
        name = (spec.kernel_initializer if spec and spec.kernel_initializer else None) or recipe.kernel_initializer
        return make_initializer(name, scale=recipe.init_scale, seed=next(seed_counter))

    def bias_init() -> Any:
        return make_initializer(recipe.bias_initializer, scale=recipe.init_scale, seed=next(seed_counter))

    context = BuildContext(kernel_init, bias_init, lambda: next(seed_counter), recipe.batch_norm)
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale_0_1")(inputs) if input_kind == "image" else inputs
    for index, spec in enumerate(layer_specs):
        layer_type = LAYER_TYPES.get(spec.type)
        if layer_type is None:
            raise ModelError(
                f"Layer {index + 1} has unknown type '{spec.type}'.", hint=f"Use one of: {', '.join(LAYER_TYPES)}."
            )
        if layer_type.needs_spatial and len(x.shape) != 4:
            raise ModelError(
                f"Layer {index + 1} ({spec.type}) needs image-shaped input, but its input is flat.",
                hint="Move it above any Dense/Flatten layer, or use the MLP preset for tabular data.",
            )
        if "units" in layer_type.fields:
            _positive(spec.units, index)
        x = layer_type.build(x, spec, f"{spec.type}_{index}", context)
    if len(x.shape) > 2:
        x = keras.layers.Flatten(name="flatten_head")(x)
    if input_kind == "vector" and layer_specs:
        # Tables: the head also reads the (standardised) inputs directly, a linear path beside
        # the hidden layers, so the model holds the linear baseline it is measured against and
        # the hidden layers only add what a linear model misses (issue 20.10).
        x = keras.layers.Concatenate(name="linear_path")([inputs, x])
    units, activation = head_units_and_activation(task, num_classes)
    outputs = keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=kernel_init(None),
        bias_initializer="zeros",
        dtype="float32",  # softmax and losses stay in float32 under mixed precision
        name="head",
    )(x)
    outputs = regression_output(outputs, task, target_scale)
    return keras.Model(inputs, outputs, name=f"scratch_{recipe.arch}")


def _positive(units: int, index: int) -> int:
    if units <= 0:
        raise ModelError(f"Layer {index + 1} needs a positive number of units or filters, not {units}.")
    return int(units)
