"""Cheap measurements for the advisor: inputs as they are and as a backbone sees them, frozen
features, and a linear probe on each.

The probe is ridge regression on standardised inputs (to one-hot targets for classes: a
linear classifier), with its strength picked on the validation samples from a fixed grid.
It returns a per-sample score on the validation samples (1/0 correct, or the absolute
error) so that two probes can be compared with a paired bootstrap interval.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.errors import check_cancelled

ADVICE_CANCELLED = "The advisor's check was cancelled."

PROBE_SIDE = 24  # raw image probes read images at most this many pixels on a side
RIDGE_GRID = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


@dataclass
class ProbeResult:
    name: str
    score: float  # mean over the validation samples: accuracy, or MAE
    per_sample: np.ndarray  # 1/0 correct, or absolute error, per validation sample
    dims: int


def probe_indices(dataset: Dataset, max_train: int, max_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of the training and validation splits (the validation falls back to test)."""
    rng = np.random.default_rng(seed)
    train = dataset.splits["train"]
    val = dataset.splits.get("val")
    if val is None or len(val) == 0:
        val = dataset.splits.get("test", np.array([], dtype=np.int64))
    if len(val) == 0:  # no held-out split: hold out a fifth of the training samples
        shuffled = rng.permutation(train)
        cut = max(1, len(shuffled) // 5)
        val, train = shuffled[:cut], shuffled[cut:]

    def pick(idx: np.ndarray, n: int) -> np.ndarray:
        return np.sort(rng.choice(idx, size=n, replace=False)) if len(idx) > n else np.sort(idx)

    return pick(train, max_train), pick(val, max_val)


def probe_size(dataset: Dataset) -> tuple[int, int] | None:
    size = dataset.image_size
    if size is None:
        return None
    scale = min(1.0, PROBE_SIDE / max(size))
    return max(1, int(round(size[0] * scale))), max(1, int(round(size[1] * scale)))


def raw_inputs(dataset: Dataset, indices: np.ndarray) -> np.ndarray:
    """Inputs as they are (images at the probe size), one flat row per sample."""
    x = dataset.loader.read(indices, probe_size(dataset))
    return np.asarray(x, dtype=np.float64).reshape(len(indices), -1)


def as_backbone_sees(
    dataset: Dataset, indices: np.ndarray, channels: int | None, input_size: tuple[int, int] | None
) -> np.ndarray:
    """Images as a backbone receives them (its channels, its size), brought back to the probe size.

    Colour -> one channel uses the same luminance weights as the model's ChannelAdapter, so
    this measures exactly what a grayscale backbone discards.
    """
    from kiln_lab.engine.data.loader import resize_batch

    x = np.asarray(dataset.loader.read(indices, tuple(input_size) if input_size else None), dtype=np.float32)
    have = x.shape[-1]
    if channels == 1 and have >= 3:
        x = (x[..., :3] * np.array([0.299, 0.587, 0.114], dtype=np.float32)).sum(axis=-1, keepdims=True)
    elif channels == 1 and have == 2:
        x = x.mean(axis=-1, keepdims=True)
    x = np.asarray(resize_batch(x, probe_size(dataset)), dtype=np.float64)
    return x.reshape(len(indices), -1)


def backbone_features(
    name: str, dataset: Dataset, index_sets: list[np.ndarray], *, batch_size: int = 64, cut_layer: str | None = None,
    cancel: threading.Event | None = None,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The backbone's frozen, pooled features (what its head would see) for each index set, and its info.
    A set ``cancel`` raises `Cancelled` at the next batch."""
    import keras

    from kiln_lab.engine.models.build import build_model
    from kiln_lab.engine.models.recipe import ModelRecipe

    recipe = ModelRecipe(kind="finetune", backbone=name, head_dropout=0.0, cut_layer=cut_layer)
    built = build_model(recipe, dataset, epochs=1)
    model = built.model
    # With no hidden layer and no dropout, the output layer's input is the pooled features.
    extractor = keras.Model(model.inputs, model.get_layer("head_output").input)
    results = []
    for indices in index_sets:
        rows = []
        for start in range(0, len(indices), batch_size):
            check_cancelled(cancel, ADVICE_CANCELLED)
            x = dataset.loader.read(indices[start : start + batch_size], built.image_size)
            rows.append(np.asarray(extractor.predict_on_batch(np.asarray(x, dtype=np.float32))))
        results.append(np.concatenate(rows).reshape(len(indices), -1).astype(np.float64))
    return results, dict(built.info["backbone"])


def linear_probe(
    name: str, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *, classes: int
) -> ProbeResult:
    """Ridge probe fitted on the training rows, scored per validation sample (best strength of the grid)."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    keep = std > 1e-8
    a = (x_train[:, keep] - mean[keep]) / std[keep]
    b = (x_val[:, keep] - mean[keep]) / std[keep]
    if classes > 0:
        targets = np.eye(classes)[y_train.astype(np.int64)]
    else:
        targets = y_train.astype(np.float64).reshape(-1, 1)
    offset = targets.mean(axis=0)
    targets = targets - offset
    n, d = a.shape
    best: np.ndarray | None = None
    best_score = np.inf if classes == 0 else -np.inf
    # The dual form costs N^3 instead of D^3: whichever is smaller.
    gram = a @ a.T if d > n else a.T @ a
    for strength in RIDGE_GRID:
        lam = strength * max(1.0, d / 100.0)
        if d > n:
            weights = a.T @ np.linalg.solve(gram + lam * np.eye(n), targets)
        else:
            weights = np.linalg.solve(gram + lam * np.eye(d), a.T @ targets)
        predicted = b @ weights + offset
        if classes > 0:
            per_sample = (predicted.argmax(axis=1) == y_val.astype(np.int64)).astype(np.float64)
            better = per_sample.mean() > best_score
        else:
            per_sample = np.abs(predicted[:, 0] - y_val.astype(np.float64))
            better = per_sample.mean() < best_score
        if better:
            best, best_score = per_sample, float(per_sample.mean())
    assert best is not None
    return ProbeResult(name, best_score, best, int(d))


REFERENCE_SIDE = 32  # the from-scratch reference reads images at most this many pixels on a side
REFERENCE_STEPS = 150  # optimizer steps of the reference CNN: a short budget, seconds on a CPU
REFERENCE_SECONDS = 8.0  # and at most this long, whatever the machine's load
REFERENCE_BATCH = 32


def reference_size(dataset: Dataset) -> tuple[int, int] | None:
    size = dataset.image_size
    if size is None:
        return None
    scale = min(1.0, REFERENCE_SIDE / max(size))
    return max(1, int(round(size[0] * scale))), max(1, int(round(size[1] * scale)))


def scratch_reference(
    dataset: Dataset, train_idx: np.ndarray, val_idx: np.ndarray, *, classes: int, seed: int,
    steps: int = REFERENCE_STEPS, seconds: float = REFERENCE_SECONDS, cancel: threading.Event | None = None,
) -> ProbeResult:
    """A small CNN trained from scratch for a short budget, scored per validation sample.

    A linear probe on raw pixels is a weak stand-in for training from scratch: it cannot
    separate classes that differ in texture or orientation (the same mean image for every
    class), where a small CNN learns them at once. This is the from-scratch side the
    backbone's probe is measured against. Deterministic for a seed: seeded initialisers and
    a seeded shuffle, no global random state touched.
    """
    import time

    import keras

    size = reference_size(dataset)
    x_train = np.asarray(dataset.loader.read(train_idx, size), dtype=np.float32)
    x_val = np.asarray(dataset.loader.read(val_idx, size), dtype=np.float32)
    if x_train.ndim == 3:
        x_train, x_val = x_train[..., None], x_val[..., None]
    mean, std = float(x_train.mean()), float(x_train.std()) or 1.0
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    if classes > 0:
        targets = y_train = dataset.labels[train_idx].astype(np.int64)
    else:
        y_train = dataset.labels[train_idx].astype(np.float64)
        y_mean, y_std = float(y_train.mean()), float(y_train.std()) or 1.0
        targets = ((y_train - y_mean) / y_std).astype(np.float32)
    init = keras.initializers.GlorotUniform
    side = min(x_train.shape[1], x_train.shape[2])
    layers: list[Any] = [keras.Input(x_train.shape[1:])]
    for n, filters in enumerate((16, 32)):
        layers.append(keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                          kernel_initializer=init(seed=seed + n)))
        if side >= 4:  # pool while there is something left to pool
            layers.append(keras.layers.MaxPooling2D(2))
            side //= 2
    layers += [keras.layers.Flatten(), keras.layers.Dense(max(classes, 1), kernel_initializer=init(seed=seed + 9))]
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) if classes else "mse",
    )
    # A seeded order of batches for the whole budget, fed as one pass (no global seed needed).
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(train_idx))
                            for _ in range(-(-steps * REFERENCE_BATCH // max(1, len(train_idx))))])
    order = order[: steps * REFERENCE_BATCH]
    started = time.perf_counter()

    class Deadline(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            check_cancelled(cancel, ADVICE_CANCELLED)  # raised out of fit: the reference stops now
            if time.perf_counter() - started > seconds:
                self.model.stop_training = True

    model.fit(x_train[order], targets[order], batch_size=REFERENCE_BATCH, epochs=1, shuffle=False, verbose=0,
              callbacks=[Deadline()])
    outputs = np.asarray(model.predict(x_val, batch_size=256, verbose=0))
    y_val = dataset.labels[val_idx]
    if classes > 0:
        per_sample = (outputs.argmax(axis=1) == y_val.astype(np.int64)).astype(np.float64)
    else:
        per_sample = np.abs(outputs[:, 0] * y_std + y_mean - y_val.astype(np.float64))
    return ProbeResult("a small CNN from scratch", float(per_sample.mean()), per_sample, int(model.count_params()))
