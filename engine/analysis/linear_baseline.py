"""A linear baseline for tables: what a scaled logistic regression (classes) or ridge
regression (a number) scores on the same split, so a table's from-scratch network is never
reported without the simple model it has to beat.

NumPy only (no scikit-learn): features standardised with the training rows' statistics, an
intercept, an L2 strength picked on the validation rows from a fixed grid, then scored per
sample on the evaluation split (1/0 correct, or the absolute error in the target's units) so
that it can be compared with a paired bootstrap like any run of a comparison.

- Ridge regression: closed form.
- Multinomial logistic regression: full-batch gradient descent with Nesterov momentum and
  the step 1/L, where L bounds the loss's curvature (Böhning 1992: the softmax cross-entropy's
  Hessian is at most 1/2 X^T X / n, plus the L2 strength). A few hundred steps converge on
  standardised tables of the size Kiln trains on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import Dataset

STRENGTHS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
LOGISTIC_STEPS = 400


@dataclass
class BaselineResult:
    name: str  # "logistic regression" | "ridge regression"
    score_name: str  # accuracy | mae
    score: float  # mean over the evaluation samples
    per_sample: np.ndarray  # 1/0 correct, or the absolute error, per evaluation sample
    strength: float  # the L2 strength the validation rows picked
    r2: float | None = None  # regression: R^2 on the evaluation samples

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score_name": self.score_name, "score": self.score,
                "strength": self.strength, "r2": self.r2, "per_sample": self.per_sample.tolist()}


def linear_baseline(dataset: Dataset, *, split: str = "test") -> BaselineResult:
    """Fit on the training split, pick the strength on validation (a fifth of training when
    there is none), score per sample on ``split``."""
    train = np.asarray(dataset.splits["train"])
    val = np.asarray(dataset.splits.get("val", np.array([], dtype=np.int64)))
    if len(val) == 0:  # hold out a fifth of the training rows to pick the strength
        order = np.random.default_rng(0).permutation(train)
        cut = max(1, len(order) // 5)
        val, train = order[:cut], order[cut:]
    evaluate = np.asarray(dataset.splits[split])
    x_train, x_val, x_eval = (_rows(dataset, idx) for idx in (train, val, evaluate))
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    x_train, x_val, x_eval = ((x - mean) / std for x in (x_train, x_val, x_eval))
    if dataset.is_classification:
        classes = int(dataset.num_classes)
        y_train, y_val, y_eval = (dataset.labels[idx].astype(np.int64) for idx in (train, val, evaluate))
        best = max(STRENGTHS, key=lambda s: (_logistic(x_train, y_train, classes, s)(x_val) == y_val).mean())
        hits = (_logistic(x_train, y_train, classes, best)(x_eval) == y_eval).astype(np.float64)
        return BaselineResult("logistic regression", "accuracy", float(hits.mean()), hits, best)
    y_train, y_val, y_eval = (dataset.labels[idx].astype(np.float64) for idx in (train, val, evaluate))
    best = min(STRENGTHS, key=lambda s: np.abs(_ridge(x_train, y_train, s)(x_val) - y_val).mean())
    predicted = _ridge(x_train, y_train, best)(x_eval)
    errors = np.abs(predicted - y_eval)
    total = float(((y_eval - y_eval.mean()) ** 2).sum())
    r2 = 1.0 - float(((predicted - y_eval) ** 2).sum()) / total if total > 0 else None
    return BaselineResult("ridge regression", "mae", float(errors.mean()), errors, best, r2)


def _rows(dataset: Dataset, indices: np.ndarray) -> np.ndarray:
    x = np.asarray(dataset.loader.read(indices, None), dtype=np.float64)
    return x.reshape(len(indices), -1)


def _with_intercept(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def _ridge(x: np.ndarray, y: np.ndarray, strength: float) -> Any:
    design = _with_intercept(x)
    penalty = strength * len(x) * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    weights = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    return lambda rows: _with_intercept(rows) @ weights


def _logistic(x: np.ndarray, y: np.ndarray, classes: int, strength: float) -> Any:
    design = _with_intercept(x)
    n, d = design.shape
    targets = np.eye(classes)[y]
    curvature = 0.5 * float(np.linalg.eigvalsh(design.T @ design / n).max()) + strength
    step = 1.0 / curvature
    shrink = np.ones((d, 1))
    shrink[-1] = 0.0  # the intercept is not shrunk
    weights = np.zeros((d, classes))
    ahead = weights.copy()
    for t in range(1, LOGISTIC_STEPS + 1):
        logits = design @ ahead
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        gradient = design.T @ (probs - targets) / n + strength * shrink * ahead
        updated = ahead - step * gradient
        ahead = updated + (t - 1) / (t + 2) * (updated - weights)
        weights = updated
    return lambda rows: (_with_intercept(rows) @ weights).argmax(axis=1)
