"""Initializer diagnostics: does the signal survive the depth of a freshly initialised model?

For every layer with a kernel (Dense, Conv2D) this measures, on one fixed batch, the
activation mean and standard deviation, the fraction of dead ReLU units (units that output
zero for every sample of the batch) and the norm of the kernel's gradient, at
initialisation and over the first K optimizer steps. A layer whose gradient is orders of
magnitude below (vanishing) or above (exploding) the others gets a plain sentence.

Uses one `tf.GradientTape` per step; no Keras fit, no callbacks, so it costs a few
forward/backward passes and can run before the person commits to a long training run.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.errors import DataError, check_cancelled
from kiln_lab.engine.events import EventSink, Progress, ignore_events
from kiln_lab.engine.models.recipe import ModelRecipe

DIAGNOSIS_CANCELLED = "The layer diagnosis was cancelled."

# A layer whose gradient norm is this many powers of ten below the strongest layer's is
# called out (He et al. 2015 and Glorot & Bengio 2010 show the stall at a few orders).
ORDERS_OF_MAGNITUDE = 2.0
# Gradient norm relative to the kernel's own norm: below this, an SGD step at a usual rate
# (1e-2) moves the weights by under a millionth of their size, i.e. the layer does not learn.
# Measured on demo:digits (bench/he_init_reproduction.py): He-initialised ReLU MLPs sit near
# 1e-1, a 10-layer Glorot one that trains near 2e-3, 22- and 30-layer Glorot ones that stall
# under SGD at 3e-5 and 1e-6.
RELATIVE_GRADIENT_FLOOR = 1e-4
# Activation spread of the last diagnosed layer against the first: below/above these the
# forward signal has collapsed or blown up through the depth.
SIGNAL_COLLAPSE = 1e-3
SIGNAL_BLOWUP = 1e3
# Gradient norm above this multiple of the kernel's norm: one step of a usual size rewrites the layer.
EXPLODING_RATIO = 10.0
HEALTHY = "No layer's gradient is orders of magnitude off the others: the initialisation looks healthy."


@dataclass
class LayerDiagnosis:
    """One layer's numbers at initialisation (step 0)."""

    name: str
    type: str
    activation: str
    act_mean: float
    act_std: float
    dead_fraction: float | None  # None where the layer is not ReLU-like
    grad_norm: float
    weight_norm: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class InitDiagnostics:
    """Per-layer statistics at init and the gradient norm per layer x step.

    ``grad_norms[i, s]`` is the kernel-gradient norm of ``layers[i]`` before optimizer step
    ``s`` (step 0 = at initialisation). ``flags`` maps a layer name to "vanishing" or
    "exploding"; ``sentence`` says it in plain words (empty when all is well).
    """

    layers: list[LayerDiagnosis]
    grad_norms: np.ndarray  # (layers, steps)
    act_stds: np.ndarray  # (layers, steps)
    losses: list[float]
    flags: dict[str, str] = field(default_factory=dict)
    sentence: str = ""

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def healthy(self) -> bool:
        return not self.flags

    def summary(self) -> str:
        """The sentence to show: what is wrong, or that nothing is."""
        return self.sentence or HEALTHY

    def log10_grad_norms(self) -> np.ndarray:
        """log10 of the gradient norms (a zero gradient shows as -20): what the heatmap paints."""
        return np.log10(np.maximum(self.grad_norms, 1e-20))

    def table(self) -> str:
        """The per-layer table the CLI prints."""
        head = (
            f"{'layer':<22} {'type':<8} {'act mean':>9} {'act std':>9} {'dead':>6} "
            f"{'grad norm':>10} {'grad/w':>9}  flag"
        )
        rows = [head, "-" * len(head)]
        for layer in self.layers:
            dead = "-" if layer.dead_fraction is None else f"{layer.dead_fraction:.0%}"
            ratio = layer.grad_norm / layer.weight_norm if layer.weight_norm > 0 else float("nan")
            rows.append(
                f"{layer.name[:22]:<22} {layer.type[:8]:<8} {layer.act_mean:>9.3g} {layer.act_std:>9.3g} {dead:>6} "
                f"{layer.grad_norm:>10.3g} {ratio:>9.2g}  {self.flags.get(layer.name, '')}"
            )
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [layer.to_dict() for layer in self.layers],
            "grad_norms": self.grad_norms.tolist(),
            "act_stds": self.act_stds.tolist(),
            "losses": self.losses,
            "flags": self.flags,
            "sentence": self.sentence,
        }


