"""The window's link to the engine worker process: Qt signals over `engine.worker.client`.

One `EngineLink` per application (`shared_link()`): it starts the worker at launch, so
TensorFlow imports while the person looks at the Data page, and every page's task goes to
it as a `Call` (a task name of `engine.api` and plain-value arguments). A task is a
`RemoteTask` with the same signals as a local `gui.workers.Worker` (started, progress,
result, error, finished), so pages and `TaskSlot`s treat both alike.

The worker's messages arrive on a reader thread and are posted to the UI thread through a
queued signal; the UI thread never waits on the pipe. When the worker dies (abort, SIGKILL,
out of memory), every task it ran ends with one sentence, `died` tells the window, and a
fresh worker starts for the next task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from kiln_lab.engine.worker.client import EngineProcess, ThreadEngine, exit_sentence
from kiln_lab.engine.worker.protocol import TaskError
from kiln_lab.gui.live_tasks import register_live, unregister_live

# A run asked to stop ends at its next batch; one that has not ended this long after is ended
# with its worker (its run folder keeps the last checkpoint: Train more continues it).
STOP_GRACE_MS = 5000
# A task cancelled by the person (Cancel, Esc) that has not ended this long after, because it sits
# inside one library call (a model being saved or converted, a backbone being built), is ended with
# its worker, as a run past STOP_GRACE_MS is; but only while no other task runs there, since a
# worker ends with everything it runs (a training run is never ended to cancel an evaluation).
CANCEL_GRACE_MS = 3000
CANCEL_RECHECK_MS = 1000
TASK_WORDS_FALLBACK = "working"


@dataclass(frozen=True)
class Call:
    """One engine task by name (`engine.api.TASKS`) with its plain-value arguments."""

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, task: str, **kwargs: Any) -> Call:
        return cls(task, kwargs)


class _Context:
    """What a local worker's context offers that pages read: whether it was cancelled."""

    def __init__(self) -> None:
        self.cancelled = False


