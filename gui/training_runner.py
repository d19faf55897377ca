"""The bridge between the Train page and the engine's ``train`` and ``compare`` tasks.

A run is one `RemoteTask` in the engine worker process (`gui.engine_link`): its engine
events arrive as ``event`` signals, its outcome (an `engine.results.Record`) as ``result``
or ``compared``. Stop asks the run to stop at its next batch and, past a short grace, ends
the worker (the run folder keeps its last checkpoint); pause and resume go to the run.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from kiln_lab.gui.engine_link import STOP_GRACE_MS, Call, RemoteTask, shared_link


class TrainingRunner(QObject):
    event = Signal(object)  # engine.events.* dataclasses (plain values)
    result = Signal(object)  # Record "RunOutcome" (engine.api.train)
    compared = Signal(object)  # Record "Comparison" (engine.api.compare)
    error = Signal(object)  # WorkerError
    finished = Signal()
    paused_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._task: RemoteTask | None = None
        self.stop_requested = False
        self.out_dir: str | None = None  # the current (or last) run's folder: what Resume continues

    @property
    def running(self) -> bool:
        return self._task is not None and self._task.running

    @property
    def paused(self) -> bool:
        return self._task is not None and self._task.paused

    @property
    def ended_by_kill(self) -> bool:
        return self._task is not None and self._task.ended_by_kill

    def start(self, config: Any, *, out_dir: str | None = None, resume: bool = False) -> RemoteTask:
        """Start a run (``resume``: continue the checkpoint in ``out_dir``); raises RuntimeError if one is running."""
        self.out_dir = out_dir
        call = Call.of("train", config=config, out_dir=out_dir, resume=resume)
        return self._launch(call, self.result, "training")

    def start_comparison(
        self,
        scratch: Any,
        finetune: Any,
        *,
        fractions: tuple[float, ...] = (1.0,),
        repeats: int | None = None,
        max_steps: int | None = None,
        out_dir: str | None = None,
    ) -> RemoteTask:
        """Train both approaches head to head (the engine's ``compare`` task) in the one engine worker.

        ``repeats``: runs per approach and share; ``max_steps``: each run's step budget (None: the
        engine's defaults). Each run's events arrive on ``event`` like a normal run's (with
        "run k of n" `Progress` events between runs); the comparison on ``compared``. With
        ``out_dir`` every run is kept as a run folder there, with the comparison's report.
        """
        self.out_dir = None
        call = Call.of("compare", scratch=scratch, finetune=finetune, fractions=tuple(fractions), repeats=repeats,
                       max_steps=max_steps, out_dir=out_dir)
        return self._launch(call, self.compared, "comparing scratch and fine-tuning")

    def _launch(self, call: Call, result: Any, words: str) -> RemoteTask:
        if self.running:
            raise RuntimeError("a training run is already in progress")
        task = shared_link().submit(call, words=words, parent=self)
        task.progress.connect(self.event)
        task.result.connect(result)
        task.error.connect(self.error)
        task.finished.connect(self._on_finished)
        self._task = task
        self.stop_requested = False
        return task.start()

    def stop(self) -> None:
        if self._task is not None and self._task.running:
            self.stop_requested = True
            self._task.stop(grace_ms=STOP_GRACE_MS)
            self.paused_changed.emit(False)

    def stop_trial(self, number: int) -> None:
        """Stop one run of the comparison (numbered from 1 in the engine's `TrialState` events); the rest go on."""
        if self._task is not None and self._task.running:
            self._task.stop_trial(number)

    def pause(self) -> None:
        if self._task is not None and self.running:
            self._task.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._task is not None:
            self._task.resume()
            self.paused_changed.emit(False)

    def wait(self, milliseconds: int = 60_000) -> bool:
        return self._task.wait(milliseconds) if self._task is not None else True

    def _on_finished(self) -> None:
        self.finished.emit()
