"""Risk monitors: overfitting and small data produce a sentence at the right moment, and only then."""

from __future__ import annotations

import numpy as np

from kiln_lab.engine.monitors.overfitting import OverfittingWatch, small_data_warning


def test_overfitting_is_flagged_once_after_patience() -> None:
    watch = OverfittingWatch(patience=3)
    history = [(1.0, 1.0), (0.8, 0.9), (0.6, 0.95), (0.5, 1.0), (0.4, 1.1), (0.3, 1.2)]
    messages = [watch.update(epoch, {"loss": a, "val_loss": b}) for epoch, (a, b) in enumerate(history)]
    assert messages[:4] == [None] * 4
    assert messages[4] is not None and "since epoch 2" in messages[4]
    assert messages[5] is None  # said once


def test_no_flag_when_both_losses_rise_or_val_improves() -> None:
    watch = OverfittingWatch(patience=2)
    for epoch, (a, b) in enumerate([(1.0, 1.0), (1.1, 1.1), (1.2, 1.2), (1.3, 1.3)]):
        assert watch.update(epoch, {"loss": a, "val_loss": b}) is None  # diverging, not overfitting
    watch = OverfittingWatch(patience=2)
    for epoch, v in enumerate([1.0, 0.9, 0.8, 0.7]):
        assert watch.update(epoch, {"loss": v, "val_loss": v}) is None


def test_small_data_warning_only_for_scratch_on_few_samples() -> None:
    from kiln_lab.engine.data.arrays import ArrayLoader
    from kiln_lab.engine.data.dataset import Dataset

    labels = np.array([0] * 10 + [1] * 100)
    dataset = Dataset(
        source="x", source_kind="arrays", task="classification", input_kind="vector", input_shape=(3,),
        class_names=["a", "b"], labels=labels, splits={"train": np.arange(110)},
        loader=ArrayLoader(np.zeros((110, 3)), image=False),
    )
    assert "Only 10 training samples" in small_data_warning(dataset, "scratch")
    assert small_data_warning(dataset, "finetune") is None
