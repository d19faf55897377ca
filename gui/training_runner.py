"""The bridge between the train page and `engine.training.job.run_training`.

One run = one `Worker` (one QThread) that calls ``run_training`` with a sink that turns
every engine event into the worker's ``progress`` signal. Build, compile and fit all
happen in that thread, as Keras wants. Stop and pause go through the engine's
`RunControl`, which any thread may call.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.training.control import RunControl
from gui.workers import Worker, WorkerContext


class TrainingRunner(QObject):
    event = Signal(object)  # engine.events.* dataclasses (plain values)
    result = Signal(object)  # engine.training.job.RunResult
    error = Signal(object)  # WorkerError
    finished = Signal()
    paused_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker: Worker | None = None
        self.control: RunControl | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.running

    @property
    def paused(self) -> bool:
        return self.control is not None and self.control.paused

    def start(self, config: Any, dataset: Any, *, out_dir: str | None = None) -> Worker:
        """Start a run; raises RuntimeError if one is already running (the UI prevents that)."""
        if self.running:
            raise RuntimeError("a training run is already in progress")
        control = RunControl()

        def train(context: WorkerContext) -> Any:
            from engine.training.job import run_training

            return run_training(config, sink=context.progress, control=control, dataset=dataset, out_dir=out_dir)

        worker = Worker(train, task="training", parent=self)
        worker.progress.connect(self.event)
        worker.result.connect(self.result)
        worker.error.connect(self.error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.control = control
        return worker.start()

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.paused_changed.emit(False)

    def pause(self) -> None:
        if self.control is not None and self.running:
            self.control.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self.control is not None:
            self.control.resume()
            self.paused_changed.emit(False)

    def wait(self, milliseconds: int = 60_000) -> bool:
        return self._worker.wait(milliseconds) if self._worker is not None else True

    def _on_finished(self) -> None:
        self._worker = None
        self.finished.emit()
