"""Evaluate a trained model on a dataset split: the numbers behind the Evaluate page.

Classification: confusion matrix (rows = true class), per-class precision / recall / F1,
and the misclassified samples with their confidence. Regression: predictions against the
truth, residuals, MAE / RMSE / R^2.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.numpy_batches import input_batches
from kiln_lab.engine.errors import DataError, check_cancelled
from kiln_lab.engine.events import EventSink, ignore_events
from kiln_lab.engine.models.heads import class_probabilities

EVALUATION_CANCELLED = "Evaluation cancelled."


@dataclass
class Misclassified:
    index: int  # sample index in the dataset
    true: int
    predicted: int
    confidence: float  # probability of the predicted class


@dataclass
class EvaluationReport:
    task: str
    split: str
    class_names: list[str]
    metrics: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray  # class indices, or predicted values for regression
    indices: np.ndarray  # the dataset sample indices evaluated, in order
    probabilities: np.ndarray | None = None
    confusion: np.ndarray | None = None
    per_class: list[dict[str, Any]] = field(default_factory=list)
    misclassified: list[Misclassified] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "split": self.split,
            "metrics": self.metrics,
            "class_names": self.class_names,
            "confusion": None if self.confusion is None else self.confusion.tolist(),
            "per_class": self.per_class,
            "misclassified": [m.__dict__ for m in self.misclassified[:100]],
        }


def predict_split(
    model: Any, dataset: Dataset, split: str, *, image_size: tuple[int, int] | None, batch_size: int = 64,
    sink: EventSink = ignore_events, cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw model outputs for every sample of ``split``, and those samples' indices. Progress per
    batch goes to ``sink``; a set ``cancel`` raises `Cancelled` at the next batch."""
    from kiln_lab.engine.analysis.progress import predict_watch

    indices = dataset.splits.get(split)
    if indices is None or len(indices) == 0:
        raise DataError(f"The dataset has no '{split}' samples to evaluate.", hint="Choose a split that has samples.")
    x = input_batches(dataset.loader, indices, image_size, batch_size)  # tf.data, or NumPy on JAX / PyTorch
    check_cancelled(cancel, EVALUATION_CANCELLED)
    watch = predict_watch(cancel, sink, "evaluate", f"Evaluating on the {split} split", len(indices), batch_size,
                          EVALUATION_CANCELLED)
    outputs = model.predict(x, verbose=0, callbacks=[watch])
    return np.asarray(outputs), indices


def evaluate_model(
    model: Any,
    dataset: Dataset,
    *,
    split: str = "val",
    image_size: tuple[int, int] | None = None,
    batch_size: int = 64,
    sink: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> EvaluationReport:
    if split not in dataset.splits or len(dataset.splits[split]) == 0:
        split = "test" if len(dataset.splits.get("test", [])) else "train"
    outputs, indices = predict_split(model, dataset, split, image_size=image_size, batch_size=batch_size,
                                     sink=sink, cancel=cancel)
    y_true = dataset.labels[indices]
    if not dataset.is_classification:
        return regression_report(y_true.astype(np.float64), outputs.reshape(-1).astype(np.float64), indices, split)
    probs = class_probabilities(outputs)
    return classification_report(y_true.astype(np.int64), probs, indices, split, dataset.class_names)


def classification_report(
    y_true: np.ndarray, probs: np.ndarray, indices: np.ndarray, split: str, class_names: list[str]
) -> EvaluationReport:
    k = len(class_names)
    y_pred = probs.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = []
    for c, name in enumerate(class_names):
        tp = confusion[c, c]
        predicted = confusion[:, c].sum()
        support = confusion[c, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "name": name,
                "precision": float(precision),
                "recall": float(recall),
                "f1": float(f1),
                "support": int(support),
            }
        )
    wrong = np.flatnonzero(y_pred != y_true)
    confidence = probs[np.arange(len(y_pred)), y_pred]
    wrong = wrong[np.argsort(-confidence[wrong])]  # the most confident mistakes first
    misclassified = [
        Misclassified(int(indices[i]), int(y_true[i]), int(y_pred[i]), float(confidence[i])) for i in wrong
    ]
    supported = [p for p in per_class if p["support"] > 0]
    metrics = {
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "macro_f1": float(np.mean([p["f1"] for p in supported])) if supported else 0.0,
        "samples": float(len(y_true)),
    }
    return EvaluationReport(
        task="classification",
        split=split,
        class_names=list(class_names),
        metrics=metrics,
        y_true=y_true,
        y_pred=y_pred,
        indices=indices,
        probabilities=probs,
        confusion=confusion,
        per_class=per_class,
        misclassified=misclassified,
    )


def regression_report(y_true: np.ndarray, y_pred: np.ndarray, indices: np.ndarray, split: str) -> EvaluationReport:
    residuals = y_pred - y_true
    ss_res = float(np.sum(residuals**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    metrics = {
        "mae": float(np.mean(np.abs(residuals))),
        "rmse": float(np.sqrt(np.mean(residuals**2))),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0,
        "samples": float(len(y_true)),
    }
    return EvaluationReport("regression", split, [], metrics, y_true, y_pred, indices)


def predict_top_k(model: Any, inputs: np.ndarray, class_names: list[str], k: int = 3) -> list[list[tuple[str, float]]]:
    """For each input, the ``k`` most likely classes with their probabilities (best first).

    For a regression model each input gets one ``("value", prediction)`` pair.
    """
    outputs = np.asarray(model.predict(inputs, verbose=0))
    if not class_names:
        return [[("value", float(v))] for v in outputs.reshape(-1)]
    probs = class_probabilities(outputs)
    k = min(k, probs.shape[1])
    order = np.argsort(-probs, axis=1)[:, :k]
    return [[(class_names[c], float(row[c])) for c in top] for row, top in zip(probs, order)]
