"""Stop, pause, failures and closing: the window always stays alive and usable."""

from __future__ import annotations

import threading
import time

import pytest

from kiln_lab.engine import events as ev
from kiln_lab.engine.errors import DataError, KilnError, ModelError
from kiln_lab.gui.dialogs.error_dialog import ErrorDialog

TIMEOUT_MS = 120_000


def error_dialogs(win) -> list[ErrorDialog]:
    return [d for d in win.findChildren(ErrorDialog) if d.isVisible()]


def start_long_run(qtbot, win, load_demo, tiny_model) -> None:
    """Digits in batches of 8 for many epochs: long enough to interrupt."""
    load_demo(win)
    tiny_model(win)
    win.session.update(train={"epochs": 200, "batch_size": 8})
    win.train_page.show_config(win.session.config)
    assert win.train_page.start()
    qtbot.waitUntil(lambda: win.train_page.plots.loss_plot.points("batch")[0].size > 0, timeout=TIMEOUT_MS)


def test_stop_ends_within_a_batch_and_the_ui_stays_usable(qtbot, window, load_demo, tiny_model, train):
    start_long_run(qtbot, window, load_demo, tiny_model)
    assert not window.train_page.controls.start_button.isEnabled()
    assert window.stop_action.isEnabled()
    asked = time.monotonic()
    window.stop_action.trigger()  # Ctrl+.
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=30_000)
    assert time.monotonic() - asked < 10
    summary = window.session.runs[-1]
    assert summary.reason == "stopped"
    assert len(summary.history.get("loss", [])) <= 2  # it did not run on to the end of the 200 epochs
    assert window.train_page.controls.start_button.isEnabled()
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()
    assert not error_dialogs(window)
    # Usable: the stopped model evaluates, and another run starts and completes.
    window.go_to("evaluate")
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    train(window, epochs=1, batch_size=64)
    assert window.session.runs[-1].reason == "completed"


def test_pause_holds_the_run_and_resume_continues(qtbot, window, load_demo, tiny_model):
    start_long_run(qtbot, window, load_demo, tiny_model)
    page = window.train_page
    page.toggle_pause()
    assert page.runner.paused and page.controls.pause_button.text() == "Resume"
    qtbot.wait(700)  # let a batch in flight land
    held = page.plots.loss_plot.points("batch")[0].size
    qtbot.wait(700)
    assert page.plots.loss_plot.points("batch")[0].size == held
    page.toggle_pause()
    assert page.controls.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: page.plots.loss_plot.points("batch")[0].size > held, timeout=30_000)
    page.stop()
    qtbot.waitUntil(lambda: not page.running, timeout=30_000)


@pytest.mark.engine_in_thread
def test_a_crash_in_the_training_worker_shows_a_dialog_and_the_window_survives(
    qtbot, window, load_demo, monkeypatch, train
):
    import kiln_lab.engine.training.job as job

    load_demo(window)
    real_run_training = job.run_training

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA_ERROR_ILLEGAL_ADDRESS in a kernel")

    monkeypatch.setattr(job, "run_training", broken)
    window.start_training()
    qtbot.waitUntil(lambda: bool(error_dialogs(window)), timeout=TIMEOUT_MS)
    dialog = error_dialogs(window)[0]
    assert "CUDA_ERROR_ILLEGAL_ADDRESS" in dialog.sentence_label.text()
    assert "Traceback" in dialog.details.toPlainText()
    assert not dialog.details.isVisible()
    dialog.details_button.click()
    assert dialog.details.isVisible()
    dialog.close()
    assert window.isVisible() and not window.train_page.running
    assert window.train_page.controls.start_button.isEnabled()
    assert any(level == "error" for level, _ in window.train_page.plots.log.lines)
    # The next run, with the engine back, works.
    monkeypatch.setattr(job, "run_training", real_run_training)
    train(window, epochs=1, batch_size=64)
    assert window.session.runs[-1].reason == "completed"


