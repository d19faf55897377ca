"""Kiln's own Keras layers, registered for loading, and the check for SavedModel-backed ones."""

from __future__ import annotations

from typing import Any

# The check for SavedModel-backed layers lives with the one trust gate, in engine.export.trust.
from kiln_lab.engine.export.trust import CODE_LAYER_CLASSES as SAVEDMODEL_LAYER_CLASSES
from kiln_lab.engine.export.trust import needs_code_to_load

__all__ = ["SAVEDMODEL_LAYER_CLASSES", "kiln_custom_objects", "needs_code_to_load"]


def kiln_custom_objects() -> dict[str, Any]:
    """Every custom class Kiln puts in a model, by the name Keras records."""
    objects: dict[str, Any] = {}
    try:
        from kiln_lab.engine.models import layers as kiln_layers

        objects.update(getattr(kiln_layers, "CUSTOM_OBJECTS", {}))
    except ImportError:
        pass
    return objects
