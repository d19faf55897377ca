"""Catastrophic forgetting, measured: how far a fine-tuned backbone has moved from what it was.

Two measures, both on data fixed before training starts:

- **Feature drift**: linear CKA (Kornblith et al. 2019, "Similarity of Neural Network
  Representations Revisited") between the pretrained backbone's features and the current
  ones on a fixed reference set. 1.0 = the same representation (up to rotation and scale);
  it falls as fine-tuning rewrites the backbone.
- **Source-task retention**: a linear probe fitted once on the *pretrained* features of the
  backbone's own source task, then scored on the *current* features each epoch. It falls
  when the backbone forgets what it was trained for. The shipped demo backbone's source task
  (digits 0-4 of demo:digits) ships with Kiln; for any backbone a person may name an
  "original task" dataset (``model.source_task``).

This module is NumPy only; the Keras callback that runs it each epoch is in
`engine.monitors.forgetting_callback`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.monitors.forgetting_rules import CKA_WARNING, SOURCE_DROP_WARNING, remedy_changes  # noqa: F401

REFERENCE_SIZE = 256
PROBE_FIT_SIZE = 400
PROBE_EVAL_SIZE = 300
DEMO_SOURCE_CLASSES = 5  # the demo backbone was trained on digits 0-4 (resources/backbones/kiln-demo-digits-cnn.md)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two representations of the same n examples (rows): a number in [0, 1].

    Uses the n x n Gram form, so feature maps of any width cost O(n^2 d):
    ``<K_x, K_y>_F / (||K_x||_F ||K_y||_F)`` with ``K = X_c X_c^T`` on column-centred X.
    Invariant to orthogonal transforms and isotropic scaling of either side.
    """
    x = _centred(x)
    y = _centred(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same examples on both sides ({x.shape[0]} vs {y.shape[0]} rows)")
    kx = x @ x.T
    ky = y @ y.T
    denominator = np.sqrt(np.sum(kx * kx) * np.sum(ky * ky))
    if denominator <= 0:
        return 0.0
    return float(np.sum(kx * ky) / denominator)


def _centred(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return flat - flat.mean(axis=0, keepdims=True)


def probe_features(features: np.ndarray) -> np.ndarray:
    """Features as a probe reads them: feature maps averaged over their spatial axes, then flat."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim > 2:
        features = features.mean(axis=tuple(range(1, features.ndim - 1)))
    return features.reshape(len(features), -1)


@dataclass
class LinearProbe:
    """A ridge-regression classifier on standardised features (closed form, no iterations).

    Fitted once on the pretrained features; its scale and weights stay fixed, so a fall in
    its accuracy on current features means the features changed, not the probe.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features + 1, classes)

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, *, ridge: float = 1.0) -> LinearProbe:
        x = probe_features(features)
        mean = x.mean(axis=0)
        scale = x.std(axis=0) + 1e-6
        design = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
        classes = int(labels.max()) + 1
        targets = np.eye(classes)[labels.astype(np.int64)]
        gram = design.T @ design + ridge * np.eye(design.shape[1])
        weights = np.linalg.solve(gram, design.T @ targets)
        return cls(mean, scale, weights)

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = probe_features(features)
        design = np.hstack([(x - self.mean) / self.scale, np.ones((len(x), 1))])
        return (design @ self.weights).argmax(axis=1)

    def accuracy(self, features: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(features) == labels.astype(np.int64)))


@dataclass
class SourceTask:
    """Images (in the run's input format) of the backbone's original task, split for the probe."""

    name: str
    x_fit: np.ndarray
    y_fit: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray


@dataclass
class DriftRecord:
    """What the monitor measured, for run.json and the model card."""

    reference_size: int
    source_task: str | None
    cka: list[float] = field(default_factory=list)  # per epoch
    source_accuracy: list[float] = field(default_factory=list)  # per epoch (empty without a source task)
    source_baseline: float | None = None  # the probe on the pretrained features
    weights: list[str] = field(default_factory=list)  # per-epoch weight files kept for roll-back
    warned_at_epoch: int | None = None  # 1-based, as the warning and the CLI count epochs
    # The epoch (0-based) of each measurement: the monitor measures at most every few epochs
    # (a time budget), so the lists above hold one entry per *measured* epoch. Empty in
    # records from before the budget, where entry i is epoch i.
    epochs: list[int] = field(default_factory=list)
    seconds: float = 0.0  # time spent measuring (baseline included)
    training_seconds: float = 0.0  # time the monitored epochs took, for the share above

    def epoch_of(self, index: int) -> int:
        """The epoch (0-based) of the ``index``-th measurement."""
        return self.epochs[index] if index < len(self.epochs) else index

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": "linear CKA (Kornblith et al. 2019) of the backbone's features against the pretrained "
            "backbone's on a fixed reference set; 1.0 = unchanged",
            "reference_size": self.reference_size,
            "cka": [round(v, 4) for v in self.cka],
            "source_task": self.source_task,
            "source_baseline": None if self.source_baseline is None else round(self.source_baseline, 4),
            "source_accuracy": [round(v, 4) for v in self.source_accuracy],
            "cka_warning_below": CKA_WARNING,
            "source_drop_warning": SOURCE_DROP_WARNING,
            "warned_at_epoch": self.warned_at_epoch,
            "epochs_counted_from": 1,  # warned_at_epoch; records before 2026-12 counted from 0
            "roll_back_weights": self.weights,
            "measured_epochs": [e + 1 for e in self.epochs],  # 1-based, as the warnings name them
            "monitor_seconds": round(self.seconds, 3),
            "training_seconds": round(self.training_seconds, 3),
        }


