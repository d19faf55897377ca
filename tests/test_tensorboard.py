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


def test_a_missing_tensorboard_is_one_sentence_before_anything_is_written(tmp_path, monkeypatch, capsys) -> None:
    # TensorFlow 2.21 no longer installs tensorboard: the run is refused before its folder is touched.
    import sys

    from engine.cli import main

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    out = tmp_path / "run"
    args = ["train", "--data", "demo:digits", "--arch", "mlp", "--width", "8", "--depth", "1", "--epochs", "1"]
    assert main([*args, "--out", str(out), "--tensorboard"]) == 2
    error = " ".join(capsys.readouterr().err.split())  # the CLI wraps its paragraph
    assert "pip install tensorboard" in error and "Traceback" not in error
    assert not out.exists()  # so the rerun needs no --overwrite
    monkeypatch.delitem(sys.modules, "tensorboard")
    assert main([*args, "--out", str(out), "--no-tensorboard"]) == 0


def test_another_backend_without_tensorflow_is_told_to_install_both(monkeypatch) -> None:
    import sys

    import engine.runtime as runtime
    from engine.errors import KilnError

    monkeypatch.setattr(runtime, "keras_backend", lambda: "jax")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as on a JAX machine with no TensorFlow
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(KilnError, match="pip install tensorflow tensorboard") as caught:
        runtime.require_tensorboard()
    assert "jax" in caught.value.sentence
