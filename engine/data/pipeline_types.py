"""`Pipelines`: the batched train/val/test splits `make_pipelines` returns, on any Keras backend.

Below both makers: `pipeline` (tf.data, TensorFlow) and `numpy_batches` (NumPy batches for
JAX and PyTorch) each fill one in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Pipelines:
    """Batched ``(x, y)`` splits (val and test may be None) and what it took to make them."""

    train: Any  # tf.data.Dataset of (x, y) batches
    val: Any | None
    test: Any | None
    steps_per_epoch: int
    image_size: tuple[int, int] | None
    cache: str = "none"  # where decoded samples are kept: memory | disk | none
    estimated_bytes: int = 0  # decoded size of all splits as cached (uint8 for image files, else float32)
    # Endless batches for ``fit(..., steps_per_epoch=steps_per_epoch)``: the first epoch in the
    # cache's fill order (no shuffle buffer to fill first), later ones reshuffled from the cache.
    train_stream: Any | None = None
