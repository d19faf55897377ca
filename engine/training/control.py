"""Thread-safe stop and pause requests, honoured by a training job between batches."""

from __future__ import annotations

import threading


class RunControl:
    """Handed to a training job; any thread may call :meth:`stop`, :meth:`pause`, :meth:`resume`."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused job must wake up to notice the stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, poll_seconds: float = 0.1) -> None:
        """Block the calling (training) thread while paused; return at once on stop."""
        while not self._running.wait(poll_seconds):
            if self._stop.is_set():
                return
