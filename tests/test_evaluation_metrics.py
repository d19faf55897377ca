"""Known-answer tests for the hand-written metrics behind the Evaluate page (worked out by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from kiln_lab.engine.analysis.evaluation import classification_report, regression_report


def _one_hot(pred: list[int], k: int) -> np.ndarray:
    probs = np.full((len(pred), k), 0.1)
    probs[np.arange(len(pred)), pred] = 0.8
    return probs


def test_classification_metrics_match_a_hand_computed_case() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = [0, 0, 1, 1, 2, 2]
    report = classification_report(y_true, _one_hot(y_pred, 3), np.arange(6), "test", ["a", "b", "c"])
    assert report.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    prf = {p["name"]: (p["precision"], p["recall"], p["f1"]) for p in report.per_class}
    # a: tp 2 of 2 predicted, 3 true; b: 1 of 2 and 2; c: 1 of 2 and 1
    assert prf["a"] == pytest.approx((1, 2 / 3, 0.8))
    assert prf["b"] == pytest.approx((0.5, 0.5, 0.5))
    assert prf["c"] == pytest.approx((0.5, 1, 2 / 3))
    assert [p["support"] for p in report.per_class] == [3, 2, 1]
    assert report.metrics["accuracy"] == pytest.approx(4 / 6)
    assert report.metrics["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert [(m.true, m.predicted) for m in report.misclassified] == [(0, 1), (1, 2)]


def test_a_class_never_seen_or_predicted_does_not_count_in_macro_f1() -> None:
    y_true = np.array([0, 1, 1])
    report = classification_report(y_true, _one_hot([0, 1, 0], 3), np.arange(3), "test", ["a", "b", "c"])
    per_class = {p["name"]: p for p in report.per_class}
    assert per_class["c"] == {"name": "c", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # a: P 1/2 R 1 F1 2/3; b: P 1 R 1/2 F1 2/3 -> macro over the two supported classes
    assert report.metrics["macro_f1"] == pytest.approx(2 / 3)


def test_regression_metrics_match_a_hand_computed_case() -> None:
    report = regression_report(np.array([1.0, 2, 3, 4]), np.array([1.5, 2, 2, 5]), np.arange(4), "test")
    # residuals 0.5, 0, -1, 1: MAE 0.625, RMSE sqrt(2.25 / 4) = 0.75; R^2 = 1 - 2.25 / 5
    assert report.metrics["mae"] == pytest.approx(0.625)
    assert report.metrics["rmse"] == pytest.approx(0.75)
    assert report.metrics["r2"] == pytest.approx(0.55)
    assert report.metrics["samples"] == 4


def test_r2_of_a_constant_target_is_zero_not_a_division_error() -> None:
    report = regression_report(np.array([2.0, 2, 2]), np.array([2.0, 2, 3]), np.arange(3), "val")
    assert report.metrics["r2"] == 0.0
