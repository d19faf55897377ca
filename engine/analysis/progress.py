"""Progress and cancellation for the analysis tasks (evaluate, advise, diagnose, showdown, export).

A task reports `engine.events.Progress` through its sink and checks its cancel event between
units of work: between backbones, between optimizer steps, and between batches of a Keras
``predict`` through `PredictWatch` (a callback: one ``predict`` call is one library call, and
the callback is the only place inside it where a cancel can be noticed). A set event raises
`engine.errors.Cancelled`, which the window shows as a sentence, not as a failure.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from kiln_lab.engine.errors import check_cancelled
from kiln_lab.engine.events import EventSink, Progress


def predict_watch(cancel: threading.Event | None, sink: EventSink, task: str, message: str, samples: int,
                  batch_size: int, sentence: str) -> Any:
    """A Keras callback for ``model.predict``: Progress per batch (throttled) and Cancelled on cancel."""
    import keras

    total = max(1, math.ceil(samples / max(1, batch_size)))

    class PredictWatch(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
            check_cancelled(cancel, sentence)
            done = batch + 1
            if done == total or done % max(1, total // 50) == 0:  # about 50 reports, never one per batch
                sink(Progress(task, done, total, message))

    return PredictWatch()
