"""A local SavedModel folder (TF Hub reusable format, a Keras 3 export, a serving signature) -> `Backbone`.

The folder may hold a ``kiln_backbone.json`` beside ``saved_model.pb`` with the facts a
SavedModel cannot say about itself (input range, licence, pretraining data), e.g.
``{"input_range": [0, 1], "licence": "Apache-2.0", "pretraining_data": "ImageNet"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import BackboneUnavailable
from kiln_lab.engine.models.backbones.spec import Backbone, BackboneCard

SIDE_CAR = "kiln_backbone.json"
DEFAULT_RANGE = (0.0, 1.0)  # the TF Hub convention for image models


def is_saved_model_folder(path: str | Path) -> bool:
    return (Path(path) / "saved_model.pb").exists()


def open_saved_model(
    folder: str | Path,
    *,
    handle: str | None = None,
    source: str = "savedmodel",
    meta: dict[str, Any] | None = None,
    name: str = "backbone",
    vouched_by_catalogue: bool = False,
) -> Backbone:
    """Wrap the SavedModel at ``folder`` in a `SavedModelLayer` and describe it.

    Opening a SavedModel runs its graph, so unless Kiln's own catalogue names it
    (``vouched_by_catalogue``), the folder must be trusted by hash (`engine.export.trust`):
    a folder or a TF Hub / Kaggle handle named on the command line or in a run config is
    refused with `UntrustedModel` until the person says yes to it.

    ``meta`` (from the catalogue) and the folder's ``kiln_backbone.json`` fill in what the
    SavedModel does not record; the input shape and the feature shape are read from it.
    """
    import numpy as np

    from kiln_lab.engine.models.layers import SavedModelLayer

    folder = Path(folder)
    if not is_saved_model_folder(folder):
        raise BackboneUnavailable(f"{folder} is not a SavedModel folder (it has no saved_model.pb).")
    from kiln_lab.engine.export.trust import require_trusted_folder, trust

    if vouched_by_catalogue:
        trust(folder)  # its hash, as first opened: a model saved on it opens it only while it is unchanged
    else:
        require_trusted_folder(folder, handle=handle)
    facts = {**_side_car(folder), **(meta or {})}
    layer = SavedModelLayer(str(folder), handle=handle, endpoint=facts.get("endpoint"), name=name, dtype="float32")
    shape = _input_shape(layer._function)
    channels = int(facts.get("channels") or (shape[-1] if shape and shape[-1] else 3))
    fixed = tuple(int(d) for d in shape[1:3]) if shape and len(shape) == 4 and all(shape[1:3]) else None
    default = tuple(facts["input_size"]) if facts.get("input_size") else fixed or (224, 224)
    probe = np.zeros((1, *(fixed or default), channels), dtype=np.float32)
    features = layer(probe)
    params = int(sum(int(np.prod(w.shape)) for w in layer.weights))
    card = BackboneCard(
        name=str(facts.get("name") or (handle or folder.name)),
        source=source,
        handle=str(handle or folder),
        licence=str(facts.get("licence", "unknown")),
        pretraining_data=str(facts.get("pretraining_data", "unknown")),
        params=params,
        description=str(facts.get("description", "")),
    )
    notes = []
    if not layer.accepts_training:
        notes.append("The SavedModel has no training argument: its batch norm always runs in inference mode.")
    if "input_range" not in facts:
        notes.append(
            f"Input range not recorded; assumed {DEFAULT_RANGE[0]:g}..{DEFAULT_RANGE[1]:g} (TF Hub convention)."
        )
    return Backbone(
        layer=layer,
        card=card,
        input_size=fixed,
        channels=channels,
        input_range=tuple(float(v) for v in facts.get("input_range", DEFAULT_RANGE)),
        feature_shape=tuple(int(d) for d in features.shape[1:]),
        default_size=default,
        notes=notes,
    )


def _side_car(folder: Path) -> dict[str, Any]:
    path = folder / SIDE_CAR
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackboneUnavailable(f"{path} is not valid JSON ({exc}); fix or delete it.") from exc


def _input_shape(function: Any) -> tuple[int | None, ...] | None:
    """The first input's shape from the function's traced signatures, if it has any."""
    concretes = list(getattr(function, "concrete_functions", []) or [])
    if not concretes and hasattr(function, "structured_input_signature"):
        concretes = [function]
    for concrete in concretes:
        args, kwargs = concrete.structured_input_signature
        specs = [a for a in args if hasattr(a, "shape")] or [v for v in (kwargs or {}).values() if hasattr(v, "shape")]
        if specs:
            return tuple(specs[0].shape.as_list())
    return None
