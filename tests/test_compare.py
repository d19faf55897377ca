"""Head to head: both approaches on the same data, at each data fraction."""

from __future__ import annotations

import numpy as np

from engine.analysis.compare import compare_approaches, subsample_training
from engine.data import load_dataset
from engine.training.config import RunConfig


def test_subsample_keeps_every_class_and_leaves_validation_alone() -> None:
    dataset = load_dataset("demo:digits")
    small = subsample_training(dataset, 0.1, seed=0)
    assert 130 <= len(small.splits["train"]) <= 150
    assert set(np.unique(small.labels[small.splits["train"]])) == set(range(10))
    assert np.array_equal(small.splits["val"], dataset.splits["val"])
    assert set(small.splits["train"]) <= set(dataset.splits["train"])


def test_both_approaches_run_on_the_same_data_at_each_fraction() -> None:
    dataset = load_dataset("demo:digits")
    base = RunConfig().replace(train={"epochs": 1, "checkpoint": False})
    scratch = base.replace(model={"arch": "mlp", "width": 8, "depth": 1})
    finetune = base.replace(model={"kind": "finetune", "backbone": "demo"})
    comparison = compare_approaches(scratch, finetune, dataset, fractions=(0.3, 1.0))
    rows = comparison.rows
    assert [(r.approach, r.data_fraction) for r in rows] == [
        ("scratch", 0.3), ("finetune", 0.3), ("scratch", 1.0), ("finetune", 1.0)
    ]
    assert rows[0].train_samples == rows[1].train_samples < rows[2].train_samples == 1438
    assert all(0 < r.score <= 1 and r.seconds > 0 for r in rows)
    assert rows[1].trainable_params < rows[1].params  # the backbone is frozen for the head
    assert comparison.best() in rows[2:]
