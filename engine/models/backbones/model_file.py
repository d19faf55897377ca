"""A person's own .keras / .h5 model -> `Backbone`: the layers below the cut become the backbone.

The default cut is the input of the model's last Dense layer (its classifier), skipping any
Dropout / Activation right before it, so the backbone ends at the features the old head read.
An all-convolutional model with no Dense layer ("Conv2D(classes) -> global pooling ->
softmax", common in Keras 2 files) is cut below that last convolution instead of at its class
scores. The backbone's notes say where it was cut and what was left out; ``cut_layer``
(``--cut-layer``) chooses another layer.
A ``<file>.backbone.json`` beside the file may say what the input range is, and the
licence / pretraining data for the run record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import BackboneUnavailable, ModelError
from kiln_lab.engine.models.backbones.spec import Backbone, BackboneCard

_PASS_THROUGH = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "Activation", "Softmax", "GaussianNoise")
_SCALING_LAYERS = ("Rescaling", "Normalization")
_NOISE = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise")
# What sits between an all-convolutional classifier and its output: pooling to one vector.
_HEAD_SHAPING = ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
                 "Flatten", "Reshape")


def open_model_file(
    path: str | Path,
    *,
    cut_layer: str | None = None,
    source: str = "keras_file",
    meta: dict[str, Any] | None = None,
    name: str = "backbone",
) -> Backbone:
    """Load ``path`` and return the sub-model from its input up to ``cut_layer`` (inclusive)."""
    import keras
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise BackboneUnavailable(f"There is no model file at {path}: check the path, or pick a catalogue backbone.")
    model = _load(path)
    layer = _cut_point(model, cut_layer)
    try:
        backbone = keras.Model(model.inputs, layer.output, name=name)
    except (AttributeError, ValueError) as exc:
        raise ModelError(
            f"Kiln cannot cut {path.name} at layer '{layer.name}' ({str(exc).splitlines()[0][:120]}).",
            hint="Pick a layer on the model's main path, or save the model as a functional or Sequential model.",
        ) from exc
    facts = {**_side_car(path), **(meta or {})}
    shape = tuple(model.inputs[0].shape[1:])
    image = len(shape) == 3
    notes: list[str] = [_cut_words(model, layer, path, chosen=cut_layer is not None)]
    if "input_range" in facts:
        input_range = tuple(float(v) for v in facts["input_range"])
    elif _starts_with_scaling(model):
        input_range = (0.0, 255.0)  # the model scales its own raw input, like Kiln's models do
    else:
        input_range = (0.0, 1.0) if image else (0.0, 0.0)
        if image:
            notes.append("Input range not recorded; assumed 0..1 (add input_range to a .backbone.json to change it).")
    card = BackboneCard(
        name=str(facts.get("name") or path.stem),
        source=source,
        handle=str(facts.get("handle") or path),
        licence=str(facts.get("licence", "unknown")),
        pretraining_data=str(facts.get("pretraining_data", "unknown")),
        params=int(sum(int(np.prod(w.shape)) for w in backbone.weights)),
        description=str(facts.get("description", "")),
    )
    fixed = tuple(int(d) for d in shape[:2]) if image and all(shape[:2]) else None
    return Backbone(
        layer=backbone,
        card=card,
        input_size=fixed,
        channels=int(shape[-1]) if image else None,
        input_range=input_range,
        feature_shape=tuple(int(d) for d in backbone.output.shape[1:]),
        default_size=fixed,
        notes=notes,
    )


def _cut_words(model: Any, layer: Any, path: Path, *, chosen: bool) -> str:
    """Where the file was cut, and why, naming what was left out (so a wrong guess is visible)."""
    if chosen:
        return f"Cut at layer '{layer.name}' of {path.name} (as asked)."
    names = [item.name for item in model.layers]
    after = names[names.index(layer.name) + 1 :] if layer.name in names else []
    if not after:
        return (f"Cut at layer '{layer.name}' of {path.name}: its last layer (no classifier found to leave out); "
                "choose another with --cut-layer.")
    dropped = ", ".join(f"'{name}'" for name in after[:4]) + (" ..." if len(after) > 4 else "")
    return (f"Cut at layer '{layer.name}' of {path.name}, its features below the old classifier ({dropped} left "
            "out); choose another with --cut-layer.")


def cut_candidates(model: Any) -> list[str]:
    """Layer names a person may cut at (for the GUI's picker): every layer after the input."""
    return [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _load(path: Path) -> Any:
    """Open the file through the one trust gate (engine.export.trust), as `kiln predict` does."""
    from kiln_lab.engine.export.trust import UntrustedModel, load_keras_file
    from kiln_lab.engine.models.custom_objects import kiln_custom_objects

    if path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise BackboneUnavailable(
            f"{path.name} is not a .keras or .h5 model file: pick one of those, or a SavedModel folder."
        )
    try:
        return load_keras_file(path, custom_objects=kiln_custom_objects(), compile=False)
    except UntrustedModel:
        raise
    except ModelError as exc:  # the same sentence, as the backbone error callers expect
        raise BackboneUnavailable(exc.message, hint=exc.hint) from exc


def _cut_point(model: Any, cut_layer: str | None) -> Any:
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if not layers:
        raise ModelError("The model file has no layers to use as a backbone.")
    if cut_layer:
        try:
            return model.get_layer(cut_layer)
        except ValueError:
            names = cut_candidates(model)
            raise ModelError(
                f"The model has no layer called '{cut_layer}'.", hint=f"Its layers are: {', '.join(names[:40])}."
            ) from None
    dense = [i for i, layer in enumerate(layers) if type(layer).__name__ == "Dense"]
    if not dense or dense[-1] != len(layers) - 1 and not _only_pass_through(layers[dense[-1] + 1 :]):
        head = _convolutional_classifier(layers)
        if head is None:
            return layers[-1]  # no classifier at the end: the whole model is the backbone
        index = head - 1
        while index > 0 and type(layers[index]).__name__ in _NOISE:  # keep the features' own activation
            index -= 1
        if index < 0:
            raise ModelError("The model's only layer is its classifier; there is nothing below it to fine-tune.")
        return layers[index]
    index = dense[-1] - 1
    while index > 0 and type(layers[index]).__name__ in _PASS_THROUGH:
        index -= 1
    if index < 0:
        raise ModelError("The model's only layer is its classifier; there is nothing below it to fine-tune.")
    return layers[index]


def _convolutional_classifier(layers: list[Any]) -> int | None:
    """The index of an all-convolutional model's classifier layer, or None when it has none.

    Such a model (common in Keras 2 era files) ends "Conv2D(classes) -> global pooling /
    flatten -> softmax" with no Dense layer. Cutting at its output would hand the new head the
    old task's class scores, not features. A classifier output is a final softmax or sigmoid;
    the classifier layer is the last convolution before the pooling that leads to it.
    """
    if not _ends_in_probabilities(layers):
        return None
    index = len(layers) - 1
    while index >= 0 and type(layers[index]).__name__ in _PASS_THROUGH + _HEAD_SHAPING + ("BatchNormalization",):
        index -= 1
    if index >= 0 and type(layers[index]).__name__ in ("Conv2D", "Conv1D"):
        return index
    return None


def _ends_in_probabilities(layers: list[Any]) -> bool:
    for layer in reversed(layers):
        kind = type(layer).__name__
        if kind == "Softmax":
            return True
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        if activation in ("softmax", "sigmoid"):
            return True
        if kind not in _PASS_THROUGH + _HEAD_SHAPING + ("BatchNormalization",):
            return False
    return False


def _only_pass_through(layers: list[Any]) -> bool:
    return all(type(layer).__name__ in _PASS_THROUGH for layer in layers)


def _starts_with_scaling(model: Any) -> bool:
    first = next((layer for layer in model.layers if type(layer).__name__ != "InputLayer"), None)
    return first is not None and type(first).__name__ in _SCALING_LAYERS


def _side_car(path: Path) -> dict[str, Any]:
    side = path.with_name(path.name + ".backbone.json")
    if not side.exists():
        side = path.with_suffix(".backbone.json")
    if not side.exists():
        return {}
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise BackboneUnavailable(f"{side} is not valid JSON ({exc}); fix or delete it.") from exc
