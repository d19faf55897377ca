"""Freeze policies for a backbone: all | none | top:N | from:LAYER.

A partially frozen backbone keeps every batch-norm layer frozen, so it runs in inference
mode with the pretrained statistics (small fine-tuning batches would wreck them); only full
fine-tuning ("none") lets batch norm learn. A SavedModel backbone has no layers to address,
so its variables are grouped by the layer name in their SavedModel names.
"""

from __future__ import annotations

import re
from typing import Any

from engine.errors import ConfigError

POLICIES: dict[str, str] = {
    "all": "Feature extraction: the backbone is frozen; only the new head learns.",
    "none": "Full fine-tuning: every backbone weight learns (batch norm too).",
    "top:N": "Partial: the top N backbone layers learn; the rest, and all batch norm, stay frozen.",
    "from:LAYER": "Partial: the backbone learns from LAYER up; below it, and all batch norm, stay frozen.",
}
_BATCH_NORM = ("BatchNormalization", "SyncBatchNormalization")
# A SavedModel's batch-norm variable groups, by name (TF-Slim "BatchNorm", Keras "batch_normalization", "bn3").
_BATCH_NORM_GROUP = re.compile(r"(^|[/_])(bn\d*|batch_?norm\w*|batch_normalization\w*)($|[/_])", re.IGNORECASE)


def parse_freeze(policy: str) -> tuple[str, Any]:
    """``"top:3"`` -> ``("top", 3)``; raises `ConfigError` with the accepted forms."""
    text = (policy or "all").strip()
    kind, _, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind in ("all", "none") and not arg:
        return kind, None
    if kind == "top":
        try:
            count = int(arg)
        except ValueError:
            count = -1
        if count >= 0:
            return "top", count
    if kind == "from" and arg.strip():
        return "from", arg.strip()
    raise ConfigError(
        f"'{policy}' is not a freeze policy.",
        hint="Use all, none, top:N (e.g. top:2) or from:LAYER (a backbone layer name).",
    )


def unit_names(backbone: Any) -> list[str]:
    """The units ``top:N`` counts, bottom to top: layers with weights, or SavedModel variable groups.

    Batch norm is not counted: a partial policy keeps it frozen anyway.
    """
    from engine.models.layers import SavedModelLayer

    if isinstance(backbone, SavedModelLayer):
        groups = dict.fromkeys(backbone.variable_groups[w.path] for w in backbone.learnable_weights)
        return [g for g in groups if not _BATCH_NORM_GROUP.search(g)]
    return [
        layer.name
        for layer in getattr(backbone, "layers", [])
        if layer.weights and type(layer).__name__ not in _BATCH_NORM
    ]


def apply_freeze(backbone: Any, policy: str) -> None:
    """Set the trainable flags of ``backbone`` (a layer or sub-model) for ``policy``."""
    from engine.models.layers import SavedModelLayer

    kind, arg = parse_freeze(policy)
    if kind == "all":
        backbone.trainable = False
        return
    backbone.trainable = True  # also makes every nested layer trainable again
    if isinstance(backbone, SavedModelLayer):
        backbone.set_frozen([])
    if kind == "none":
        return
    units = unit_names(backbone)
    learning = set(_selected(units, kind, arg))
    if isinstance(backbone, SavedModelLayer):
        backbone.set_frozen(
            [w.name for w in backbone.learnable_weights if backbone.variable_groups[w.path] not in learning]
        )
        return
    for layer in backbone.layers:
        if layer.weights:
            layer.trainable = layer.name in learning and type(layer).__name__ not in _BATCH_NORM


def _selected(units: list[str], kind: str, arg: Any) -> list[str]:
    if kind == "top":
        return units[len(units) - arg :] if arg else []
    for index, name in enumerate(units):
        if name == arg or name.split("/")[-1] == arg:
            return units[index:]
    for index, name in enumerate(units):  # a SavedModel group prefix, e.g. "block5"
        if name.startswith(arg):
            return units[index:]
    shown = ", ".join(units[-12:])
    raise ConfigError(f"The backbone has no layer '{arg}' to unfreeze from.", hint=f"Its top layers are: {shown}.")
