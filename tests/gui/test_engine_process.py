"""The engine worker process: the window never imports TensorFlow, and outlives its engine.

A full walk in a fresh interpreter leaves no TensorFlow or Keras in the window's process; a
worker killed (SIGKILL), aborted (SIGABRT) or ended past Stop's grace gives the window one
sentence and Resume, the window and its settings live on, the run folder resumes to the
epochs it was asked for, and the next task gets a fresh worker. A task that runs out of
memory retires its worker (tested on the server loop itself, where a MemoryError can be made).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.gui.conftest import TIMEOUT_MS

pytestmark = pytest.mark.slow

WALK = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])
    from kiln_lab.gui.app import create_window
    from kiln_lab.gui.settings import AppSettings
    from kiln_lab.gui.screenshots import wait_until

    out = Path(sys.argv[1])
    win = create_window(AppSettings(str(out / "s.ini")), runs_folder=str(out / "runs"))
    win.confirm_stop_training = lambda: True
    win.show()
    win.load_engine()
    wait_until(lambda: win.session.engine is not None, what="engine")
    win.open_dataset("demo:digits")
    wait_until(lambda: win.session.dataset is not None, what="scan")
    win.session.update(model={"kind": "scratch", "arch": "mlp"}, train={"epochs": 1, "batch_size": 64})
    worker = win.model_page.count_parameters()
    wait_until(lambda: not worker.running, what="count")
    win.train_page.show_config(win.session.config)
    assert win.train_page.start()
    wait_until(lambda: not win.train_page.running, what="train")
    win.go_to("evaluate")
    wait_until(lambda: win.session.evaluation is not None, what="evaluate")
    from PIL import Image
    import numpy as np
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(out / "x.png")
    worker = win.evaluate_page.try_image(str(out / "x.png"))
    wait_until(lambda: not worker.running, what="try it")
    worker = win.export_page.save_model_to(str(out / "m.keras"), "keras")
    wait_until(lambda: not worker.running, what="export")
    worker = win.export_page.open_model(str(out / "m.keras"))
    wait_until(lambda: not worker.running, what="open")
    worker = win.model_page.advisor.check()
    wait_until(lambda: not worker.running, what="advise")
    worker = win.model_page.init_card.diagnose()
    wait_until(lambda: not worker.running, what="diagnose")
    win.session.update(model={"backbone": "demo"})
    win.start_comparison(*win.model_page.comparison_configs(), (1.0,), 1, 10)
    wait_until(lambda: not win.train_page.running, what="compare")
    assert win.train_page.comparison is not None, "the comparison did not finish"
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "jax", "torch"))
    engine = sorted(m for m in sys.modules if m.startswith(("engine", "kiln_lab.engine")))
    print(json.dumps({"heavy": heavy, "engine": engine, "saved": (out / "m.keras").is_file()}))
    win.close()
    """
)


def test_a_full_walk_leaves_no_tensorflow_in_the_windows_process(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    walked = subprocess.run(
        [sys.executable, "-c", WALK, str(tmp_path)], capture_output=True, text=True, timeout=600, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    lines = [line for line in walked.stdout.splitlines() if line.startswith("{")]
    assert walked.returncode == 0 and lines, walked.stderr[-3000:]
    found = json.loads(lines[-1])
    assert found["saved"]
    assert found["heavy"] == [], found["heavy"][:20]
    # The window's engine modules are the front door's client and plain values only.
    assert "kiln_lab.engine.api" not in found["engine"] and "kiln_lab.engine.training.job" not in found["engine"]


def _train_until_first_epoch(qtbot, window, load_demo, epochs: int) -> str:
    load_demo(window)
    # A small CNN with small batches: slow enough (about 1 s an epoch) to be killed mid-run.
    window.session.update(model={"kind": "scratch", "arch": "cnn"},
                          train={"epochs": epochs, "batch_size": 8, "checkpoint": True})
    window.train_page.show_config(window.session.config)
    assert window.train_page.start()
    out_dir = window.train_page.runner.out_dir
    log = window.train_page.plots.log
    try:
        qtbot.waitUntil(lambda: any((Path(out_dir) / "checkpoint").glob("epoch-*/state.json")), timeout=TIMEOUT_MS)
    except Exception as exc:
        raise AssertionError(f"no checkpoint in {out_dir}; the run log says:\n{log.toPlainText()}") from exc
    return out_dir


def _finish_resumed_run(qtbot, window, out_dir: str, epochs: int) -> None:
    controls = window.train_page.controls
    assert controls.resume_button.isVisibleTo(window.train_page)
    controls.resume_button.click()
    assert window.train_page.running
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=TIMEOUT_MS)
    history = json.loads((Path(out_dir) / "history.json").read_text())
    assert len(history["loss"]) == epochs  # the resumed run ends where the whole one would have
    assert (Path(out_dir) / "model.keras").is_file()
    assert not controls.resume_button.isVisibleTo(window.train_page)


@pytest.mark.parametrize(("how", "words"), [(signal.SIGKILL, "was killed"), (signal.SIGABRT, "aborted")])
def test_a_worker_that_dies_mid_run_leaves_the_window_and_a_resumable_run(qtbot, window, load_demo, how, words):
    from kiln_lab.gui.engine_link import shared_link

    link = shared_link()
    epochs = 4  # after the first checkpoint, three epochs (seconds) are left to kill or stop it in
    out_dir = _train_until_first_epoch(qtbot, window, load_demo, epochs)
    config_before = window.session.config
    old_pid = link.pid
    with qtbot.waitSignal(link.died, timeout=TIMEOUT_MS) as died:
        os.kill(old_pid, how)
    assert words in died.args[0]
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=TIMEOUT_MS)
    assert window.isVisible()
    assert window.session.config == config_before  # every setting as it was
    log = window.train_page.plots.log.toPlainText()
    assert words in log and "resumed" in log
    assert (Path(out_dir) / "checkpoint").is_dir() and not (Path(out_dir) / "model.keras").exists()
    qtbot.waitUntil(lambda: link.is_ready, timeout=TIMEOUT_MS)  # a fresh worker, started at once
    assert link.pid != old_pid
    _finish_resumed_run(qtbot, window, out_dir, epochs)


