"""One table for a run: the same metrics on its training, validation and test splits, side by side.

Create ML shows training, validation and test scores in one table; so does the Evaluate page.
Each split is scored with the model's own compiled loss and metrics (``model.evaluate``, the
numbers training reported) plus the task's other metrics from its predictions (classification:
macro F1; regression: RMSE and R², beside the compiled MAE). Augmentation and dropout are off,
so the training column is the model on its training samples as they are, not as training saw
them. A large gap between training and validation is said in a sentence (overfitting).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln_lab.engine.analysis.evaluation import classification_report, predict_split, regression_report
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.models.heads import class_probabilities
from kiln_lab.engine.runtime import end_of_data_expected

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "Training", "val": "Validation", "test": "Test"}
# A gap this large between training and validation reads as overfitting.
ACCURACY_GAP = 0.10  # classification: accuracy points (0.10 = 10 percentage points)
RMSE_RATIO = 1.5  # regression: validation RMSE this many times the training RMSE


def _pairs(dataset: Dataset, indices: np.ndarray, image_size: tuple[int, int] | None, batch_size: int) -> Any:
    """``(x, y)`` batches of ``indices`` in order, unaugmented, for ``model.evaluate``."""
    from kiln_lab.engine.runtime import tensorflow_backend

    labels = dataset.labels[indices].astype(np.int64 if dataset.is_classification else np.float32)
    if tensorflow_backend():
        import tensorflow as tf

        x = dataset.loader.tf_dataset(indices, image_size)
        return tf.data.Dataset.zip((x, tf.data.Dataset.from_tensor_slices(labels))).batch(batch_size)
    import keras

    loader = dataset.loader

    class Pairs(keras.utils.PyDataset):
        def __len__(self) -> int:
            return int(np.ceil(len(indices) / batch_size))

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            part = slice(index * batch_size, (index + 1) * batch_size)
            return np.asarray(loader.read(indices[part], image_size), dtype=np.float32), labels[part]

    return Pairs()


def score_split(
    model: Any, dataset: Dataset, split: str, *, image_size: tuple[int, int] | None, batch_size: int = 64
) -> dict[str, float]:
    """The model's compiled loss and metrics on ``split`` (``model.evaluate``) and the task's others."""
    indices = np.asarray(dataset.splits[split], dtype=np.int64)
    with end_of_data_expected():
        compiled = model.evaluate(_pairs(dataset, indices, image_size, batch_size), verbose=0, return_dict=True)
    values = {str(k): float(v) for k, v in compiled.items()}
    outputs, order = predict_split(model, dataset, split, image_size=image_size, batch_size=batch_size)
    truth = dataset.labels[order]
    if dataset.is_classification:
        report = classification_report(
            truth.astype(np.int64), class_probabilities(outputs), order, split, dataset.class_names
        )
        values.setdefault("accuracy", report.metrics["accuracy"])
        values["macro_f1"] = report.metrics["macro_f1"]
    else:
        report = regression_report(truth.astype(np.float64), outputs.reshape(-1).astype(np.float64), order, split)
        values.setdefault("mae", report.metrics["mae"])
        values["rmse"] = report.metrics["rmse"]
        values["r2"] = report.metrics["r2"]
    values["samples"] = float(len(indices))
    return values


def metric_order(task: str, present: set[str]) -> list[str]:
    """The table's rows: loss first, then the task's usual metrics, then any other compiled ones."""
    usual = ["loss", "accuracy", "macro_f1"] if task == "classification" else ["loss", "mae", "rmse", "r2"]
    rows = [k for k in usual if k in present]
    rows += sorted(k for k in present if k not in rows and k != "samples")
    return rows


def overfitting_sentence(task: str, columns: dict[str, dict[str, float]]) -> str | None:
    """A plain sentence when training and validation scores are far apart; None otherwise."""
    train, val = columns.get("train"), columns.get("val")
    if not train or not val:
        return None
    advice = "More data, augmentation, dropout or fewer epochs usually narrow the gap."
    if task == "classification" and "accuracy" in train and "accuracy" in val:
        gap = train["accuracy"] - val["accuracy"]
        if gap > ACCURACY_GAP:
            return (
                f"Overfitting: the model gets {train['accuracy']:.1%} of its training samples right but only "
                f"{val['accuracy']:.1%} of the validation samples, so it has partly memorised its training data. "
                + advice
            )
    elif task == "regression" and train.get("rmse") and "rmse" in val:
        ratio = val["rmse"] / train["rmse"]
        if ratio > RMSE_RATIO:
            return (
                f"Overfitting: the model's typical error (RMSE) is {ratio:.1f} times larger on validation "
                f"({val['rmse']:.4g}) than on its training samples ({train['rmse']:.4g}). " + advice
            )
    return None


def split_metrics(
    model: Any, dataset: Dataset, *, image_size: tuple[int, int] | None, batch_size: int = 64
) -> dict[str, Any]:
    """Every split that has samples, scored alike. Plain values:

    ``task``; ``splits``: the splits scored, in order (train, val, test); ``names``: each split's
    column title; ``rows``: the metric keys, in table order; ``columns``: split -> metric -> value
    (``samples`` too); ``missing``: the splits the data has no samples in; ``gap``: the overfitting
    sentence or None.
    """
    columns: dict[str, dict[str, float]] = {}
    for split in SPLITS:
        if len(dataset.splits.get(split, ())) > 0:
            columns[split] = score_split(model, dataset, split, image_size=image_size, batch_size=batch_size)
    present = set().union(*(set(c) for c in columns.values())) if columns else set()
    return {
        "task": dataset.task,
        "splits": list(columns),
        "names": {s: SPLIT_NAMES[s] for s in SPLITS},
        "rows": metric_order(dataset.task, present),
        "columns": columns,
        "missing": [s for s in SPLITS if s not in columns],
        "gap": overfitting_sentence(dataset.task, columns),
    }
