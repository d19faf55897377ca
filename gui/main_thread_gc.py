"""Python's garbage collector runs on the GUI thread only.

A collection may start on whichever thread happens to allocate: during training that is the
training thread or a worker. When it frees a cycle that holds a Qt wrapper, shiboken defers
the C++ deletion to the GUI thread, which can then delete a widget twice and take the whole
window down (seen: a segfault in ``BindingManager::runDeletionInMainThread`` after a worker
ran). pyqtgraph's `GarbageCollector` turns automatic collection off and collects on a GUI
timer instead, by the same generation thresholds.
"""

from __future__ import annotations

from pyqtgraph.util.garbage_collector import GarbageCollector

_collector: GarbageCollector | None = None


def collect_on_gui_thread(interval_s: float = 1.0) -> GarbageCollector:
    """Start the GUI-thread collector once per process (call from the GUI thread)."""
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=interval_s)
    return _collector
