"""`--tensorboard` leaves logs that TensorBoard's own reader reads, with one point per epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln_lab.engine.training.job import TENSORBOARD_DIR, run_training


def _scalars(folder: Path, *, steps: bool = False) -> dict[str, list]:
    """Scalar series in an event folder, read the way `tensorboard --logdir` reads them
    (values, or (step, value) pairs with ``steps``)."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    series = {
        tag: [(s.step, s.value) if steps else s.value for s in accumulator.Scalars(tag)]
        for tag in accumulator.Tags().get("scalars", [])
    }
    for tag in accumulator.Tags().get("tensors", []):  # TF2 summaries are stored as tensors
        values = [(t.step, tf.make_ndarray(t.tensor_proto)) for t in accumulator.Tensors(tag)]
        if values and values[0][1].dtype.kind == "f":  # scalars; the model graph is stored as text
            series[tag] = [(step, float(v)) if steps else float(v) for step, v in values]
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

    from kiln_lab.engine.cli import main

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

    import kiln_lab.engine.runtime as runtime
    from kiln_lab.engine.errors import KilnError

    monkeypatch.setattr(runtime, "keras_backend", lambda: "jax")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as on a JAX machine with no TensorFlow
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(KilnError, match="pip install tensorflow tensorboard") as caught:
        runtime.require_tensorboard()
    assert "jax" in caught.value.sentence


@pytest.mark.slow
def test_a_two_phase_run_has_one_step_axis_batch_loss_and_drift(tmp_path) -> None:
    # Keras's own callback restarted its steps each phase (45, 90, 45, 90).
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra is not installed")
    from tests.backbone_fixtures import finetune_config, image_dataset

    config = finetune_config("demo", two_phase=True).replace(
        train={"epochs": 4, "batch_size": 16, "tensorboard": True, "tensorboard_batches": True, "checkpoint": False}
    )
    from kiln_lab.engine.events import DriftMeasured, EventRecorder, RunStarted

    events = EventRecorder()
    run_training(config, sink=events, dataset=image_dataset(n=64, size=16, channels=1), out_dir=tmp_path / "run")
    steps = events.of_type(RunStarted)[0].steps_per_epoch
    measured = [event for event in events.of_type(DriftMeasured) if event.epoch >= 0]
    cka = [event.cka for event in measured]
    logs = tmp_path / "run" / TENSORBOARD_DIR
    train, validation = _scalars(logs / "train", steps=True), _scalars(logs / "validation", steps=True)
    assert [step for step, _ in train["epoch_loss"]] == [0, 1, 2, 3]
    assert [step for step, _ in validation["evaluation_loss_vs_iterations"]] == [steps * k for k in (1, 2, 3, 4)]
    assert [step for step, _ in train["batch_loss"]] == list(range(1, 4 * steps + 1))
    # The monitor measures the epochs its time budget allows (always the last): each at its own epoch.
    assert [step for step, _ in train["drift/cka"]] == [event.epoch for event in measured]
    assert measured[-1].epoch == 3 and all(0 <= v <= 1.0001 for _, v in train["drift/cka"])
    assert [v for _, v in train["drift/cka"]] == pytest.approx(cka, abs=1e-6)


