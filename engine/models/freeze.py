"""Freeze policies for a backbone: all | none | top:N | from:LAYER.

A partially frozen backbone keeps every batch-norm layer frozen, so it runs in inference
mode with the pretrained statistics (small fine-tuning batches would wreck them); only full
fine-tuning ("none") lets batch norm learn. A SavedModel backbone has no layers to address,
so its variables are grouped by the layer name in their SavedModel names.
"""

from __future__ import annotations

import re
from typing import Any

from kiln_lab.engine.errors import ConfigError

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
    from kiln_lab.engine.models.layers import SavedModelLayer

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
    from kiln_lab.engine.models.layers import SavedModelLayer

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


# -- what a policy means, in words (the fine-tune card and the run's phase plan say the same) --


def second_phase_policy(policy: str) -> str:
    """The policy phase 2 of a two-phase run trains under: "all" would leave nothing to fine-tune,
    so phase 2 then unfreezes the whole backbone; any other policy is kept."""
    return "none" if parse_freeze(policy)[0] == "all" else policy


def head_epochs_for(head_epochs: int | None, epochs: int) -> int:
    """Phase 1's length in a two-phase run of ``epochs``: as set, else half, leaving each phase at least one."""
    wanted = head_epochs if head_epochs is not None else epochs // 2
    return min(max(1, int(wanted)), max(1, epochs - 1))


def learns_sentence(policy: str) -> str:
    """What learns under ``policy``, as the middle of a sentence ("the backbone stays frozen; ...")."""
    kind, arg = parse_freeze(policy)
    if kind == "all" or (kind == "top" and arg == 0):
        return "the backbone stays frozen; only the new head learns"
    if kind == "none":
        return "the whole backbone learns with the head (batch norm too)"
    if kind == "top":
        layers = "top layer of the backbone learns" if arg == 1 else f"top {arg} layers of the backbone learn"
        return f"the {layers} with the head; the rest, and all batch norm, stay frozen"
    return f"the backbone learns from layer {arg} up, with the head; below it, and all batch norm, stay frozen"


def unfreeze_sentence(policy: str, rate_factor: float) -> str:
    """Phase 2 of a two-phase run under ``policy`` (already `second_phase_policy`), as the run's log says it."""
    kind, arg = parse_freeze(policy)
    rate = f"at {rate_factor:g}x the learning rate"
    if kind == "all" or (kind == "top" and arg == 0):
        return f"The backbone stays frozen; the head continues {rate}."
    if kind == "none":
        return f"Unfreeze the whole backbone (batch norm too) and continue {rate}."
    if kind == "top":
        layers = "top layer" if arg == 1 else f"top {arg} layers"
        return f"Unfreeze the {layers} of the backbone (batch norm stays frozen) and continue {rate}."
    return f"Unfreeze the backbone from layer {arg} up (batch norm stays frozen) and continue {rate}."


def plan_sentence(policy: str, two_phase: bool, *, rate_factor: float = 0.1, epochs: int | None = None,
                  head_epochs: int | None = None) -> str:
    """What a fine-tuning run with this freeze policy and phase setting will do, in one or two sentences.

    ``epochs`` (the run's) decides whether two phases fit (they need 2); ``head_epochs`` is phase 1's
    length when known.
    """
    single = learns_sentence(policy)
    if not two_phase:
        return single[0].upper() + single[1:] + "."
    if epochs is not None and epochs < 2:
        return f"Two phases need at least 2 epochs; with {epochs}, one phase runs: {single}."
    length = f" ({head_epochs} epochs)" if head_epochs else ""
    second = second_phase_policy(policy)
    phase2 = "Phase 2: " + unfreeze_sentence(second, rate_factor).replace("Unfreeze", "unfreeze", 1)
    phase2 = phase2.replace("Phase 2: The backbone", "Phase 2: the backbone")
    note = " The freeze policy 'all' holds for phase 1 only." if second != policy else ""
    return f"Phase 1{length}: the backbone is frozen; only the new head learns. {phase2}{note}"
