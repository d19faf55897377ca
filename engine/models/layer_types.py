"""The layer types a from-scratch model is made of: one registry for the builder and the editor.

Each `LayerType` says what it is called, which `LayerSpec` fields it uses, the defaults of a
new row, whether it needs image-shaped input, and how it is built. `engine.models.scratch`
builds from it; the GUI's layer editor lists it. Adding a layer type touches this file only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiln_lab.engine.params import check_declared, param

PRESETS: dict[str, str] = {
    "mlp": "Multi-layer perceptron: dense layers on tabular or flattened input.",
    "cnn": "Small convolutional network: conv blocks with pooling, then global pooling.",
    "resnet": "Small residual CNN: a conv stem and residual blocks (easier to train deeper).",
}

ACTIVATIONS = ("relu", "gelu", "swish", "elu", "selu", "tanh", "sigmoid", "linear")


# The declarations read the registries below when asked (LAYER_TYPES is defined after LayerSpec).
def _layer_types() -> dict[str, str]:
    return {name: kind.help for name, kind in LAYER_TYPES.items()}


def _activations() -> tuple[str, ...]:
    return ACTIVATIONS


def _initializers() -> dict[str, str]:
    from kiln_lab.engine.models.initializers import INITIALIZERS

    return INITIALIZERS


def _layer_uses(name: str) -> Any:
    """A `LayerSpec` field applies when its row's layer type lists it."""

    def used(spec: LayerSpec) -> bool:
        kind = LAYER_TYPES.get(spec.type)
        return kind is not None and name in kind.fields

    return used


@dataclass(frozen=True)
class LayerSpec:
    """One entry in a from-scratch model's layer list (the GUI's layer editor edits these)."""

    type: str = param(help="The layer's type", choices=_layer_types, cli=None)
    units: int = param(
        0, help="Dense: units (outputs). Conv2D / residual: filters (channels)", low=1, high=65536,
        cli=None, used_when=_layer_uses("units"), check_unused=False,
    )
    kernel_size: int = param(
        3, help="Convolution kernel size (k x k)", unit="pixels", low=1, high=31, step=2,
        cli=None, used_when=_layer_uses("kernel_size"), check_unused=False,
    )
    activation: str = param(
        "relu", help="The non-linearity after the layer", choices=_activations,
        cli=None, used_when=_layer_uses("activation"), check_unused=False,
    )
    rate: float = param(
        0.0, help="Dropout: share of units switched off at random while training", unit="fraction",
        low=0, high=1, high_open=True, step=0.05, decimals=2,
        cli=None, used_when=_layer_uses("rate"), check_unused=False,
    )
    kernel_initializer: str | None = param(
        None, help="This layer's weight initializer", choices=_initializers, cli=None,
        none_means="the model's kernel_initializer",
    )

    def validate(self, where: str) -> None:
        check_declared(self, where)


@dataclass(frozen=True)
class BuildContext:
    """What a layer builder needs besides its input: initializers and seeds, shared per model."""

    kernel_init: Callable[[LayerSpec | None], Any]
    bias_init: Callable[[], Any]
    next_seed: Callable[[], int]
    batch_norm: bool


@dataclass(frozen=True)
class LayerType:
    name: str
    label: str  # what the editor shows
    help: str
    build: Callable[[Any, LayerSpec, str, BuildContext], Any]  # (x, spec, name, ctx) -> x
    fields: frozenset[str] = field(default_factory=frozenset)  # LayerSpec fields it uses
    defaults: dict[str, Any] = field(default_factory=dict)  # a new row's values
    needs_spatial: bool = False  # needs (H, W, C) input

    def new_spec(self) -> LayerSpec:
        return LayerSpec(self.name, **self.defaults)


def _flatten_if_spatial(x: Any, name: str) -> Any:
    import keras

    return keras.layers.Flatten(name=name)(x) if len(x.shape) > 2 else x


def _dense(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
    import keras

    x = _flatten_if_spatial(x, f"flatten_before_{name}")
    return keras.layers.Dense(
        spec.units, activation=spec.activation, kernel_initializer=ctx.kernel_init(spec),
        bias_initializer=ctx.bias_init(), name=name,
    )(x)


def _conv2d(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
    import keras

    return keras.layers.Conv2D(
        spec.units, spec.kernel_size, padding="same", activation=spec.activation,
        kernel_initializer=ctx.kernel_init(spec), bias_initializer=ctx.bias_init(), name=name,
    )(x)


def _residual(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
    import keras

    filters = spec.units
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, kernel_initializer=ctx.kernel_init(spec), name=f"{name}_proj")(x)
    y = x
    for part in (1, 2):
        y = keras.layers.Conv2D(
            filters, spec.kernel_size, padding="same", kernel_initializer=ctx.kernel_init(spec),
            bias_initializer=ctx.bias_init(), name=f"{name}_conv{part}",
        )(y)
        if ctx.batch_norm:
            y = keras.layers.BatchNormalization(name=f"{name}_bn{part}")(y)
        if part == 1:
            y = keras.layers.Activation(spec.activation, name=f"{name}_act1")(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation(spec.activation, name=f"{name}_out")(y)


def _pool(kind: str) -> Callable[[Any, LayerSpec, str, BuildContext], Any]:
    def build(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
        import keras

        if min(x.shape[1], x.shape[2]) < 2:  # pooling a 1x1 map would fail; skip it instead
            return x
        pool = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
        return pool(2, name=name)(x)

    return build


def _globalpool(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
    import keras

    return keras.layers.GlobalAveragePooling2D(name=name)(x)


def _flatten(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
    return _flatten_if_spatial(x, name)


def _dropout(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
    import keras

    return keras.layers.Dropout(spec.rate, seed=ctx.next_seed(), name=name)(x)


def _batchnorm(x: Any, spec: LayerSpec, name: str, ctx: BuildContext) -> Any:
    import keras

    return keras.layers.BatchNormalization(name=name)(x)


_WEIGHTED = frozenset({"units", "activation", "kernel_initializer"})
_CONV = _WEIGHTED | {"kernel_size"}

LAYER_TYPES: dict[str, LayerType] = {
    t.name: t
    for t in (
        LayerType("dense", "Dense", "Fully connected units; flattens image-shaped input first.", _dense,
                  _WEIGHTED, {"units": 64}),
        LayerType("conv2d", "Conv2D", "A convolution over the image ('same' padding).", _conv2d,
                  _CONV, {"units": 32, "kernel_size": 3}, needs_spatial=True),
        LayerType("residual", "Residual block", "Two convolutions with a skip connection (He et al. 2016).",
                  _residual, _CONV, {"units": 32, "kernel_size": 3}, needs_spatial=True),
        LayerType("maxpool", "Max pooling", "Halves height and width, keeping the strongest response.",
                  _pool("max"), needs_spatial=True),
        LayerType("avgpool", "Average pooling", "Halves height and width by averaging.", _pool("avg"),
                  needs_spatial=True),
        LayerType("globalpool", "Global pooling", "Averages each channel over the image.", _globalpool,
                  needs_spatial=True),
        LayerType("flatten", "Flatten", "Turns an image-shaped tensor into a vector.", _flatten),
        LayerType("dropout", "Dropout", "Drops a fraction of activations while training.", _dropout,
                  frozenset({"rate"}), {"rate": 0.25}),
        LayerType("batchnorm", "Batch norm", "Normalises activations per batch.", _batchnorm),
    )
}
