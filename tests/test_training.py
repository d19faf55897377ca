"""The training job: learns, reports, stops, pauses, resumes, guards against NaN."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from kiln_lab.engine.events import BatchEnd, EpochEnd, EventRecorder, Failed, Finished, RunStarted, RunWarning
from kiln_lab.engine.training.control import RunControl
from kiln_lab.engine.training.job import run_training


def test_loss_decreases_and_events_arrive_in_order(tiny_config) -> None:
    recorder = EventRecorder()
    result = run_training(tiny_config.replace(train={"epochs": 3}), sink=recorder)
    losses = result.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0] * 0.8
    assert result.metrics["val_accuracy"] > 0.5
    kinds = [type(e) for e in recorder.events]
    assert kinds[0] is RunStarted and kinds[-1] is Finished
    epochs = recorder.of_type(EpochEnd)
    assert [e.epoch for e in epochs] == [0, 1, 2]
    assert epochs[-1].logs["val_loss"] == pytest.approx(result.history["val_loss"][-1])
    assert recorder.of_type(BatchEnd), "batch progress is reported"
    assert result.samples_per_second > 0


def test_same_config_gives_same_history(tiny_config) -> None:
    first = run_training(tiny_config).history
    second = run_training(tiny_config).history
    assert first == second


def test_stop_ends_within_a_batch_and_saves(tiny_config, tmp_path) -> None:
    control = RunControl()
    seen: list[BatchEnd] = []

    def sink(event) -> None:
        if isinstance(event, BatchEnd):
            seen.append(event)
            control.stop()

    config = tiny_config.replace(train={"epochs": 5, "batch_size": 8})
    result = run_training(config, sink=sink, control=control, out_dir=tmp_path)
    assert result.stopped and result.reason == "stopped"
    assert len(result.history["loss"]) == 1  # stopped inside the first epoch
    assert seen[0].batch == 0 and seen[0].epoch == 0
    assert (tmp_path / "model.keras").exists()
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["stopped"] is True and record["reason"] == "stopped"


def test_pause_blocks_between_batches_until_resumed(tiny_config) -> None:
    control = RunControl()
    paused_at: list[float] = []
    resumed_after: list[float] = []

    def sink(event) -> None:
        if isinstance(event, BatchEnd) and not paused_at:
            paused_at.append(time.perf_counter())
            control.pause()
            threading.Timer(0.5, control.resume).start()
        elif isinstance(event, (BatchEnd, EpochEnd)) and paused_at and not resumed_after:
            resumed_after.append(time.perf_counter() - paused_at[0])

    result = run_training(tiny_config.replace(train={"epochs": 1}), sink=sink, control=control)
    assert result.reason == "completed"
    assert resumed_after[0] >= 0.45


def test_resume_continues_from_the_last_checkpoint(tiny_config, tmp_path) -> None:
    control = RunControl()

    def stop_after_first_epoch(event) -> None:
        if isinstance(event, EpochEnd):
            control.stop()

    config = tiny_config.replace(train={"epochs": 3})
    first = run_training(config, sink=stop_after_first_epoch, control=control, out_dir=tmp_path)
    assert len(first.history["loss"]) == 1
    state = json.loads((tmp_path / "checkpoint" / "epoch-0001" / "state.json").read_text())
    assert state["completed_epochs"] == 1

    recorder = EventRecorder()
    resumed = run_training(config, sink=recorder, out_dir=tmp_path, resume=True)
    assert [e.epoch for e in recorder.of_type(EpochEnd)] == [1, 2]
    assert len(resumed.history["loss"]) == 3
    assert resumed.history["loss"][0] == pytest.approx(first.history["loss"][0])
    assert resumed.history["loss"][2] < resumed.history["loss"][0]


def test_resume_without_checkpoint_is_a_clear_error(tiny_config, tmp_path) -> None:
    from kiln_lab.engine.errors import ConfigError

    recorder = EventRecorder()
    with pytest.raises(ConfigError, match="no checkpoint"):
        run_training(tiny_config, sink=recorder, out_dir=tmp_path, resume=True)
    assert "no checkpoint" in recorder.of_type(Failed)[0].message


def test_nan_loss_stops_with_a_plain_warning_and_keeps_finite_weights(tiny_config) -> None:
    config = tiny_config.replace(
        model={"kernel_initializer": "random_normal", "init_scale": 1e6, "depth": 3},
        train={"optimizer": "sgd", "learning_rate": 1e6, "epochs": 3},
    )
    recorder = EventRecorder()
    result = run_training(config, sink=recorder)
    assert result.reason == "nan"
    warnings = [w for w in recorder.of_type(RunWarning) if w.kind == "nan"]
    assert warnings and "learning rate" in warnings[0].message
    assert all(np.isfinite(w).all() for w in result.model.get_weights())


def test_step_schedule_halves_the_rate_every_epoch(tiny_config) -> None:
    config = tiny_config.replace(train={"epochs": 3, "schedule": "step", "step_every": 1, "step_factor": 0.5,
                                        "class_weights": True})
    recorder = EventRecorder()
    run_training(config, sink=recorder)
    rates = [e.learning_rate for e in recorder.of_type(EpochEnd)]
    assert rates == pytest.approx([5e-3, 2.5e-3, 1.25e-3])


def test_class_weights_are_balanced_on_known_counts() -> None:
    from kiln_lab.engine.data.arrays import dataset_from_arrays
    from kiln_lab.engine.training.job import _class_weights

    # 60 / 30 / 10 samples; the training split keeps the proportions (stratified).
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    x = np.random.default_rng(0).normal(size=(100, 3)).astype("float32")
    dataset = dataset_from_arrays(x, y, source="known counts", source_kind="npz", val_split=0.0, test_split=0.0, seed=0)
    counts = list(dataset.class_counts("train").values())
    assert counts == [60, 30, 10]
    weights = _class_weights(dataset)
    # n / (k * n_c): 100 / (3 * 60), 100 / (3 * 30), 100 / (3 * 10)
    assert [weights[i] for i in range(3)] == pytest.approx([100 / 180, 100 / 90, 100 / 30])


def test_bad_config_fails_with_a_sentence(tiny_config) -> None:
    from kiln_lab.engine.errors import ConfigError

    recorder = EventRecorder()
    with pytest.raises(ConfigError):
        run_training(tiny_config.replace(train={"epochs": 0}), sink=recorder)
    assert recorder.of_type(Failed)[0].message.startswith("'train.epochs' must be at least 1")


@pytest.mark.parametrize("arch", ["cnn", "resnet"])
def test_convolutional_presets_train(tiny_config, arch: str) -> None:
    config = tiny_config.replace(model={"arch": arch, "depth": 1, "width": 8, "batch_norm": True}, train={"epochs": 2})
    result = run_training(config)
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_early_stopping_ends_a_run_that_stops_improving(tiny_config) -> None:
    # A learning rate so small that the weights never change: validation loss is flat from epoch 1.
    config = tiny_config.replace(train={"epochs": 8, "optimizer": "sgd", "momentum": 0.0, "learning_rate": 1e-30,
                                        "early_stopping": 2})
    result = run_training(config)
    assert result.reason == "early_stopping" and result.stopped
    assert len(result.history["loss"]) == 3  # the best epoch, then two without improvement


@pytest.mark.parametrize("jit", [False, True])
def test_the_nan_guards_copy_is_the_last_finite_epochs_weights(jit) -> None:
    """The guard's device copy (plain tf.Variables on TensorFlow) is the weights at the last finite
    epoch's end: training on changes the weights, never the copy, and a blow-up puts that copy back."""
    import keras

    from kiln_lab.engine.events import ignore_events
    from kiln_lab.engine.training.callbacks import EventReporter, NanWeightsGuard

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse", jit_compile=jit)
    reporter = EventReporter(ignore_events, RunControl(), epochs=3, steps=4)
    at_epoch_end: list[list[np.ndarray]] = []

    class BlowUpInEpoch3(keras.callbacks.Callback):  # before the guard, as the reporter is
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                reporter.nan_detected = True

    class Snapshot(keras.callbacks.Callback):  # after the guard: what its copy should hold
        def on_epoch_end(self, epoch, logs=None):
            at_epoch_end.append([w.copy() for w in self.model.get_weights()])

    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0,
              callbacks=[BlowUpInEpoch3(), NanWeightsGuard(reporter), Snapshot()])
    last_finite, trained_on = at_epoch_end[1], at_epoch_end[2]
    assert any(not np.array_equal(a, b) for a, b in zip(last_finite, trained_on, strict=True)), "epoch 3 trained"
    for restored, kept in zip(model.get_weights(), last_finite, strict=True):
        np.testing.assert_array_equal(restored, kept)


def test_the_learning_rate_an_epoch_reports_is_the_optimizers_now() -> None:
    import keras

    from kiln_lab.engine.training.callbacks import current_learning_rate

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.125), "mse")
    assert current_learning_rate(model) == 0.125  # exact in float32
    model.optimizer.learning_rate.assign(0.5)  # what ReduceLROnPlateau and the epoch schedules do
    assert current_learning_rate(model) == 0.5
    assert np.isnan(current_learning_rate(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])))
