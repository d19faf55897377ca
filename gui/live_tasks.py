"""The tasks still running, local `Worker`s and engine `RemoteTask`s alike (for shutdown and tests).

A task dropped by its owner must not be garbage-collected while it runs, so it is kept here
from start to finish.
"""

from __future__ import annotations

from typing import Any

_LIVE: set[Any] = set()


def register_live(task: Any) -> None:
    _LIVE.add(task)


def unregister_live(task: Any) -> None:
    _LIVE.discard(task)


def live_tasks() -> set[Any]:
    """The set itself: callers may prune entries whose Qt objects are gone."""
    return _LIVE
