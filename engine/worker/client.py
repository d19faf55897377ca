"""The window's side of the engine worker: start it, send it tasks, hear it, restart it.

Why a process and not a thread: the window and TensorFlow used to share one interpreter
lock, so a plot's paint waited for the training thread (p99 lateness 32-84 ms under load)
and TensorFlow's import froze the window for seconds; a crash inside TensorFlow (abort,
segfault, the out-of-memory killer) took the window and every unsaved setting with it.

Why `multiprocessing` with the spawn context rather than `QProcess`: the pipe is a message
channel of its own (TensorFlow and C++ libraries write to stdout and stderr freely, which a
QProcess would have to share with the messages), it frames and pickles messages for us, it
works the same on Linux, macOS and Windows, and it keeps this module free of Qt, so the CLI
and tests drive the same client. Spawn, never fork: a forked child would inherit the
window's Qt state and threads. A reader thread blocks on the pipe and hands each message to
a callback; the app's Qt adapter (`gui/engine_link.py`) posts it to the UI thread.

This module imports neither TensorFlow nor Keras: the window's process never does.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from kiln_lab.engine.worker import protocol

# The worker runs a little below the window's priority (KILN_ENGINE_NICENESS, default 5): training
# is background work, and the person keeps using the computer. With two other busy processes on
# two cores, niceness 0 let one 80 ms stall through on the fine-tuning run's Train page; niceness 5
# kept every beat under 20 ms but gave training half the CPU it had at 0, since it then yields to
# the other processes too. On an idle machine it costs nothing (docs/PERFORMANCE.md).
WORKER_NICENESS = int(os.environ.get("KILN_ENGINE_NICENESS", "5") or 0)


def exit_sentence(exitcode: int | None) -> str:
    """What a worker's end means, in words."""
    if exitcode is None:
        return "The engine process stopped answering."
    if exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == getattr(signal, "SIGKILL", 9):
            return (f"The engine process was killed ({name}): most often the system ran out of memory, "
                    "or it was ended from outside.")
        if number == getattr(signal, "SIGABRT", 6):
            return f"The engine process aborted ({name}) inside TensorFlow or a library it uses."
        if number == getattr(signal, "SIGSEGV", 11):
            return f"The engine process crashed ({name}) inside TensorFlow or a library it uses."
        return f"The engine process ended on {name}."
    return f"The engine process exited with status {exitcode}."