def test_stop_past_its_grace_ends_the_worker_and_the_run_resumes(qtbot, window, load_demo, monkeypatch):
    import kiln_lab.gui.training_runner  # noqa: F401 - loads gui.training_runner
    from kiln_lab import gui
    from kiln_lab.gui.engine_link import shared_link

    monkeypatch.setattr(gui.training_runner, "STOP_GRACE_MS", 0)  # no batch ends within no time
    link = shared_link()
    epochs = 4  # after the first checkpoint, three epochs (seconds) are left to kill or stop it in
    out_dir = _train_until_first_epoch(qtbot, window, load_demo, epochs)
    old_pid = link.pid
    window.train_page.stop()
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=TIMEOUT_MS)
    assert "did not stop within" in window.train_page.plots.log.toPlainText()
    qtbot.waitUntil(lambda: link.is_ready and link.pid != old_pid, timeout=TIMEOUT_MS)
    _finish_resumed_run(qtbot, window, out_dir, epochs)


def test_a_task_that_runs_out_of_memory_retires_its_worker(monkeypatch) -> None:
    """The server loop, run on a thread over a pipe: the task's error is the out-of-memory
    sentence, then the worker says it retires and its loop ends (the client starts a fresh one)."""
    from multiprocessing import Pipe

    from kiln_lab.engine import api
    from kiln_lab.engine.worker import protocol, server

    def hungry() -> None:
        raise MemoryError

    monkeypatch.setitem(api.TASKS, "hungry", hungry)
    monkeypatch.setattr(api, "engine_info", lambda: {"device": "CPU"})
    window_end, worker_end = Pipe(duplex=True)
    loop = threading.Thread(target=server.serve, args=(worker_end,), daemon=True)
    loop.start()
    window_end.send_bytes(protocol.dumps({"op": "call", "id": 7, "task": "hungry", "kwargs": {}}))
    messages = []
    while not messages or messages[-1]["op"] != "retiring":
        assert window_end.poll(60), f"the worker went quiet after {[m['op'] for m in messages]}"
        messages.append(protocol.loads(window_end.recv_bytes()))
    ops = [m["op"] for m in messages]
    assert ops[:2] == ["hello", "ready"] and ops[-3:] == ["error", "done", "retiring"]
    error = messages[-3]["error"]
    assert "memory" in error.sentence.lower() and error.kind == "MemoryError"
    loop.join(30)
    assert not loop.is_alive()  # the loop ended: the process would exit, and the client start a fresh one


def test_the_link_starts_a_fresh_worker_for_the_next_task_after_a_retirement(qtbot, window) -> None:
    """What the window sees when a worker retires (ends on purpose): no crash dialog, a fresh
    worker, and the next task answered by it."""
    from kiln_lab.gui.engine_link import Call, shared_link

    link = shared_link()
    old_pid = link.pid
    with qtbot.waitSignal(link.ready, timeout=TIMEOUT_MS):
        link._process.expected_exit = True  # as after a "retiring" message
        os.kill(old_pid, signal.SIGKILL)
    assert link.pid != old_pid
    task = link.submit(Call.of("default_budget"), words="reading")
    answers = []
    task.result.connect(answers.append)
    task.start()
    qtbot.waitUntil(lambda: not task.running, timeout=TIMEOUT_MS)
    assert answers and answers[0]["max_steps"] >= 1


def test_a_call_cancelled_while_the_engine_loads_starts_stopped(monkeypatch) -> None:
    """A stop for a call still queued (the worker importing TensorFlow) is kept for it: the call
    starts with its stop already asked for, so a cancelled scan never runs to the end."""
    from multiprocessing import Pipe

    from kiln_lab.engine import api
    from kiln_lab.engine.worker import protocol, server

    loaded = threading.Event()
    seen = {}

    def slow_info() -> dict:
        loaded.wait(30)  # the engine is still loading while the window sends the call, then its stop
        return {"device": "CPU"}

    def watches_its_stop(*, control) -> bool:
        seen["stopped"] = control.stop_requested
        return control.stop_requested

    monkeypatch.setitem(api.TASKS, "watches", watches_its_stop)
    monkeypatch.setattr(api, "engine_info", slow_info)
    window_end, worker_end = Pipe(duplex=True)
    threading.Thread(target=server.serve, args=(worker_end,), daemon=True).start()
    window_end.send_bytes(protocol.dumps({"op": "call", "id": 3, "task": "watches", "kwargs": {}}))
    window_end.send_bytes(protocol.dumps({"op": "cancel", "id": 3}))
    messages = []
    while not messages or messages[-1]["op"] != "hello":
        messages.append(protocol.loads(window_end.recv_bytes()))
    import time

    time.sleep(0.5)  # the reader has taken both messages off the pipe
    loaded.set()
    while messages[-1]["op"] != "done":
        assert window_end.poll(30)
        messages.append(protocol.loads(window_end.recv_bytes()))
    results = [m for m in messages if m["op"] == "result"]
    assert results and results[0]["value"] is True and seen["stopped"] is True
    window_end.send_bytes(protocol.dumps({"op": "shutdown"}))
