"""Thread-safe stop and pause requests, honoured by a training job between batches."""

from __future__ import annotations

import threading


class RunControl:
    """Handed to a training job; any thread may call :meth:`stop`, :meth:`pause`, :meth:`resume`."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._stopped_trials: set[int] = set()  # a comparison's trials asked to stop (the others go on)
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused job must wake up to notice the stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop_trial(self, number: int) -> None:
        """Stop one trial of a comparison (numbered from 1), running or still to come; the others go on."""
        with self._lock:
            self._stopped_trials.add(int(number))

    def trial_stop_requested(self, number: int) -> bool:
        with self._lock:
            return int(number) in self._stopped_trials

    def for_trial(self, number: int) -> TrialControl:
        """The control one trial's run honours: this one's stop and pause, and its own stop."""
        return TrialControl(self, number)

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


class TrialControl:
    """One trial's view of a comparison's `RunControl`: stopped when the whole comparison or this trial is."""

    def __init__(self, parent: RunControl, number: int) -> None:
        self.parent = parent
        self.number = number

    @property
    def stop_requested(self) -> bool:
        return self.parent.stop_requested or self.parent.trial_stop_requested(self.number)

    @property
    def paused(self) -> bool:
        return self.parent.paused and not self.stop_requested

    def stop(self) -> None:
        self.parent.stop_trial(self.number)

    def pause(self) -> None:
        self.parent.pause()

    def resume(self) -> None:
        self.parent.resume()

    def wait_while_paused(self, poll_seconds: float = 0.1) -> None:
        while self.parent.paused and not self.stop_requested:
            self.parent._running.wait(poll_seconds)