@pytest.mark.engine_in_thread
def test_the_engines_failed_sentence_is_what_the_dialog_says(qtbot, window, load_demo, monkeypatch):
    import kiln_lab.engine.training.job as job

    load_demo(window)

    def refuses(config, *, sink, **kwargs):
        error = KilnError("The learning rate 50 makes the loss explode.", hint="Try 0.001.")
        sink(ev.Failed(error.sentence, "details"))
        raise error

    monkeypatch.setattr(job, "run_training", refuses)
    window.start_training()
    qtbot.waitUntil(lambda: bool(error_dialogs(window)), timeout=TIMEOUT_MS)
    assert error_dialogs(window)[0].sentence_label.text() == "The learning rate 50 makes the loss explode. Try 0.001."


@pytest.mark.engine_in_thread
def test_a_model_that_cannot_be_built_gives_its_sentence(qtbot, window, load_demo, monkeypatch):
    import kiln_lab.engine.models.build as build

    load_demo(window)

    def cannot(*args, **kwargs):
        raise ModelError(
            "Layer 2 (conv2d) needs image-shaped input, but its input is flat.",
            hint="Move it above any Dense/Flatten layer.",
        )

    monkeypatch.setattr(build, "build_model", cannot)
    worker = window.model_page.count_parameters()
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: bool(error_dialogs(window)), timeout=5_000)
    dialog = error_dialogs(window)[0]
    assert dialog.error.user_error
    assert dialog.sentence_label.text().startswith("Layer 2 (conv2d) needs image-shaped input")
    assert window.model_page.count_button.isEnabled()


@pytest.mark.engine_in_thread
def test_scanning_shows_progress_and_can_be_cancelled(qtbot, window, monkeypatch):
    import kiln_lab.engine.data as data

    started = threading.Event()

    def slow_scan(config, *, progress=None, cancel=None):
        for done in range(10_000):
            if cancel.is_set():
                raise DataError("Scanning was cancelled.")
            progress(ev.Progress("scan", done, 10_000, f"Checked {done} files"))
            started.set()
            time.sleep(0.005)
        raise AssertionError("the scan was not cancelled")

    monkeypatch.setattr(data, "load_dataset", slow_scan)
    window.open_dataset("/somewhere/big-folder")
    page = window.data_page
    assert page.stack.currentWidget() is page.scan_panel
    qtbot.waitUntil(lambda: page.scan_panel.bar.maximum() == 10_000 and page.scan_panel.bar.value() > 0, timeout=10_000)
    assert window.activity_label.text().startswith("Scanning")
    page.scan_panel.cancel_button.click()
    qtbot.waitUntil(lambda: not page.scanning, timeout=10_000)
    assert page.stack.currentWidget() is page.start
    assert not error_dialogs(window)  # cancelling is not an error
    assert window.session.dataset is None


def test_a_dataset_that_cannot_be_read_explains_why(qtbot, window, tmp_path):
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    window.open_dataset(str(empty))
    qtbot.waitUntil(lambda: bool(error_dialogs(window)), timeout=TIMEOUT_MS)
    dialog = error_dialogs(window)[0]
    assert dialog.error.user_error and dialog.sentence_label.text()
    assert window.data_page.stack.currentWidget() is window.data_page.start


def test_closing_while_training_asks_then_stops_cleanly(qtbot, window, load_demo, tiny_model):
    asked = []
    window.confirm_stop_training = lambda: asked.append(True) or True
    start_long_run(qtbot, window, load_demo, tiny_model)
    window.close()
    assert asked == [True]
    assert window.isVisible()  # it waits for the run to stop between batches
    qtbot.waitUntil(lambda: not window.train_page.running and not window.isVisible(), timeout=30_000)
    assert window.session.runs[-1].reason == "stopped"


def test_closing_while_training_can_be_declined(qtbot, window, load_demo, tiny_model):
    window.confirm_stop_training = lambda: False
    start_long_run(qtbot, window, load_demo, tiny_model)
    window.close()
    qtbot.wait(300)
    assert window.isVisible() and window.train_page.running
    window.train_page.stop()
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=30_000)
