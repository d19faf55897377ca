"""The engine worker's loop: runs in its own process and serves `engine.api` by task name.

The window's process starts it (`engine.worker.client.EngineProcess`) at launch, so
TensorFlow imports while the person looks at the Data page. The loop:

1. A reader thread takes messages off the pipe at once: ``stop`` / ``pause`` / ``resume`` /
   ``cancel`` act on the running task's `RunControl` immediately; ``call`` is queued.
2. The main thread imports TensorFlow, says ``ready`` with the device and versions, then
   starts each queued call on a thread of its own (Keras keeps state per thread: a task
   builds, compiles and fits on its one thread). Calls may overlap: a preview may run while
   a model trains, as in the single-process app.
3. Each task's events, result or error go back as messages. A task that raises gets its
   error as a `TaskError`; the worker lives on. Only the process dying (abort, SIGKILL, the
   kernel's out-of-memory killer) ends it, and the client then starts a fresh one.
"""

from __future__ import annotations

import inspect
import os
import queue
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from kiln_lab.engine.worker import protocol
from kiln_lab.engine.worker.protocol import describe_error


class _Outbox:
    """Sends messages from any thread, one at a time (a pipe is not thread-safe)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: dict[str, Any], *, check: bool = False) -> None:
        """``check``: read the message back first (a result naming a class the window refuses
        fails here, as the task's error, instead of in the window)."""
        data = protocol.dumps(message)
        if check:
            protocol.loads(data)
        with self._lock:
            if self.closed:
                return
            try:
                self._conn.send_bytes(data)
            except (OSError, EOFError, BrokenPipeError):
                self.closed = True  # the window went away; the tasks finish into the void


class _Task:
    def __init__(self, call_id: int, name: str, kwargs: dict[str, Any], outbox: _Outbox,
                 retire: Any = None) -> None:
        from kiln_lab.engine.training.control import RunControl

        self.id = call_id
        self.name = name
        self.kwargs = kwargs
        self.outbox = outbox
        self.retire = retire  # called after a task ran out of memory: this process should end
        self.control = RunControl()
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"kiln-task-{call_id}-{name}", daemon=True)

    def stop(self) -> None:
        self.control.stop()
        self.cancel.set()

    def sink(self, event: Any) -> None:
        self.outbox.send({"op": "event", "id": self.id, "event": event})

    def run(self) -> None:
        from kiln_lab.engine import api

        try:
            function = api.TASKS[self.name]
        except KeyError:
            error = protocol.TaskError(f"The engine has no task named {self.name!r}.", "", False, "KeyError")
            self.outbox.send({"op": "error", "id": self.id, "error": error})
            self.outbox.send({"op": "done", "id": self.id})
            return
        words = api.TASK_WORDS.get(self.name, self.name.replace("_", " "))
        try:
            accepted = inspect.signature(function).parameters
            extra = {key: value for key, value in (("sink", self.sink), ("control", self.control),
                                                    ("cancel", self.cancel)) if key in accepted}
            value = function(**self.kwargs, **extra)
        except BaseException as exc:  # noqa: BLE001 - every failure reaches the window, the worker lives on
            error = describe_error(exc, words)
            self.outbox.send({"op": "error", "id": self.id, "error": error})
            from kiln_lab.engine.errors import is_out_of_memory

            if is_out_of_memory(exc) and self.retire is not None:
                # Memory may be left fragmented or half-freed: a fresh process serves the next task.
                self.outbox.send({"op": "done", "id": self.id})
                self.retire(error.sentence)
                return
        else:
            try:
                self.outbox.send({"op": "result", "id": self.id, "value": value}, check=True)
            except Exception as exc:  # noqa: BLE001 - a result that cannot be sent is a bug in the task
                self.outbox.send({"op": "error", "id": self.id, "error": describe_error(exc, words)})
        self.outbox.send({"op": "done", "id": self.id})


def serve(conn: Connection, niceness: int = 0) -> None:
    """The worker process's main function (the target the client spawns)."""
    if niceness and hasattr(os, "nice"):
        try:
            os.nice(niceness)  # training yields to what the person does meanwhile
        except OSError:
            pass
    outbox = _Outbox(conn)
    outbox.send({"op": "hello", "pid": os.getpid()})
    calls: queue.Queue[dict[str, Any] | None] = queue.Queue()
    tasks: dict[int, _Task] = {}
    stopped_early: set[int] = set()  # stop/cancel for a call still queued (the engine was loading)
    tasks_lock = threading.Lock()

    def read() -> None:
        while True:
            try:
                message = protocol.loads(conn.recv_bytes())
            except (EOFError, OSError):
                calls.put(None)  # the window is gone: stop serving
                return
            except protocol.ProtocolError as exc:
                outbox.send({"op": "fatal", "error": protocol.TaskError(str(exc), "", False, "ProtocolError")})
                continue
            op = message.get("op")
            if op == "call":
                calls.put(message)
            elif op == "shutdown":
                calls.put(None)
                return
            else:
                with tasks_lock:
                    task = tasks.get(message.get("id", -1))
                    if task is None and op in ("stop", "cancel"):
                        stopped_early.add(message.get("id", -1))
                if task is None:
                    continue
                if op in ("stop", "cancel"):
                    task.stop()
                elif op == "pause":
                    task.control.pause()
                elif op == "resume":
                    task.control.resume()
                elif op == "stop_trial":  # one run of a comparison; the others go on
                    task.control.stop_trial(int(message.get("trial", 0)))

    def retire(reason: str) -> None:
        outbox.send({"op": "retiring", "reason": reason})
        calls.put(None)

    threading.Thread(target=read, name="kiln-worker-reader", daemon=True).start()
    try:
        from kiln_lab.engine import api

        info = api.engine_info()
    except BaseException as exc:  # noqa: BLE001 - the window must hear why there is no engine
        outbox.send({"op": "fatal", "error": describe_error(exc, "loading TensorFlow")})
        return
    outbox.send({"op": "ready", "info": info})
    while True:
        message = calls.get()
        if message is None:
            break
        task = _Task(int(message["id"]), str(message["task"]), dict(message.get("kwargs") or {}), outbox, retire)
        with tasks_lock:
            tasks[task.id] = task
            for done_id in [i for i, t in tasks.items() if t is not task and not t.thread.is_alive()]:
                del tasks[done_id]
            if task.id in stopped_early:  # cancelled while it waited: it starts stopped, and ends at once
                stopped_early.discard(task.id)
                task.stop()
        task.thread.start()
    with tasks_lock:
        running = list(tasks.values())
    for task in running:  # a clean shutdown: ask runs to stop at the next batch, give them a moment
        task.stop()
    for task in running:
        if task.thread is not threading.current_thread():
            task.thread.join(timeout=10)
    outbox.closed = True
    sys.stdout.flush()
    try:
        conn.close()
    except OSError:
        pass
