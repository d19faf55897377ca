"""Label arrays -> task, per-sample labels and class names (shared by arrays, HDF5 and demos)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiln_lab.engine.data.dataset import CLASSIFICATION, REGRESSION
from kiln_lab.engine.data.files import printable
from kiln_lab.engine.errors import DataError


@dataclass
class Labels:
    task: str
    values: np.ndarray  # int64 class index or float32 target
    class_names: list[str]
    note: str | None = None  # a sentence for Dataset.problems, when something was interpreted


def interpret_labels(y: np.ndarray, *, what: str = "The labels", min_classes: int = 2) -> Labels:
    """Integers -> classes, strings -> class names, one-hot rows -> argmax, floats -> regression.

    Raises `DataError` for labels that cannot be used (missing values, several targets per
    sample, fewer than ``min_classes`` classes: 1 suits evaluating a trained model).
    """
    y = np.asarray(y)
    note = None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if not _is_one_hot(y):
            raise DataError(
                f"{what} have {y.shape[1]} values per sample, and Kiln predicts one target per sample.",
                hint="Give one class or value per sample, or one-hot rows (a single 1 per row).",
            )
        note = f"{what} are one-hot rows; each sample's class is the column holding the 1."
        y = np.argmax(y, axis=1)
    if y.ndim != 1:
        raise DataError(f"{what} have shape {y.shape}; Kiln needs one label per sample.")
    if y.dtype.kind in "SUO":
        return _from_strings(y, what, min_classes)
    if y.dtype.kind == "b":
        return _classes(y.astype(np.int64), what, min_classes, names=["False", "True"], note=note, keep_codes=True)
    if y.dtype.kind in "iu":
        return _classes(y.astype(np.int64), what, min_classes, note=note)
    if y.dtype.kind == "f":
        values = y.astype(np.float32)
        missing = int(np.count_nonzero(~np.isfinite(values)))
        if missing:
            raise DataError(
                f"{what} contain {missing} missing or infinite value(s).",
                hint="Remove those samples or fill in their targets.",
            )
        if min_classes > 1 and np.all(values == values[0]):
            raise DataError(f"{what} are all the same value ({values[0]:g}), so there is nothing to learn.")
        return Labels(REGRESSION, values, [], note)
    raise DataError(f"{what} have data type {y.dtype}, which Kiln cannot use as classes or targets.")


def _is_one_hot(y: np.ndarray) -> bool:
    if y.dtype.kind not in "iufb" or y.shape[1] < 2:
        return False
    values = y.astype(np.float64)
    return bool(np.all((values == 0) | (values == 1)) and np.all(values.sum(axis=1) == 1))


def _from_strings(y: np.ndarray, what: str, min_classes: int) -> Labels:
    text = np.array([_as_text(v) for v in y], dtype=object)
    missing = int(sum(1 for v in text if v == ""))
    if missing:
        raise DataError(f"{what} contain {missing} empty value(s).", hint="Give every sample a class name.")
    names = sorted(set(text.tolist()))
    lookup = {name: i for i, name in enumerate(names)}
    codes = np.fromiter((lookup[v] for v in text), dtype=np.int64, count=len(text))
    return _classes(codes, what, min_classes, names=names, keep_codes=True)


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()


def _classes(
    codes: np.ndarray,
    what: str,
    min_classes: int,
    *,
    names: list[str] | None = None,
    note: str | None = None,
    keep_codes: bool = False,
) -> Labels:
    if keep_codes and names is not None:
        values, class_names = codes, names
        present = np.unique(codes)
    else:
        present, values = np.unique(codes, return_inverse=True)
        class_names = [str(v) for v in present]
    if len(present) < min_classes:
        only = class_names[int(present[0])] if keep_codes and len(present) else (class_names or ["?"])[0]
        raise DataError(
            f"{what} hold one class only ('{printable(only)}'); a classifier needs at least two.",
            hint="Add samples of another class.",
        )
    return Labels(CLASSIFICATION, np.asarray(values, dtype=np.int64).reshape(-1), list(class_names), note)


def align_classes(values: np.ndarray, class_names: list[str], trained_names: list[str]) -> np.ndarray:
    """Re-number class indices to a trained model's class order (evaluating on new data).

    Raises `DataError` when the data holds a class the model never saw.
    """
    unknown = [name for name in class_names if name not in trained_names]
    if unknown:
        raise DataError(
            f"The data has classes the model was not trained on: {printable(', '.join(unknown[:5]))}.",
            hint=f"The model knows: {printable(', '.join(trained_names[:10]))}.",
        )
    remap = np.array([trained_names.index(name) for name in class_names], dtype=np.int64)
    return remap[values] if len(remap) else values


def target_stats(values: np.ndarray, train: np.ndarray, task: str) -> dict[str, float]:
    """Mean and spread of a regression target over the training rows (a model may start from them)."""
    if task != REGRESSION or len(train) == 0:
        return {}
    sample = np.asarray(values, dtype=np.float64)[train]
    return {"target_mean": float(sample.mean()), "target_std": float(sample.std()) or 1.0}
