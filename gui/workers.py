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

Every task made here (`make_task`, so `run_in_background` and `TaskSlot` too) is also put on
the window's `ActivityBoard`: what it is doing in words, its progress when the engine reports
`engine.events.Progress`, and a way to cancel it. The status bar's activity indicator shows
the board (words at once; progress bar and Cancel for a task past a second). A task the person
cancelled ends through ``on_cancelled`` (a sentence on its page) when the caller gives one,
not through ``on_error``.

Why a thread per worker rather than a pool: Keras keeps some state per thread, and the
training job must build, compile and fit in one thread it owns for its whole life.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

from kiln_lab.engine.events import Progress
from kiln_lab.engine.worker.protocol import TaskError, describe_error
from kiln_lab.gui.engine_link import Call, RemoteTask, shared_link
from kiln_lab.gui.live_tasks import live_tasks

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
        self.cancel_requested = False  # the person cancelled it: whatever error follows is that cancel
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
        self.cancel_requested = True
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
    fn: Callable[[WorkerContext], Any] | Call, *, task: str, parent: QObject | None = None,
    activity: str | None = None,
) -> Any:
    """A `Worker` for a local callable, a `RemoteTask` for an engine `Call`; not started yet. It is
    on the `ActivityBoard` from its start to its end, as ``activity`` ("Evaluating on the test
    split…"; default: ``task`` as a sentence)."""
    if isinstance(fn, Call):
        worker = shared_link().submit(fn, words=task, parent=parent)
    else:
        worker = Worker(fn, task=task, parent=parent)
    activity_board().track(worker, activity or as_activity(task))
    return worker


def as_activity(task: str) -> str:
    """``"evaluating the model"`` -> ``"Evaluating the model…"`` (the status bar's words)."""
    words = task.strip() or "Working"
    return words[0].upper() + words[1:] + ("" if words.endswith(("…", ".")) else "…")


def is_cancellation(worker: Any, error: Any) -> bool:
    """True when ``error`` is how a cancelled task ended: the engine's `Cancelled`, or any ending of
    a task the person had cancelled (a scan's "Scanning was cancelled.", a worker ended after the grace)."""
    return getattr(error, "kind", "") == "Cancelled" or bool(getattr(worker, "cancel_requested", False))


def _error_or_cancel(
    worker: Any, on_error: Callable[[WorkerError], None] | None, on_cancelled: Callable[[], None] | None
) -> Callable[[WorkerError], None]:
    # A caller without ``on_cancelled`` hears a cancel as before, through ``on_error`` (the Data
    # page's scan tells "Scanning was cancelled." apart itself).
    def handle(error: WorkerError) -> None:
        if on_cancelled is not None and is_cancellation(worker, error):
            on_cancelled()
        elif on_error is not None:
            on_error(error)

    return handle


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
    on_cancelled: Callable[[], None] | None = None,
    parent: QObject | None = None,
    activity: str | None = None,
) -> Worker:
    """Create, wire and start a worker in one call. A cancelled task calls ``on_cancelled`` (put the
    page back, say so in a sentence) instead of ``on_error``; ``on_finished`` runs either way."""
    worker = make_task(fn, task=task, parent=parent, activity=activity)
    if on_result is not None:
        worker.result.connect(on_result)
    if on_error is not None or on_cancelled is not None:
        worker.error.connect(_error_or_cancel(worker, on_error, on_cancelled))
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
        on_cancelled: Callable[[], None] | None = None,
        activity: str | None = None,
    ) -> Worker:
        """Cancel the previous task, then run ``fn`` on a worker; only this task's reports get through.
        A task the person cancels (the status bar's Cancel) calls ``on_cancelled``, not ``on_error``,
        then ``on_finished``: the page is put back as it was before the task."""
        self.cancel()
        worker = make_task(fn, task=task, parent=self, activity=activity)
        self._worker, self._key = worker, key
        if on_progress is not None:
            worker.progress.connect(lambda value, w=worker: self._is_live(w) and on_progress(value))
        worker.result.connect(lambda value, w=worker: self._deliver(w, on_result, value))
        handle = _error_or_cancel(worker, on_error, on_cancelled)
        worker.error.connect(lambda error, w=worker: self._deliver(w, handle, error))
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


# Engine tasks whose Progress messages say what the task does as a whole ("Advisor: probing 3
# backbones (1 of 3: demo)"), so the status bar shows them instead of the task's words; a scan's
# messages ("Checked 120 files") are details, shown as the bar's tooltip.
HEADLINE_TASKS = frozenset({"advise", "diagnose", "showdown", "evaluate", "export"})


class Activity:
    """One task on the board: its words, its progress as the engine reports it, its state."""

    def __init__(self, task: Any, words: str) -> None:
        self.task = task
        self.words = words
        self.message = ""  # the task's latest Progress message ("Advisor: probing 3 backbones (1 of 3: demo)")
        self.done: int | None = None
        self.total: int | None = None
        self.started = time.monotonic()
        self.cancelling = False
        self.detail = ""  # the latest Progress message of any kind ("Checked 120 files"), for a tooltip

    @property
    def running(self) -> bool:
        return shiboken6.isValid(self.task) and bool(self.task.running)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def determinate(self) -> bool:
        return bool(self.total) and self.done is not None

    @property
    def text(self) -> str:
        """What the status bar says: the task's latest message, else its words; ends with an ellipsis."""
        words = as_activity(self.message) if self.message else self.words
        return f"Cancelling: {words[0].lower()}{words[1:]}" if self.cancelling else words


class ActivityBoard(QObject):
    """Every task the window started and that still runs, newest last (the status bar reads it)."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._entries: list[Activity] = []

    def track(self, task: Any, words: str) -> Activity:
        entry = Activity(task, words)
        self._entries.append(entry)
        task.started.connect(self._on_started)
        task.progress.connect(lambda value, e=entry: self._on_progress(e, value))
        task.finished.connect(lambda e=entry: self._on_finished(e))
        return entry

    def entries(self) -> list[Activity]:
        """The tasks running now, oldest first (a task whose Qt object is gone is dropped)."""
        self._entries = [e for e in self._entries if shiboken6.isValid(e.task)]
        return [e for e in self._entries if e.running]

    def latest(self) -> Activity | None:
        running = self.entries()
        return running[-1] if running else None

    def entry_for(self, task: Any) -> Activity | None:
        return next((e for e in self._entries if e.task is task), None)

    def cancel(self, entry: Activity | None = None) -> Activity | None:
        """Cancel ``entry`` (default: the newest task that is not cancelling yet); it ends through its
        page's ``on_cancelled``. One task only, never all."""
        if entry is None:
            entry = next((e for e in reversed(self.entries()) if not e.cancelling), None)
        if entry is None or not entry.running:
            return None
        entry.cancelling = True
        entry.task.cancel()
        self.changed.emit()
        return entry

    def _on_started(self) -> None:
        self.changed.emit()

    def _on_progress(self, entry: Activity, value: Any) -> None:
        if isinstance(value, Progress):
            entry.done, entry.total = value.done, value.total
            if value.message and value.task in HEADLINE_TASKS:
                entry.message = value.message
            entry.detail = value.message
            self.changed.emit()

    def _on_finished(self, entry: Activity) -> None:
        if entry in self._entries:
            self._entries.remove(entry)
        self.changed.emit()


_BOARD: ActivityBoard | None = None


def activity_board() -> ActivityBoard:
    """The application's one board (made on first use, on the UI thread)."""
    global _BOARD
    if _BOARD is None or not shiboken6.isValid(_BOARD):
        _BOARD = ActivityBoard()
    return _BOARD
