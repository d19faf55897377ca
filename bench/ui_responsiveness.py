"""How late the UI thread runs while a model trains, Train page shown vs Data page shown.

    QT_QPA_PLATFORM=offscreen python bench/ui_responsiveness.py [--epochs N] [--arch mlp|cnn|finetune]
        [--contended] [--json OUT]

``--contended``: two extra processes keep both cores busy for the whole measurement, as when a
person trains while using the computer (the figures that count: a quiet machine hides the
window's waits). ``--arch finetune``: the two-phase fine-tune of the demo backbone.

It also measures start-up: from ``window.show()`` the heartbeat runs while the engine
process imports TensorFlow; ``startup`` reports the first beat's delay after show (how soon
the window answers input) and the worst lateness until the engine is ready.

Builds the window as ``gui/app.py`` does, loads ``demo:digits``, starts training with the
window's own start slot (Ctrl+R) and runs a 10 ms ``QTimer`` heartbeat on the UI thread.
Lateness is how much later than 10 ms after the previous beat each beat fires: the time
the UI thread spent on something else (repaints, event handlers). It is measured twice
in the same process on the same data: once with the Data page on screen (the baseline:
no plot repaints) and once with the Train page on screen (live plots). Targets on a
2-core machine: max <= 50 ms and p99 <= 20 ms with the Train page shown.

Offscreen, Qt still paints visible widgets into their backing store, so repaint costs
are real; only the final copy to a screen is missing. Besides the heartbeat it times every
pyqtgraph paint, in wall time and in the UI thread's own CPU time: pyqtgraph paints in
Python, so while the training thread holds the GIL a paint waits, and on a loaded machine
the wall figures swing with the load; the CPU figures do not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

BEAT_MS = 10


def wait_until(condition, timeout: float, what: str) -> None:
    """Run Qt's event loop, as the app's ``exec()`` does, until ``condition()`` holds.

    A ``processEvents()``-and-sleep loop would add its own sleep to every beat's lateness; a
    real event loop sleeps in Qt until the next timer or event, like the running app.
    """
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(lambda: condition() and loop.quit())
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll.start()
    deadline.start(int(timeout * 1000))
    if not condition():
        loop.exec()
    poll.stop()
    deadline.stop()
    if not condition():
        raise TimeoutError(f"timed out waiting for {what}")


class PaintClock:
    """Times every pyqtgraph view's paint on the UI thread: the plots' own share of a frame."""

    def __init__(self) -> None:
        import pyqtgraph as pg

        self.durations: list[float] = []  # wall time: what the person waits
        self.cpu: list[float] = []  # the UI thread's own CPU time: the same on a busy or an idle machine
        original = pg.GraphicsView.paintEvent
        clock = self

        def timed_paint(view, event):  # noqa: ANN001 - a Qt override
            started, cpu_started = time.perf_counter(), time.thread_time()
            try:
                return original(view, event)
            finally:
                clock.durations.append((time.perf_counter() - started) * 1000)
                clock.cpu.append((time.thread_time() - cpu_started) * 1000)

        pg.GraphicsView.paintEvent = timed_paint


class Heartbeat:
    """A 10 ms timer on the UI thread that records how late each beat fires."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(BEAT_MS)
        self.timer.timeout.connect(self._beat)
        self.lateness: list[float] = []
        self.at: list[float] = []  # seconds since start() of each beat
        self._last = 0.0

    def start(self) -> None:
        self.lateness.clear()
        self.at.clear()
        self.clock.start()
        self._last = self.clock.nsecsElapsed() / 1e6
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _beat(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.lateness.append(max(0.0, now - self._last - BEAT_MS))
        self.at.append(now / 1000)
        self._last = now


def show_page(window, name: str) -> None:
    """``window.go_to`` by page name (older windows took an index)."""
    try:
        window.go_to(name)
    except (TypeError, ValueError, KeyError):
        window.go_to({"data": 0, "train": 2}[name])


def measure(window, page: str, hb: Heartbeat, epochs: int, paints: PaintClock) -> dict[str, float]:
    """One training run with ``page`` shown; lateness statistics of the heartbeat in its three parts.

    - ``build``: start to the run's first event (the model is built on the training thread);
    - the headline figures: the epochs, from that first event to the last epoch's end, where
      the live plots draw;
    - ``after_fit``: the last epoch's end to the run's end (the engine evaluates and saves).
    While TensorFlow traces or saves on the training thread it holds Python's GIL for long
    stretches; the build and after-fit stalls come from there and show on every page alike.
    """
    from kiln_lab.engine import events as ev

    errors: list[str] = []
    parts: dict[str, list[float]] = {}
    plot_seconds = [0.0]

    def on_event(event: object) -> None:
        if isinstance(event, ev.RunStarted):
            parts["build"] = list(hb.lateness)
            hb.start()  # from here on: the epochs
            paints.durations.clear()
            paints.cpu.clear()
        elif isinstance(event, ev.EpochEnd) and event.epoch + 1 >= event.epochs and "fit" not in parts:
            parts["fit"] = list(hb.lateness)
            parts["fit_at"] = list(hb.at)
            plot_seconds[0] = hb.clock.nsecsElapsed() / 1e9
            parts["paints"], parts["cpu"] = list(paints.durations), list(paints.cpu)
            hb.lateness.clear()

    runner = window.train_page.runner
    runner.event.connect(on_event)
    runner.error.connect(lambda error: errors.append(error.sentence))
    window.session.update(train={"epochs": epochs})
    window.train_page.show_config(window.session.config)
    window.start_training()  # the Ctrl+R slot: switches to the Train page and starts
    show_page(window, page)
    hb.start()
    wait_until(lambda: not window.train_page.running, 900, "the run to end")
    hb.stop()
    runner.event.disconnect(on_event)
    if errors:
        raise RuntimeError(f"the run failed: {errors[0]}")
    late = np.asarray(parts.get("fit") or [0.0])
    painted = np.asarray(parts.get("paints") or [0.0])
    cpu = np.asarray(parts.get("cpu") or [0.0])
    seconds = max(1e-9, plot_seconds[0])
    return {
        "beats": int(late.size),
        "epochs_s": round(seconds, 2),  # the first event to the last epoch's end: training's own time
        "max_ms": round(float(late.max()), 1),
        "p99_ms": round(float(np.percentile(late, 99)), 1),
        "p95_ms": round(float(np.percentile(late, 95)), 1),
        "mean_ms": round(float(late.mean()), 2),
        "max_at_s": round(float((parts.get("fit_at") or [0.0])[int(late.argmax())]), 2),  # after the run's first event
        "beats_over_30ms": int((late > 30).sum()),
        "plot_paints": len(parts.get("paints") or []),
        "plot_paint_max_ms": round(float(painted.max()), 1),
        "plot_paint_ms_per_s": round(float(painted.sum()) / seconds, 1),
        "plot_paint_cpu_max_ms": round(float(cpu.max()), 1),
        "plot_paint_cpu_ms_per_s": round(float(cpu.sum()) / seconds, 1),
        "build_max_ms": round(max(parts.get("build") or [0.0]), 1),
        "after_fit_max_ms": round(max(hb.lateness or [0.0]), 1),
    }


def _burn(stop_at: float) -> None:
    """Keep one core busy (pure Python arithmetic) until ``stop_at`` (time.time())."""
    x = 0
    while time.time() < stop_at:
        for i in range(100_000):
            x = (x * 31 + i) % 1_000_003


class Contention:
    """Two processes that keep both cores busy while they run (``--contended``)."""

    def __init__(self, count: int = 2, seconds: float = 3600) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.processes = [context.Process(target=_burn, args=(time.time() + seconds,), daemon=True)
                          for _ in range(count)]

    def __enter__(self) -> Contention:
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        for process in self.processes:
            process.kill()
            process.join(5)


def measure_startup(window, hb: Heartbeat) -> dict[str, float]:
    """From show(): how soon the first beat fires, and the worst lateness until the engine is ready."""
    shown = time.perf_counter()
    window.show()
    window.load_engine()
    hb.start()
    first = [0.0]

    def first_beat() -> None:
        if not first[0]:
            first[0] = (time.perf_counter() - shown) * 1000

    hb.timer.timeout.connect(first_beat)
    wait_until(lambda: window.session.engine is not None, 300, "the engine")
    hb.stop()
    hb.timer.timeout.disconnect(first_beat)
    late = np.asarray(hb.lateness or [0.0])
    return {
        "first_beat_after_show_ms": round(first[0], 1),
        "engine_ready_s": round(time.perf_counter() - shown, 2),
        "max_ms_while_engine_loads": round(float(late.max()), 1),
        "p99_ms_while_engine_loads": round(float(np.percentile(late, 99)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--arch", default="mlp", help="from-scratch preset to train (mlp, cnn), or finetune")
    parser.add_argument("--contended", action="store_true", help="two extra processes keep both cores busy")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(["ui_responsiveness"])
    from kiln_lab.gui.app import create_window
    from kiln_lab.gui.settings import AppSettings

    scratch = Path(tempfile.mkdtemp(prefix="kiln-ui-bench-"))
    settings = AppSettings(str(scratch / "settings.ini"))
    window = create_window(settings, runs_folder=str(scratch / "runs"))
    window.confirm_stop_training = lambda: True
    window.resize(1280, 800)
    hb = Heartbeat()
    paints = PaintClock()
    contention = Contention() if args.contended else None
    if contention is not None:
        contention.__enter__()
    try:
        startup = measure_startup(window, hb)
        window.open_dataset("demo:digits")
        wait_until(lambda: window.session.dataset is not None, 300, "the demo data")
        if args.arch == "finetune":
            window.session.update(model={"kind": "finetune", "backbone": "demo", "two_phase": True})
        else:
            window.session.update(model={"kind": "scratch", "arch": args.arch})
        window.session.load_config(window.session.config)
        measure(window, "data", hb, 1, paints)  # warm-up: TensorFlow traces its functions on the first run
        results = {
            "contended": bool(args.contended),
            "arch": args.arch,
            "startup": startup,
            "data_page": measure(window, "data", hb, args.epochs, paints),
            "train_page": measure(window, "train", hb, args.epochs, paints),
        }
    finally:
        if contention is not None:
            contention.__exit__()
    results["targets_met"] = (
        results["train_page"]["max_ms"] <= 50 and results["train_page"]["p99_ms"] <= 20
        and startup["first_beat_after_show_ms"] <= 500
    )
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
