"""Python's garbage collector runs on the GUI thread only, in small steps, full sweeps deferred while a run is live.

A collection may start on whichever thread happens to allocate: during training that is the
training thread or a worker. When it frees a cycle that holds a Qt wrapper, shiboken defers
the C++ deletion to the GUI thread, which can then delete a widget twice and take the whole
window down (seen: a segfault in ``BindingManager::runDeletionInMainThread`` after a worker
ran). So automatic collection is off and a GUI timer collects instead (pyqtgraph's
`GarbageCollector` does the same, but checks once a second and sweeps everything every
tenth middle collection).

Checked once a second, the objects a training thread makes while TensorFlow traces its
functions piled up between checks: one middle-generation collection then took 76 ms of the
UI thread in the middle of a run (seen in ``bench/ui_responsiveness.py``). Checked ten times
a second, each step sees a tenth of that. A full sweep walks every object the process holds
(~100 ms and more after a model is built), so while a run is live it waits: at most
:data:`MAX_FULL_DEFERRAL_S`, or until the run ends.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 100
MAX_FULL_DEFERRAL_S = 600.0  # a live run still gets a full sweep every ten minutes


class GuiThreadCollector(QObject):
    """Collects by CPython's own generation thresholds, from a GUI timer."""

    def __init__(self, interval_ms: int = CHECK_INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._holds = 0
        self._last_full = time.monotonic()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def defer_full_collections(self, defer: bool) -> None:
        """While deferred (nested: one call with True per live run), only young generations are collected."""
        self._holds = max(0, self._holds + (1 if defer else -1))

    @property
    def deferring(self) -> bool:
        return self._holds > 0

    def check(self) -> int | None:
        """Collect the generation that is due, if any; returns it."""
        young, middle, old = gc.get_count()
        if young <= self.threshold[0]:
            return None
        generation = 0
        if middle > self.threshold[1]:
            generation = 1
            full_due = old > self.threshold[2]
            overdue = time.monotonic() - self._last_full > MAX_FULL_DEFERRAL_S
            if full_due and (not self.deferring or overdue):
                generation = 2
        gc.collect(generation)
        if generation == 2:
            self._last_full = time.monotonic()
        return generation


_collector: GuiThreadCollector | None = None


def collect_on_gui_thread() -> GuiThreadCollector:
    """Start the GUI-thread collector once per process (call from the GUI thread)."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector()
    return _collector


def defer_full_collections(defer: bool) -> None:
    """A live run starts (True) or ends (False); without a running collector this does nothing."""
    if _collector is not None:
        _collector.defer_full_collections(defer)
