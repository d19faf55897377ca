"""`--tensorboard` leaves logs that TensorBoard's own reader reads, with one point per epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.training.job import TENSORBOARD_DIR, run_training


def _scalars(folder: Path) -> dict[str, list[float]]:
    """Scalar series in an event folder, read the way `tensorboard --logdir` reads them."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    series = {tag: [s.value for s in accumulator.Scalars(tag)] for tag in accumulator.Tags().get("scalars", [])}
    for tag in accumulator.Tags().get("tensors", []):  # TF2 summaries are stored as tensors
        values = [tf.make_ndarray(t.tensor_proto) for t in accumulator.Tensors(tag)]
        if values and values[0].dtype.kind == "f":  # scalars; the model graph is stored as text
            series[tag] = [float(v) for v in values]
    return series


def test_tensorboard_logs_hold_one_loss_per_epoch(tiny_config, tmp_path) -> None:
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra is not installed")
    config = tiny_config.replace(train={"epochs": 3, "tensorboard": True, "checkpoint": False})
    run_training(config, out_dir=tmp_path / "run")
    logs = tmp_path / "run" / TENSORBOARD_DIR
    train = _scalars(logs / "train")
    assert len(train["epoch_loss"]) == 3
    assert len(_scalars(logs / "validation")["epoch_loss"]) == 3


def test_no_logs_unless_asked(tiny_config, tmp_path) -> None:
    run_training(tiny_config.replace(train={"epochs": 1, "checkpoint": False}), out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / TENSORBOARD_DIR).exists()
