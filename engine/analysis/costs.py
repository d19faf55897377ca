"""What a training run cost: an estimate of its FLOPs and its energy.

Forward FLOPs are counted from the layer shapes of Dense, Conv2D, DepthwiseConv2D and
SeparableConv2D layers (a multiply-add counts as 2 FLOPs), also inside nested models such
as a backbone. Other layers (pooling, normalisation, activations, SavedModel layers whose
graph is opaque) count as 0, so the figure is an estimate, a lower bound on the real work.
Training FLOPs follow the usual rule of thumb: forward x 3 (forward + backward) x samples seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_DEVICE_WATTS = 65.0  # a typical desktop CPU package under load; the report states it


def forward_flops(model: Any) -> int:
    """Estimated FLOPs of one sample's forward pass through ``model`` (a built Keras model)."""
    total = 0
    for layer in _layers(model):
        total += _layer_flops(layer)
    return int(total)


def training_flops(forward: int, samples_seen: int) -> float:
    """Forward FLOPs x 3 x samples seen: the usual estimate of a training run's compute."""
    return float(forward) * 3.0 * float(samples_seen)


def energy_joules(seconds: float, watts: float = DEFAULT_DEVICE_WATTS) -> float:
    """Energy at a stated, constant device power: an estimate, not a measurement."""
    return float(seconds) * float(watts)


def _layers(model: Any) -> list[Any]:
    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        if getattr(layer, "layers", None):  # a nested model (a backbone): count its layers
            found.extend(_layers(layer))
        else:
            found.append(layer)
    return found


def _shape(tensor: Any) -> tuple[int, ...] | None:
    try:
        shape = tuple(tensor.shape)
    except (AttributeError, ValueError):
        return None
    return tuple(int(d) if d is not None else 1 for d in shape[1:])


def _layer_flops(layer: Any) -> float:
    kind = type(layer).__name__
    if kind not in ("Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        return 0.0
    try:
        inputs, outputs = _shape(layer.input), _shape(layer.output)
    except (AttributeError, ValueError):  # a shared layer has no single input; skip it
        return 0.0
    if not inputs or not outputs:
        return 0.0
    if kind == "Dense":
        positions = float(np.prod(outputs[:-1])) if len(outputs) > 1 else 1.0
        return 2.0 * inputs[-1] * outputs[-1] * positions
    kh, kw = (int(k) for k in layer.kernel_size)
    spatial = float(np.prod(outputs[:-1]))
    cin = inputs[-1]
    if kind == "Conv2D":
        groups = int(getattr(layer, "groups", 1) or 1)
        return 2.0 * kh * kw * (cin / groups) * outputs[-1] * spatial
    multiplier = int(getattr(layer, "depth_multiplier", 1) or 1)
    depthwise = 2.0 * kh * kw * cin * multiplier * spatial
    if kind == "DepthwiseConv2D":
        return depthwise
    return depthwise + 2.0 * cin * multiplier * outputs[-1] * spatial  # separable: + the 1x1 pointwise