class EngineProcess:
    """One engine worker process and its pipe.

    ``on_message(message)`` and ``on_exit(exitcode)`` are called on the reader thread; they
    must hand work to their own thread (the app posts to the UI thread).
    """

    def __init__(self, on_message: Callable[[dict[str, Any]], None], on_exit: Callable[[int | None], None], *,
                 niceness: int = WORKER_NICENESS) -> None:
        self._on_message = on_message
        self._on_exit = on_exit
        self._niceness = niceness
        self._process: Any = None
        self._conn: Any = None
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        self._ended = threading.Event()
        self.expected_exit = False  # set before ending it on purpose (stop grace, shutdown)

    def start(self) -> None:
        from kiln_lab.engine.worker.server import serve  # a plain function: spawn pickles it by name

        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe(duplex=True)
        # Not a daemon: a daemon process may not start processes of its own (Keras data workers).
        self._process = context.Process(target=serve, args=(child_conn, self._niceness), name="kiln-engine")
        with _main_module_hidden():
            self._process.start()
        _end_workers_at_exit()
        child_conn.close()
        self._conn = parent_conn
        threading.Thread(target=self._read, name="kiln-engine-reader", daemon=True).start()
        threading.Thread(target=self._write, name="kiln-engine-writer", daemon=True).start()
        _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive() and not self._ended.is_set()

    @property
    def exitcode(self) -> int | None:
        return None if self._process is None else self._process.exitcode

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; the writer thread sends it (the caller never blocks on the pipe)."""
        self._outbox.put(protocol.dumps(message))

    def _write(self) -> None:
        while True:
            data = self._outbox.get()
            if data is None or self._ended.is_set():
                return
            try:
                self._conn.send_bytes(data)
            except (OSError, EOFError, BrokenPipeError):
                return  # the reader sees the end and reports it

    def _read(self) -> None:
        while True:
            try:
                data = self._conn.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                message = protocol.loads(data)
            except protocol.ProtocolError as exc:
                message = {"op": "fatal", "error": protocol.TaskError(
                    f"The engine sent a message Kiln cannot read ({exc}).", "", False, "ProtocolError")}
            if message.get("op") == "retiring":
                self.expected_exit = True  # it ends on purpose (out of memory): not a crash
            self._on_message(message)
        exitcode = self._join()
        self._ended.set()
        self._outbox.put(None)
        _LIVE.discard(self)
        self._on_exit(exitcode)

    def _join(self) -> int | None:
        self._process.join(timeout=10)
        return self._process.exitcode

    def kill(self) -> None:
        """End the worker now (SIGKILL): a run that did not stop within its grace, or shutdown."""
        self.expected_exit = True
        if self._process is not None and self._process.is_alive():
            self._process.kill()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish (runs stop at the next batch), then end it if it does not."""
        self.expected_exit = True
        if self._process is None or not self._process.is_alive():
            return
        self.send({"op": "shutdown"})
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)

    def wait_ended(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start the worker without it re-running the window's main script.

    Spawn normally imports the parent's ``__main__`` in the child, so a script that opens a
    window at module level, with no ``if __name__ == "__main__"`` guard, would fail to start
    the engine (or open a second window). The worker's target is importable by name and
    needs nothing from the main script, so spawn is told there is none.
    """
    main = sys.modules.get("__main__")
    names = ("__file__", "__spec__")
    saved = {name: main.__dict__[name] for name in names if main is not None and name in main.__dict__}
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


class ThreadEngine(EngineProcess):
    """The same engine loop on a thread of this process, over the same pipe and protocol.

    For debugging (a breakpoint in an engine task; ``KILN_ENGINE=thread``) and for tests that
    replace an engine function in this process. It shares this process's interpreter lock, so
    it gives none of the worker process's isolation: it cannot be killed, only asked to end.
    """

    def start(self) -> None:
        from kiln_lab.engine.worker.server import serve

        parent_conn, child_conn = multiprocessing.Pipe(duplex=True)
        self._conn = parent_conn
        self._thread = threading.Thread(target=serve, args=(child_conn,), name="kiln-engine-thread", daemon=True)
        self._thread.start()
        threading.Thread(target=self._read, name="kiln-engine-reader", daemon=True).start()
        threading.Thread(target=self._write, name="kiln-engine-writer", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return os.getpid()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._ended.is_set()

    @property
    def exitcode(self) -> int | None:
        return None if self._thread.is_alive() else 0

    def _join(self) -> int | None:
        self._thread.join(timeout=10)
        return self.exitcode

    def kill(self) -> None:
        self.shutdown()

    def shutdown(self, timeout: float = 5.0) -> None:
        self.expected_exit = True
        if self._thread.is_alive():
            self.send({"op": "shutdown"})
            self._thread.join(timeout)


_LIVE: set[EngineProcess] = set()
_AT_EXIT = threading.Lock()
_registered = False


def _end_workers_at_exit() -> None:
    """Register the kill at exit once a worker has started. Registered after `multiprocessing`
    registered its own exit function, so it runs first (atexit runs last-in, first-out): the
    multiprocessing one joins every child, and would wait for a worker nobody ended."""
    global _registered
    with _AT_EXIT:
        if not _registered:
            atexit.register(_end_workers)
            _registered = True


def _end_workers() -> None:
    # The window's process is leaving: no worker outlives it.
    for process in list(_LIVE):
        process.expected_exit = True
        try:
            if process._process is not None and process._process.is_alive():
                process._process.kill()
        except (OSError, ValueError, AttributeError):
            pass
