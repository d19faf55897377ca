"""Kiln's own Keras layers, registered for loading, and the check for SavedModel-backed ones."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

# Layer class names whose loading runs code from a SavedModel on disk.
SAVEDMODEL_LAYER_CLASSES = {"SavedModelLayer", "TFSMLayer", "KerasLayer"}


def kiln_custom_objects() -> dict[str, Any]:
    """Every custom class Kiln puts in a model, by the name Keras records."""
    objects: dict[str, Any] = {}
    try:
        from engine.models import layers as kiln_layers

        objects.update(getattr(kiln_layers, "CUSTOM_OBJECTS", {}))
    except ImportError:
        pass
    return objects


def needs_code_to_load(path: Path) -> bool:
    """True when the model config names a SavedModel-backed layer."""
    config_text = ""
    if path.suffix.lower() == ".keras":
        try:
            with zipfile.ZipFile(path) as archive:
                config_text = archive.read("config.json").decode("utf-8", "replace")
        except (OSError, KeyError, zipfile.BadZipFile):
            return False
    else:
        try:
            import h5py

            with h5py.File(path, "r") as handle:
                raw = handle.attrs.get("model_config", "")
                config_text = raw.decode() if isinstance(raw, bytes) else str(raw)
        except OSError:
            return False
    try:
        config = json.loads(config_text)
    except ValueError:
        return False
    return any(name in SAVEDMODEL_LAYER_CLASSES for name in _class_names(config))


def _class_names(node: Any):
    if isinstance(node, dict):
        if "class_name" in node:
            yield node["class_name"]
        for value in node.values():
            yield from _class_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _class_names(value)