def reference_images(dataset: Dataset, image_size: tuple[int, int] | None, *, size: int = REFERENCE_SIZE,
                     seed: int = 0) -> np.ndarray:
    """A fixed, seeded sample of the run's own data (validation split when there is one)."""
    pool = dataset.splits.get("val")
    if pool is None or len(pool) == 0:
        pool = dataset.splits.get("train", np.arange(dataset.num_samples))
    pool = np.asarray(pool)
    chosen = np.sort(np.random.default_rng(seed).choice(pool, size=min(size, len(pool)), replace=False))
    return np.asarray(dataset.loader.read(chosen, image_size), dtype=np.float32)


def source_task_for(
    backbone_info: dict[str, Any], source: str | None, image_size: tuple[int, int] | None, channels: int | None,
) -> SourceTask | None:
    """The source task to probe: the user's ``source`` dataset, else the demo backbone's own (digits 0-4).

    Returns None for a backbone whose source task is not known (CKA is still measured).
    """
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.data.config import DataConfig

    if source:
        data = load_dataset(DataConfig(source=source))
        return _split_task(data, source, data.labels >= 0, image_size, channels)
    if backbone_info.get("source") == "demo":
        data = load_dataset(DataConfig(source="demo:digits"))  # the default split the backbone was made with
        return _split_task(data, "demo:digits 0-4 (the demo backbone's source task)",
                           data.labels < DEMO_SOURCE_CLASSES, image_size, channels)
    return None


def _split_task(data: Dataset, name: str, keep: np.ndarray, image_size: Any, channels: int | None) -> SourceTask | None:
    if not data.is_classification:
        return None
    rng = np.random.default_rng(0)
    fit = np.asarray(data.splits.get("train", []))
    held = np.asarray(data.splits.get("val", []))
    fit, held = fit[keep[fit]], held[keep[held]] if len(held) else held
    if len(held) == 0:  # no validation split: hold out a third of the training samples
        rng.shuffle(fit)
        fit, held = fit[len(fit) // 3:], fit[: len(fit) // 3]
    fit = np.sort(rng.permutation(fit)[:PROBE_FIT_SIZE])
    held = np.sort(rng.permutation(held)[:PROBE_EVAL_SIZE])
    if len(fit) < 2 or len(held) < 1:
        return None
    return SourceTask(
        name=name,
        x_fit=_channels(np.asarray(data.loader.read(fit, image_size), np.float32), channels),
        y_fit=data.labels[fit].astype(np.int64),
        x_eval=_channels(np.asarray(data.loader.read(held, image_size), np.float32), channels),
        y_eval=data.labels[held].astype(np.int64),
    )


def _channels(images: np.ndarray, channels: int | None) -> np.ndarray:
    """Grey to colour by repetition, colour to grey by the mean: the model's input has ``channels``."""
    if channels is None or images.ndim != 4 or images.shape[-1] == channels:
        return images
    if images.shape[-1] == 1:
        return np.repeat(images, channels, axis=-1)
    grey = images.mean(axis=-1, keepdims=True)
    return grey if channels == 1 else np.repeat(grey, channels, axis=-1)


def drift_warning(record: DriftRecord, epoch: int, *, backbone_lr_mult: float, l2sp: float, freeze: str) -> str | None:
    """A warning sentence with remedies once drift passes the thresholds; None while it has not."""
    cka = record.cka[-1]
    source_now = record.source_accuracy[-1] if record.source_accuracy else None
    dropped = (
        record.source_baseline is not None and source_now is not None
        and record.source_baseline - source_now > SOURCE_DROP_WARNING
    )
    if cka >= CKA_WARNING and not dropped:
        return None
    facts = f"the backbone's features drifted to CKA {cka:.2f} against the pretrained ones (1.0 = unchanged)"
    if source_now is not None and record.source_baseline is not None:
        facts += f"; its source-task accuracy went from {record.source_baseline:.0%} to {source_now:.0%}"
    remedies = [
        f"lower the backbone learning-rate multiplier (now {backbone_lr_mult:g}; "
        f"try {max(backbone_lr_mult / 10, 0.01):g})",
        f"freeze more of the backbone (now '{freeze}'; e.g. top:2 or all)",
        "turn on L2-SP (e.g. 0.01) to pull it toward its pretrained weights" if l2sp <= 0
        else f"raise L2-SP, the pull toward the pretrained weights (now {l2sp:g})",
    ]
    best = last_epoch_within_thresholds(record, epoch)
    if best is not None:
        remedies.append(f"roll back to epoch {record.epoch_of(best) + 1}'s weights ({record.weights[best]}, "
                        f"CKA {record.cka[best]:.2f})")
    else:
        remedies.append("or start again from the pretrained weights with one of these (no earlier epoch is "
                        "below the thresholds to roll back to)")
    return (f"Forgetting after epoch {epoch + 1}: {facts}. To keep what it knew: " + "; ".join(remedies) + ".")


def last_epoch_within_thresholds(record: DriftRecord, epoch: int) -> int | None:
    """The latest measurement before ``epoch`` with kept weights that was still within both
    thresholds (to roll back to), as an index into the record's lists (`DriftRecord.epoch_of`)."""
    for index in range(min(len(record.weights), len(record.cka)) - 1, -1, -1):
        if record.epoch_of(index) >= epoch:
            continue
        source_ok = (
            record.source_baseline is None or index >= len(record.source_accuracy)
            or record.source_baseline - record.source_accuracy[index] <= SOURCE_DROP_WARNING
        )
        if record.cka[index] >= CKA_WARNING and source_ok and record.weights[index]:
            return index
    return None