class RemoteTask(QObject):
    """One engine task running in the worker process; the signals of `gui.workers.Worker`."""

    started = Signal()
    progress = Signal(object)
    result = Signal(object)
    error = Signal(object)  # TaskError (gui.workers.WorkerError)
    finished = Signal()

    def __init__(self, link: EngineLink, call_id: int, call: Call, words: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.id = call_id
        self.call = call
        self.task = words
        self.context = _Context()
        self._running = False
        self.stop_requested = False
        self.cancel_requested = False  # the person cancelled it: whatever error follows is that cancel
        self.paused = False
        self.ended_by_kill = False
        self._grace: QTimer | None = None

    def start(self) -> RemoteTask:
        self._running = True
        register_live(self)
        self.link._send_call(self)
        self.started.emit()
        return self

    @property
    def running(self) -> bool:
        return self._running

    def cancel(self, grace_ms: int | None = None) -> None:
        """Ask the task to stop (a scan at its next file, an evaluation at its next batch, a run at
        its next batch); one still running ``grace_ms`` later is ended with its worker when it is
        the only task there (see `CANCEL_GRACE_MS`)."""
        self.context.cancelled = True
        self.cancel_requested = True
        self.stop(CANCEL_GRACE_MS if grace_ms is None else grace_ms)

    def stop(self, grace_ms: int | None = None) -> None:
        """Stop at the next batch; after ``grace_ms`` (a run: `STOP_GRACE_MS`) the worker is ended."""
        if not self._running:
            return
        self.stop_requested = True
        self.paused = False
        self.link._send({"op": "stop", "id": self.id})
        if grace_ms is not None and self._grace is None:
            self._grace = QTimer(self)
            self._grace.setSingleShot(True)
            self._grace.timeout.connect(self._grace_over)
            self._grace.start(grace_ms)

    def stop_trial(self, number: int) -> None:
        """Stop one run (``number``, from 1) of a comparison at its next batch; the comparison goes on."""
        if self._running:
            self.link._send({"op": "stop_trial", "id": self.id, "trial": int(number)})

    def pause(self) -> None:
        if self._running:
            self.paused = True
            self.link._send({"op": "pause", "id": self.id})

    def resume(self) -> None:
        if self._running:
            self.paused = False
            self.link._send({"op": "resume", "id": self.id})

    def wait(self, milliseconds: int = 30_000) -> bool:
        """Process events until the task has ended (tests, shutdown). True when it ended in time."""
        deadline = time.monotonic() + milliseconds / 1000
        while self._running and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return not self._running

    def _grace_over(self) -> None:
        if not self._running:
            return
        if self.cancel_requested and not self.stop_requested_only_here():
            # Other work runs in this worker: ending it would end that too. Wait for this task's
            # next check instead, and look again in a moment (the other work may have ended).
            if self._grace is not None:
                self._grace.start(CANCEL_RECHECK_MS)
            return
        self.ended_by_kill = True
        self.link.end_worker()

    def stop_requested_only_here(self) -> bool:
        """True when every other task in this worker was asked to stop too (ending it costs nothing)."""
        return all(t is self or t.stop_requested for t in self.link.running_tasks())

    def _finish(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._grace is not None:
            self._grace.stop()
        unregister_live(self)
        self.finished.emit()


class EngineLink(QObject):
    """The app's one engine worker: start, submit, hear, restart."""

    ready = Signal(object)  # engine info dict (device, versions, catalogue)
    died = Signal(str)  # one sentence: the worker ended unexpectedly (a fresh one is starting)
    failed_to_start = Signal(object)  # TaskError: the engine cannot load (no TensorFlow, say)
    retired = Signal(str)  # the worker ends after a task ran out of memory; a fresh one follows
    _posted = Signal(object, object)  # (process, message): from the reader thread to the UI thread
    _ended = Signal(object, object)  # (process, exit code)

    def __init__(self, parent: QObject | None = None, *, in_thread: bool = False) -> None:
        """``in_thread``: serve the engine on a thread of this process (debugging, tests that
        replace engine functions); the default is a worker process."""
        super().__init__(parent)
        self.in_thread = in_thread
        self._posted.connect(self._on_message)
        self._ended.connect(self._on_exit)
        self._process: EngineProcess | None = None
        self._tasks: dict[int, RemoteTask] = {}
        self._next_id = 1
        self.info: dict[str, Any] | None = None
        self.ready_at: float | None = None
        self._early_deaths = 0
        self.closing = False

    # -- the process ---------------------------------------------------------------------

    def start(self) -> None:
        """Start a worker unless one is running (TensorFlow imports there at once)."""
        if self._process is not None and self._process.alive:
            return
        self.info = None
        self.ready_at = None
        kind = ThreadEngine if self.in_thread else EngineProcess
        process = kind(lambda m: self._posted.emit(process, m), lambda code: self._ended.emit(process, code))
        self._process = process
        process.start()

    @property
    def is_ready(self) -> bool:
        return self.info is not None and self._process is not None and self._process.alive

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def end_worker(self) -> None:
        """End the worker now (its tasks end with a sentence); the next task starts a fresh one."""
        if self._process is not None:
            self._process.kill()

    def shutdown(self) -> None:
        self.closing = True
        if self._process is not None:
            self._process.shutdown()

    def wait_ready(self, milliseconds: int = 120_000) -> bool:
        deadline = time.monotonic() + milliseconds / 1000
        self.start()
        while not self.is_ready and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.01)
        return self.is_ready

    # -- tasks ---------------------------------------------------------------------------

    def submit(self, call: Call, *, words: str | None = None, parent: QObject | None = None) -> RemoteTask:
        """A task for ``call``, not yet started (connect its signals, then ``start()``)."""
        task = RemoteTask(self, self._next_id, call, words or TASK_WORDS_FALLBACK, parent)
        self._next_id += 1
        return task

    def _send_call(self, task: RemoteTask) -> None:
        if self._process is None or not self._process.alive:
            self.start()
        self._tasks[task.id] = task
        self._send({"op": "call", "id": task.id, "task": task.call.task, "kwargs": task.call.kwargs})

    def _send(self, message: dict[str, Any]) -> None:
        if self._process is not None:
            self._process.send(message)

    def running_tasks(self) -> list[RemoteTask]:
        return [t for t in self._tasks.values() if t.running]

    # -- what the worker says ------------------------------------------------------------

    def _on_message(self, process: EngineProcess, message: dict[str, Any]) -> None:
        if process is not self._process:
            return  # an old worker's last words
        op = message.get("op")
        if op == "ready":
            self.info = message.get("info") or {}
            self.ready_at = time.monotonic()
            self._early_deaths = 0
            self.ready.emit(self.info)
            return
        if op == "fatal":
            self.failed_to_start.emit(message.get("error"))
            return
        if op == "retiring":
            self.retired.emit(str(message.get("reason", "")))
            return
        task = self._tasks.get(message.get("id", -1))
        if task is None:
            return
        if op == "event":
            task.progress.emit(message.get("event"))
        elif op == "result":
            task.result.emit(message.get("value"))
        elif op == "error":
            task.error.emit(message.get("error"))
        elif op == "done":
            self._tasks.pop(task.id, None)
            task._finish()

    def _on_exit(self, process: EngineProcess, exitcode: int | None) -> None:
        if process is not self._process:
            return
        expected = process.expected_exit
        sentence = exit_sentence(exitcode)
        tasks = [t for t in self._tasks.values() if t.running]
        self._tasks.clear()
        for task in tasks:
            if task.ended_by_kill and task.cancel_requested:
                error = TaskError(
                    f"Cancelled: {task.task} did not stop within {CANCEL_GRACE_MS / 1000:g} s, so Kiln ended the "
                    "engine process to stop it; a fresh one is starting and nothing else was running there.",
                    sentence, True, "Cancelled",
                )
            elif task.cancel_requested:
                error = TaskError(f"Cancelled: {task.task} ended with the engine process.", sentence, True,
                                  "Cancelled")
            elif task.ended_by_kill:
                error = TaskError(
                    f"The run did not stop within {STOP_GRACE_MS // 1000} s of Stop, so Kiln ended the engine "
                    "process. Its run folder keeps the last checkpoint: Resume continues it.",
                    sentence, False, "EngineEnded",
                )
            else:
                error = TaskError(
                    f"{sentence} The window and your settings are unchanged; a fresh engine is starting. "
                    "A run with a run folder can be resumed from its last checkpoint.",
                    f"exit code: {exitcode}", False, "EngineDied",
                )
            task.error.emit(error)
            task._finish()
        self._process = None
        self.info = None
        if self.closing:
            return
        if not expected:
            self.died.emit(sentence)
        if self.ready_at is None and not expected:
            self._early_deaths += 1
        if self._early_deaths < 2:  # a worker that cannot even start is not restarted in a loop
            self.start()


_SHARED: EngineLink | None = None


def shared_link() -> EngineLink:
    """The application's engine link (made and started on first use). ``KILN_ENGINE=thread``
    serves the engine on a thread of the window's process instead (for a debugger)."""
    global _SHARED
    if _SHARED is None:
        import os

        _SHARED = EngineLink(in_thread=os.environ.get("KILN_ENGINE", "").lower() == "thread")
        _SHARED.start()
    return _SHARED


def use_link(link: EngineLink | None) -> EngineLink | None:
    """Make ``link`` the application's engine link (tests); returns the one it replaces."""
    global _SHARED
    previous, _SHARED = _SHARED, link
    return previous
