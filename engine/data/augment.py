"""Random image augmentation (flip, rotation, zoom, contrast) as Keras preprocessing layers.

The same layers serve the training pipeline (on batches, training only) and the GUI's
augmentation preview, so what the preview shows is what training does.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from kiln_lab.engine.data.config import AugmentConfig


def as_augment_config(augment: Any) -> AugmentConfig | None:
    """``AugmentConfig``, a dict of its fields, or None -> an enabled config or None."""
    if augment is None:
        return None
    if isinstance(augment, dict):
        known = {f.name for f in fields(AugmentConfig)}
        augment = AugmentConfig(**{k: v for k, v in augment.items() if k in known})
    return augment if getattr(augment, "enabled", False) else None


def augmentation_layers(augment: Any, *, seed: int = 42):
    """A ``keras.Sequential`` of random layers for 0..255 float images, or None when nothing is on."""
    config = as_augment_config(augment)
    if config is None:
        return None
    import keras

    # float32 whatever the global policy: under mixed precision the model casts, the data must not.
    common = {"dtype": "float32"}
    layers = []
    if config.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed, **common))
    if config.rotation > 0:
        layers.append(keras.layers.RandomRotation(config.rotation, fill_mode="reflect", seed=seed + 1, **common))
    if config.zoom > 0:
        layers.append(keras.layers.RandomZoom(config.zoom, fill_mode="reflect", seed=seed + 2, **common))
    if config.contrast > 0:
        layers.append(keras.layers.RandomContrast(config.contrast, value_range=(0, 255), seed=seed + 3, **common))
    return keras.Sequential(layers, name="kiln_augmentation")