def _hparams(folder: Path) -> dict:
    """The HParams a run's log folder declares, read with TensorBoard's own hparams plugin."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    content = accumulator.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = metadata.parse_session_start_info_plugin_data(content)
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in info.hparams.items()}


@pytest.mark.slow
def test_a_comparisons_runs_line_up_in_the_hparams_dashboard(tmp_path) -> None:
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra is not installed")
    from kiln_lab.engine.analysis.budget import Budget
    from kiln_lab.engine.analysis.compare import compare_approaches
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.training.config import RunConfig

    base = RunConfig().replace(train={"checkpoint": False, "tensorboard": True})
    scratch = base.replace(model={"arch": "mlp", "width": 8, "depth": 1})
    finetune = base.replace(model={"kind": "finetune", "backbone": "demo"})
    budget = Budget(max_steps=10, min_steps=5, patience_steps=5)
    compare_approaches(
        scratch, finetune, load_dataset("demo:digits"), fractions=(0.3,), repeats=1, budget=budget, out_dir=tmp_path
    )
    names = ("scratch-030pct-r1", "finetune-030pct-r1")
    runs = {name: _hparams(tmp_path / "runs" / name / TENSORBOARD_DIR) for name in names}
    assert [runs[name]["model.kind"] for name in names] == ["scratch", "finetune"]
    samples = {runs[name]["data.train_samples"] for name in names}  # one 30 % subset for both approaches
    assert len(samples) == 1 and 0 < samples.pop() < 0.3 * 1797
    assert runs["finetune-030pct-r1"]["model.backbone"] == "demo"
    # and each run's scalars sit beside its HParams, so the dashboard has metrics to show
    assert _scalars(tmp_path / "runs" / "scratch-030pct-r1" / TENSORBOARD_DIR / "validation")["epoch_loss"]


@pytest.mark.slow
def test_a_showdowns_contenders_line_up_in_the_hparams_dashboard(tmp_path) -> None:
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra is not installed")
    from kiln_lab.engine.analysis.showdown import CONTENDERS
    from kiln_lab.engine.cli import main

    args = ["showdown", "--data", "demo:digits", "--arch", "mlp", "--width", "8", "--depth", "1", "--epochs", "1"]
    assert main([*args, "--out", str(tmp_path), "--tensorboard"]) == 0
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == len(CONTENDERS)
    declared = sorted((values["model.kernel_initializer"], round(values["model.init_scale"], 6))
                      for values in (_hparams(run / TENSORBOARD_DIR) for run in runs))
    assert declared == sorted((c.initializer, round(c.scale, 6)) for c in CONTENDERS)
    assert main([*args, "--tensorboard"]) == 2  # the logs need a folder


def test_drift_is_logged_only_at_the_epochs_the_monitor_measured(tmp_path, monkeypatch) -> None:
    """The forgetting monitor skips epochs (its time budget): the board must not repeat its last figure."""
    from types import SimpleNamespace

    from kiln_lab.engine.monitors.forgetting import DriftRecord
    from kiln_lab.engine.training.tensorboard import RunTensorBoard

    record = DriftRecord(reference_size=8, source_task=None, cka=[0.9], epochs=[1])
    board = RunTensorBoard(tmp_path, steps_per_epoch=1, drift=SimpleNamespace(record=record))
    logged: list = []
    monkeypatch.setattr(board, "_scalars", lambda writer, values, step: logged.append((step, values)))
    for epoch in (1, 2, 3):
        board._log_drift(epoch)
    assert logged == [(1, {"drift/cka": 0.9})]



def _fails_at(epoch: int, batch: int):
    """A user callback that raises at ``batch`` of ``epoch``: the run fails mid-phase."""
    import keras

    class FailsMidPhase(keras.callbacks.Callback):
        def on_epoch_begin(self, current: int, logs: dict | None = None) -> None:
            self.epoch = current

        def on_train_batch_end(self, current: int, logs: dict | None = None) -> None:
            if self.epoch == epoch and current == batch:
                raise RuntimeError("the run broke mid-phase")

    return FailsMidPhase()


def _open_files_under(folder: Path) -> list[str]:
    """Files under ``folder`` this process holds open (Linux: /proc/self/fd)."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = Path(fd.readlink())
        except OSError:  # the listing's own descriptor, closed by now
            continue
        if folder in target.parents:
            found.append(str(target))
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads open files from /proc")
def test_a_run_that_raises_mid_phase_closes_its_writer(tiny_config, tmp_path) -> None:
    # Each write is flushed at once (tf.summary's context), so what a writer left open costs is its
    # event files, held open for the rest of the process (the app's engine worker lives on).
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra is not installed")
    from kiln_lab.engine.events import EventRecorder, RunStarted

    config = tiny_config.replace(train={"epochs": 2, "tensorboard": True, "tensorboard_batches": True,
                                        "checkpoint": False})
    events = EventRecorder()
    logs = tmp_path / "run" / TENSORBOARD_DIR
    with pytest.raises(RuntimeError, match="broke mid-phase"):
        # Kiln's writer comes after the user's callbacks, so it logs epoch 1's batches 0 and 1 only.
        run_training(config, sink=events, out_dir=tmp_path / "run", callbacks=(_fails_at(epoch=1, batch=2),))
    assert _open_files_under(logs) == []
    steps = events.of_type(RunStarted)[0].steps_per_epoch
    train = _scalars(logs / "train", steps=True)
    assert [step for step, _ in train["epoch_loss"]] == [0]  # epoch 1 never finished
    assert [step for step, _ in train["batch_loss"]] == list(range(1, steps + 3))
