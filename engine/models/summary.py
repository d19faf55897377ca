"""A built model described in plain values: sizes layer by layer, phases, the freeze units.

The GUI's "Count parameters" and any script that wants a model's size before training use
`summarize_recipe`; everything returned is plain Python (safe to send across threads and
to write as JSON).
"""

from __future__ import annotations

from typing import Any

from kiln_lab.engine.models.built import BuiltModel
from kiln_lab.engine.models.recipe import ModelRecipe


def count_weights(weights: list[Any]) -> int:
    """The number of scalars in ``weights`` (Keras variables or arrays)."""
    import numpy as np

    return int(sum(int(np.prod(w.shape)) for w in weights))


def summarize_recipe(
    recipe: ModelRecipe, dataset: Any, image_size: tuple[int, int] | None = None, *, epochs: int = 2
) -> dict[str, Any]:
    """Build ``recipe`` for ``dataset`` once and describe it (see `describe_built`).

    The first phase's freezing is applied, so the trainable count is the one training starts with.
    """
    from kiln_lab.engine.models.build import build_model

    built = build_model(recipe, dataset, epochs=epochs, image_size=image_size)
    if built.phases and built.phases[0].prepare is not None:
        built.phases[0].prepare(built.model)
    return describe_built(built)


def describe_built(built: BuiltModel) -> dict[str, Any]:
    """Name, parameter counts, layers (name, type, output shape, params, trainable), image size,
    phases, the build info, and ``freeze_units``: the backbone's layer names that ``top:N`` counts
    and ``from:LAYER`` may name (empty for a model from scratch)."""
    model = built.model
    layers = []
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape)).replace("None", "batch")
        except (AttributeError, ValueError):
            shape = ""
        layers.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output": shape,
                "params": count_weights(layer.weights),
                "trainable": count_weights(layer.trainable_weights),
            }
        )
    return {
        "name": model.name,
        "params": count_weights(model.weights),
        "trainable": count_weights(model.trainable_weights),
        "layers": layers,
        "image_size": built.image_size,
        "phases": [{"name": p.name, "epochs": p.epochs, "description": p.description} for p in built.phases],
        "info": _plain(built.info),
        "freeze_units": _freeze_units(built),
    }


def _freeze_units(built: BuiltModel) -> list[str]:
    from kiln_lab.engine.models.freeze import unit_names

    name = built.info.get("backbone_layer") if isinstance(built.info, dict) else None
    if not name:
        return []
    try:
        return unit_names(built.model.get_layer(name))
    except (ValueError, AttributeError):
        return []


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
