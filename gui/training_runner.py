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
    compared = Signal(object)  # engine.analysis.compare.Comparison (a "Compare both" run)
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

    def start(self, config: Any, dataset: Any, *, out_dir: str | None = None, resume: bool = False) -> Worker:
        """Start a run (``resume``: continue the checkpoint in ``out_dir``); raises RuntimeError if one is running."""
        control = RunControl()

        def train(context: WorkerContext) -> Any:
            from engine.training.job import run_training

            return run_training(
                config, sink=context.progress, control=control, dataset=dataset, out_dir=out_dir, resume=resume
            )

        return self._launch(train, control, self.result, "training")

    def start_comparison(
        self,
        scratch: Any,
        finetune: Any,
        dataset: Any,
        *,
        fractions: tuple[float, ...] = (1.0,),
        repeats: int | None = None,
        out_dir: str | None = None,
    ) -> Worker:
        """Train both approaches head to head (`compare_approaches`) on this same single training thread.

        ``repeats``: runs per approach and share (None: the engine's default). Each run's events
        arrive on ``event`` like a normal run's (with "run k of n" `Progress`
        events between runs); the `Comparison` on ``compared``. With ``out_dir`` every run is
        kept as a run folder there, with the comparison's report.
        """
        control = RunControl()

        def compare(context: WorkerContext) -> Any:
            from engine.analysis.compare import DEFAULT_REPEATS, compare_approaches

            return compare_approaches(
                scratch, finetune, dataset, fractions=fractions, repeats=repeats or DEFAULT_REPEATS, out_dir=out_dir,
                sink=context.progress, control=control,
            )

        return self._launch(compare, control, self.compared, "comparing scratch and fine-tuning")

    def _launch(self, fn: Any, control: RunControl, result: Any, task: str) -> Worker:
        if self.running:
            raise RuntimeError("a training run is already in progress")
        worker = Worker(fn, task=task, parent=self)
        worker.progress.connect(self.event)
        worker.result.connect(result)
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
