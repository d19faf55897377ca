"""One worker abstraction for everything that must not run on the UI thread.

Engine work (scanning, building, training, evaluating, saving models) is a `Call` that runs
in the engine worker process (`gui.engine_link`); its `RemoteTask` has the same signals as a
local `Worker`, which is left for the window's own light work off the UI thread (writing a
run config, say). `TaskSlot` and `run_in_background` take either.

A `Worker` runs one callable on its own `QThread` and reports through a fixed set of
signals: ``started``, ``progress``, ``result``, ``error``, ``finished``. Signals carry plain
Python values (engine events, dicts, numbers, NumPy arrays for thumbnails) and never
widgets. The callable gets a `WorkerContext` for progress reports and cancellation, so it
stays ignorant of Qt.

Why a thread per worker rather than a pool: Keras keeps some state per thread, and the
training job must build, compile and fit in one thread it owns for its whole life.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

from engine.worker.protocol import TaskError, describe_error
from gui.engine_link import Call, RemoteTask, shared_link
from gui.live_tasks import live_tasks

# Workers that are still running are kept alive here (with the engine's remote tasks): a worker
# dropped by its owner must not be garbage-collected while its thread runs.
_LIVE_WORKERS = live_tasks()


# What went wrong, in a sentence the user can act on, plus the details for a fold: the same
# plain value for a local worker and an engine task (it crosses the worker's pipe).
WorkerError = TaskError


class WorkerContext:
    """Handed to the worker's callable: report progress, check for cancellation."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self.cancel_event = threading.Event()

    def progress(self, value: Any) -> None:
        """Report one plain value (an engine event, a number, a dict) to the UI thread."""
        self._worker.progress.emit(value)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


class _WorkerThread(QThread):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self._worker = worker

    def run(self) -> None:  # runs on the new thread
        self._worker._run()


class Worker(QObject):
    """Run ``fn(context)`` on a background thread; results come back as signals."""

    started = Signal()
    progress = Signal(object)
    result = Signal(object)
    error = Signal(object)  # WorkerError
    finished = Signal()

    def __init__(self, fn: Callable[[WorkerContext], Any], *, task: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task = task  # what it is doing, in words for the status bar ("scanning the dataset")
        self._fn = fn
        self.context = WorkerContext(self)
        self._thread = _WorkerThread(self)
        self._thread.setObjectName(f"kiln-worker: {task}")
        self._thread.finished.connect(self._on_thread_finished)
        self._running = False

    def start(self) -> Worker:
        _LIVE_WORKERS.add(self)
        self._running = True
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the callable to stop; it decides when (it watches ``context.cancel_event``)."""
        self.context.cancel_event.set()

    @property
    def running(self) -> bool:
        return self._running

    def wait(self, milliseconds: int = 30_000) -> bool:
        """Block until the thread ends (tests, shutdown). True when it ended in time."""
        return self._thread.wait(milliseconds)

    def _run(self) -> None:
        self.started.emit()
        try:
            value = self._fn(self.context)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI, not kill the thread
            self.error.emit(describe_exception(exc, self.task))
        else:
            self.result.emit(value)

    def _on_thread_finished(self) -> None:
        self._running = False
        self.finished.emit()
        _LIVE_WORKERS.discard(self)


def make_task(
    fn: Callable[[WorkerContext], Any] | Call, *, task: str, parent: QObject | None = None
) -> Any:
    """A `Worker` for a local callable, a `RemoteTask` for an engine `Call`; not started yet."""
    if isinstance(fn, Call):
        return shared_link().submit(fn, words=task, parent=parent)
    return Worker(fn, task=task, parent=parent)


def describe_exception(exc: BaseException, task: str) -> WorkerError:
    """Turn an exception into the sentence and details the error dialog shows (as the engine does)."""
    return describe_error(exc, task)


def run_in_background(
    fn: Callable[[WorkerContext], Any] | Call,
    *,
    task: str,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[WorkerError], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    on_finished: Callable[[], None] | None = None,
    parent: QObject | None = None,
) -> Worker:
    """Create, wire and start a worker in one call."""
    worker = make_task(fn, task=task, parent=parent)
    if on_result is not None:
        worker.result.connect(on_result)
    if on_error is not None:
        worker.error.connect(on_error)
    if on_progress is not None:
        worker.progress.connect(on_progress)
    if on_finished is not None:
        worker.finished.connect(on_finished)
    return worker.start()


def running_workers() -> list[Worker]:
    """Workers whose thread still runs. A worker whose Qt objects were already deleted (its window
    closed and was destroyed) is dropped here: waiting on a deleted QThread would crash."""
    alive = [
        w for w in list(_LIVE_WORKERS)
        if shiboken6.isValid(w) and (isinstance(w, RemoteTask) or shiboken6.isValid(w._thread))
    ]
    _LIVE_WORKERS.intersection_update(alive)
    return [w for w in alive if w.running]


class TaskSlot(QObject):
    """One running task per purpose on a page (Orange's ``ConcurrentWidgetMixin`` is the model).

    Starting a task cancels the one before it and makes it obsolete: whatever an obsolete
    worker still reports (progress, result, error, finished) is dropped, never painted. A
    task may also carry a ``key`` that names its inputs (a dataset, a recipe); when the
    slot's ``current_key()`` no longer equals it by the time the result arrives, the page
    has moved on and the result is dropped too.
    """

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, current_key: Callable[[], Any] | None = None) -> None:
        super().__init__(parent)
        self._current_key = current_key
        self._worker: Worker | None = None
        self._key: Any = None
        self.dropped = 0  # results dropped as stale (for tests and the curious)

    @property
    def worker(self) -> Worker | None:
        return self._worker

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.running

    def start(
        self,
        fn: Callable[[WorkerContext], Any] | Call,
        *,
        task: str,
        key: Any = None,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[WorkerError], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> Worker:
        """Cancel the previous task, then run ``fn`` on a worker; only this task's reports get through."""
        self.cancel()
        worker = make_task(fn, task=task, parent=self)
        self._worker, self._key = worker, key
        if on_progress is not None:
            worker.progress.connect(lambda value, w=worker: self._is_live(w) and on_progress(value))
        worker.result.connect(lambda value, w=worker: self._deliver(w, on_result, value))
        worker.error.connect(lambda error, w=worker: self._deliver(w, on_error, error))
        worker.finished.connect(lambda w=worker: self._on_finished(w, on_finished))
        self.busy_changed.emit(True)
        return worker.start()

    def cancel(self) -> None:
        """Ask the running task to stop and make it obsolete (its late reports are dropped)."""
        worker, self._worker = self._worker, None
        if worker is not None and worker.running:
            worker.cancel()
            self.busy_changed.emit(False)

    def is_stale(self, worker: Worker) -> bool:
        """True when ``worker`` was replaced, or the inputs it ran on are no longer the page's."""
        if worker is not self._worker:
            return True
        return self._current_key is not None and self._key is not None and self._current_key() != self._key

    def _is_live(self, worker: Worker) -> bool:
        return worker is self._worker

    def _deliver(self, worker: Worker, handler: Callable[[Any], None] | None, value: Any) -> None:
        if self.is_stale(worker):
            self.dropped += 1
            return
        if handler is not None:
            handler(value)

    def _on_finished(self, worker: Worker, handler: Callable[[], None] | None) -> None:
        if worker is not self._worker:
            return  # an obsolete task: the one that replaced it owns the page's busy state
        self._worker = None
        self.busy_changed.emit(False)
        if handler is not None:
            handler()