def diagnose_recipe(
    recipe: ModelRecipe,
    dataset: Dataset,
    *,
    steps: int = 10,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    sink: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> InitDiagnostics:
    """Build ``recipe`` for ``dataset`` and diagnose it on one training batch over ``steps`` Adam steps.
    Progress goes to ``sink`` per step; a set ``cancel`` raises `Cancelled` between steps."""
    from kiln_lab.engine.models.build import build_model

    if recipe.kind != "scratch":
        raise DataError(
            "Initializer diagnostics are for models trained from scratch; a pretrained backbone is not initialised.",
            hint="Pick 'from scratch' on the Model page, or use --arch/--init.",
        )
    check_cancelled(cancel, DIAGNOSIS_CANCELLED)
    sink(Progress("diagnose", 0, steps + 1, "Building the from-scratch model"))
    built = build_model(recipe, dataset, epochs=1, image_size=image_size)
    x, y = sample_batch(dataset, batch_size, built.image_size, seed=seed)
    return diagnose_model(built.model, x, y, task=dataset.task, steps=steps, learning_rate=learning_rate,
                          sink=sink, cancel=cancel)


def sample_batch(
    dataset: Dataset, batch_size: int, image_size: tuple[int, int] | None, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A fixed, seeded batch from the training split (the same batch for every initializer)."""
    train = np.asarray(dataset.splits.get("train", np.arange(dataset.num_samples)))
    if len(train) == 0:
        raise DataError("The dataset has no training samples to diagnose on.")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(train, size=min(batch_size, len(train)), replace=False))
    x = np.asarray(dataset.loader.read(chosen, image_size), dtype=np.float32)
    return x, np.asarray(dataset.labels[chosen])


def diagnose_model(
    model: Any, x: np.ndarray, y: np.ndarray, *, task: str = "classification", steps: int = 10,
    learning_rate: float = 1e-3, sink: EventSink = ignore_events, cancel: threading.Event | None = None,
) -> InitDiagnostics:
    """Per-layer activation and gradient statistics of ``model`` on the batch ``(x, y)``.

    Trains a copy-free sequence of ``steps`` Adam steps on that one batch (the weights of
    ``model`` change: pass a model built for the purpose).
    """
    import keras
    import tensorflow as tf

    layers = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
    if not layers:
        raise DataError("The model has no Dense or Conv2D layers to diagnose.")
    probe = keras.Model(model.inputs, [layer.output for layer in layers] + [model.outputs[0]])
    loss_fn = (
        keras.losses.SparseCategoricalCrossentropy() if task == "classification" else keras.losses.MeanSquaredError()
    )
    optimizer = keras.optimizers.Adam(learning_rate)
    kernels = [layer.kernel for layer in layers]
    x_t = tf.convert_to_tensor(x)
    y_t = tf.convert_to_tensor(y)
    steps = max(1, int(steps))
    grad_norms = np.zeros((len(layers), steps))
    act_stds = np.zeros((len(layers), steps))
    losses: list[float] = []
    first: list[LayerDiagnosis] = []
    for step in range(steps):
        check_cancelled(cancel, DIAGNOSIS_CANCELLED)
        sink(Progress("diagnose", step + 1, steps + 1, f"Diagnosing the layers: step {step + 1} of {steps}"))
        with tf.GradientTape() as tape:
            outputs = probe(x_t, training=True)
            loss = loss_fn(y_t, outputs[-1])
        grads = tape.gradient(loss, model.trainable_variables)
        by_var = {id(v): g for v, g in zip(model.trainable_variables, grads)}
        losses.append(float(loss))
        for i, (layer, kernel, act) in enumerate(zip(layers, kernels, outputs[:-1])):
            grad = by_var.get(id(kernel))
            grad_norms[i, step] = float(tf.norm(grad)) if grad is not None else 0.0
            values = np.asarray(act, dtype=np.float64)
            act_stds[i, step] = float(values.std())
            if step == 0:
                first.append(_layer_stats(layer, values, grad_norms[i, 0], float(tf.norm(kernel))))
        pairs = [(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None]
        if step < steps - 1:
            optimizer.apply_gradients(pairs)
    flags, sentence = gradient_verdict(first)
    return InitDiagnostics(first, grad_norms, act_stds, losses, flags, sentence)


def _layer_stats(layer: Any, values: np.ndarray, grad_norm: float, weight_norm: float) -> LayerDiagnosis:
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    dead = None
    if activation in ("relu", "relu6"):
        # A unit (a Dense unit, or a Conv2D channel) is dead when it is zero for the whole batch.
        per_unit = values.reshape(-1, values.shape[-1])
        dead = float(np.mean(np.all(per_unit <= 0, axis=0)))
    return LayerDiagnosis(
        name=layer.name,
        type=type(layer).__name__,
        activation=activation,
        act_mean=float(values.mean()),
        act_std=float(values.std()),
        dead_fraction=dead,
        grad_norm=float(grad_norm),
        weight_norm=float(weight_norm),
    )


def gradient_verdict(layers: list[LayerDiagnosis]) -> tuple[dict[str, str], str]:
    """Which layers' gradients vanish or explode, and one plain sentence saying so ("" when fine)."""
    flags: dict[str, str] = {}
    if not layers:
        return flags, ""
    logs = np.array([math.log10(max(layer.grad_norm, 1e-30)) for layer in layers])
    strongest = int(np.argmax(logs))
    ratios = np.array([layer.grad_norm / layer.weight_norm if layer.weight_norm > 0 else 0.0 for layer in layers])
    for layer, value, ratio in zip(layers, logs, ratios):
        if value < logs[strongest] - ORDERS_OF_MAGNITUDE:
            flags[layer.name] = "vanishing"
        elif ratio > EXPLODING_RATIO:
            flags[layer.name] = "exploding"
    # Uniformly tiny gradients hide from the comparison above (every layer is small):
    # judge each gradient against its own weights, and the signal's spread through the depth.
    spread = layers[-2].act_std / layers[0].act_std if len(layers) > 2 and layers[0].act_std > 0 else 1.0
    all_tiny = bool(len(ratios)) and float(np.median(ratios)) < RELATIVE_GRADIENT_FLOOR
    parts: list[str] = []
    vanishing = [name for name, flag in flags.items() if flag == "vanishing"]
    exploding = [name for name, flag in flags.items() if flag == "exploding"]
    if vanishing:
        gap = logs[strongest] - min(logs)
        parts.append(
            f"The gradient of {_names(vanishing)} is up to 10^{gap:.0f} times smaller than that of "
            f"{layers[strongest].name}: those layers will barely learn (vanishing gradients)."
        )
    if exploding:
        parts.append(
            f"The gradient of {_names(exploding)} is up to {max(ratios):.0g} times the size of its weights "
            "(exploding gradients): expect unstable training or NaN losses."
        )
    if all_tiny and not vanishing:
        for layer in layers:
            flags.setdefault(layer.name, "vanishing")
        parts.append(
            f"Every layer's gradient is under a ten-thousandth of its weights (median {float(np.median(ratios)):.1g}): "
            "the network will barely move from its start (vanishing gradients)."
        )
    if spread < SIGNAL_COLLAPSE:
        parts.append(f"The signal shrinks {1 / spread:.1g}-fold from the first layer to the last.")
    elif spread > SIGNAL_BLOWUP:
        parts.append(f"The signal grows {spread:.1g}-fold from the first layer to the last.")
    if not parts:
        return flags, ""
    parts.append("Pick an initializer scaled to the layer size: He for ReLU, Glorot for tanh/sigmoid, LeCun for SELU.")
    return flags, " ".join(parts)


def _names(names: list[str]) -> str:
    if len(names) <= 3:
        return ", ".join(names)
    return f"{len(names)} layers ({names[0]} ... {names[-1]})"
