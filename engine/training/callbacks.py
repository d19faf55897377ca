"""Keras callbacks that connect a fit to Kiln: events, stop/pause, NaN guard, checkpoints."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import keras

from kiln_lab.engine.events import BatchEnd, EpochEnd, EventSink, RunWarning
from kiln_lab.engine.training.control import RunControl


def _plain(logs: dict[str, Any] | None) -> dict[str, float]:
    return {k: float(v) for k, v in (logs or {}).items() if is_number(v)}


def is_number(value: Any) -> bool:
    """True for a value Keras logged that reads as a number (a float, a 0-d tensor)."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def current_learning_rate(model: Any) -> float:
    try:
        rate = model.optimizer.learning_rate
        inner = getattr(rate, "value", None)  # on TensorFlow, the tf.Variable under the Keras variable
        if callable(getattr(inner, "value", None)):
            # One ReadVariableOp, read at every epoch's end on the training thread: the NumPy
            # conversion adds an identity op, each about 0.1-0.2 ms while tf.data fills batches.
            return float(inner.value())
        return float(keras.ops.convert_to_numpy(rate))
    except (AttributeError, TypeError, ValueError):
        return float("nan")


class EventReporter(keras.callbacks.Callback):
    """Turns Keras's callbacks into Kiln events and honours stop/pause between batches.

    Batch events are throttled to ``batch_interval`` seconds so a fast model cannot flood a
    GUI's event queue; epoch events are never dropped. A batch with no event to send costs a
    clock read and two flag checks: the loss (a device-to-host copy) is read, and checked for
    NaN, only when an event goes out, on the epoch's last batch and at the epoch's end, so a
    blow-up is caught within ``batch_interval`` seconds. The reporter defines no
    ``on_train_batch_end`` (see `on_train_batch_begin`), so Keras keeps its batch-end work off
    the training thread.

    The `EpochEnd` event goes out from `closing_callback()` when the job puts that last in the
    callback list, so its ``seconds`` include everything after the epoch's batches (validation,
    the NaN guard, the checkpoint): the time the person actually waited.
    """

    def __init__(self, sink: EventSink, control: RunControl, *, epochs: int, steps: int, batch_interval: float = 0.1):
        super().__init__()
        self.sink = sink
        self.control = control
        self.epochs = epochs
        self.steps = steps
        self.batch_interval = batch_interval
        self._last_emit = 0.0
        self._epoch = 0
        self._epoch_started = 0.0
        self._batch: int | None = None  # the batch running now (its event goes out when the next begins)
        self._mid_epoch_reads = True  # False for a replicated model (see on_train_begin)
        self.global_step = 0
        self.stopped_by_user = False
        self.nan_detected = False
        self._closer: _EpochCloser | None = None
        from kiln_lab.engine.monitors.overfitting import OverfittingWatch

        self.overfitting = OverfittingWatch()

    def on_train_begin(self, logs: dict | None = None) -> None:
        # Reading the running metrics off the model mid-epoch is a collective (an all-reduce of
        # their sync-on-read variables) when the model is replicated: each worker would read at
        # its own moments and the workers' collectives would stop matching (multi-worker runs
        # failed with "Shape mismatch in the collective"). Replicated runs send only each
        # epoch's last batch, whose figures Keras hands over.
        strategy = getattr(self.model, "distribute_strategy", None)
        self._mid_epoch_reads = not (strategy is not None and getattr(strategy, "num_replicas_in_sync", 1) > 1)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._epoch_started = time.perf_counter()
        self._batch = None

    def closing_callback(self) -> keras.callbacks.Callback:
        """A callback to put last in the list: it sends `EpochEnd` once every other callback is done."""
        self._closer = _EpochCloser(self)
        return self._closer

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        # The per-batch work runs at the *start* of the next batch, never in on_train_batch_end:
        # a callback that defines on_train_batch_end makes Keras convert every batch's logs to
        # Python floats on the training thread (a device-to-host copy of each metric per batch)
        # instead of handing them to its background thread. Here, a batch with no event to send
        # costs a clock read and two flag checks; the figures are read only when one goes out.
        if batch > 0:
            self._batch_done(batch - 1)
        self._batch = batch
        if self.control.paused:
            self.control.wait_while_paused()
        if self.control.stop_requested:
            self.stopped_by_user = True
            self.model.stop_training = True

    def _batch_done(self, batch: int, logs: dict | None = None) -> None:
        """Batch ``batch`` has run: send a `BatchEnd` when one is due (about ten a second, and the
        epoch's last batch, whose ``logs`` are given), reading the running figures off the model only then."""
        self.global_step += 1
        now = time.perf_counter()
        due = self._mid_epoch_reads and now - self._last_emit >= self.batch_interval
        if due or logs is not None:
            self._last_emit = now
            if logs is None:
                logs = _plain(self.model.get_metrics_result())
            loss = float(logs["loss"]) if logs and "loss" in logs else None
            if loss is not None and not math.isfinite(loss):
                self._blew_up(loss, batch)
                return
            self.sink(BatchEnd(self._epoch, batch, self.steps, _plain(logs), self.global_step))

    def _blew_up(self, loss: float, batch: int | None) -> None:
        self.nan_detected = True
        self.model.stop_training = True
        where = f"epoch {self._epoch + 1}" + (f", batch {batch + 1}" if batch is not None else "")
        self.sink(
            RunWarning(
                f"The loss became {loss} at {where}, so training stopped. "
                "The learning rate is probably too high, or the initial weights too large: lower the rate, "
                "or pick He/Glorot initialisation. The weights from the last finished epoch were kept.",
                kind="nan",
            )
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.nan_detected and self._batch is not None:  # the epoch's last batch: its event always goes out
            self._batch_done(self._batch, {k: v for k, v in _plain(logs).items() if not k.startswith("val_")})
            self._batch = None
        loss = (logs or {}).get("loss")
        if not self.nan_detected and loss is not None and is_number(loss) and not math.isfinite(float(loss)):
            self._blew_up(float(loss), None)  # before the NaN guard's epoch-end copy, which runs after this
        if self._closer is None:
            self.finish_epoch(epoch, logs)

    def finish_epoch(self, epoch: int, logs: dict | None = None) -> None:
        """Send `EpochEnd` (and an overfitting warning when one is due); honour a late stop."""
        values = _plain(logs)
        if self.nan_detected:
            return
        lr = values.pop("learning_rate", None)
        if lr is None:
            lr = current_learning_rate(self.model)
        self.sink(EpochEnd(epoch, self.epochs, values, float(lr), time.perf_counter() - self._epoch_started))
        overfitting = self.overfitting.update(epoch, values)
        if overfitting:
            self.sink(RunWarning(overfitting, kind="overfitting"))
        if self.control.stop_requested:  # a stop asked for during the epoch's last batch or its validation
            self.stopped_by_user = True
            self.model.stop_training = True


class _EpochCloser(keras.callbacks.Callback):
    """The last callback of an epoch: sends the reporter's `EpochEnd` (see `EventReporter`)."""

    def __init__(self, reporter: EventReporter):
        super().__init__()
        self.reporter = reporter

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.reporter.finish_epoch(epoch, logs)


class NanWeightsGuard(keras.callbacks.Callback):
    """Keeps the last finite weights so a NaN blow-up does not ruin the model.

    The copy stays where the weights live (on the device), so no epoch pays a device-to-host
    copy of the whole model; only a blow-up puts it back. It is taken when the fit begins and
    at the end of every epoch but the fit's last (nothing trains after that one, so its copy
    would never be put back).

    On TensorFlow the copy is one read op per weight (`_TensorFlowValues`): called between
    epochs, while tf.data's threads fill the next batches, each eager op costs about 0.1 ms on a
    busy 2-core machine, and Keras variables as copies took three ops per weight to make and two
    per epoch. A ``tf.function`` over all weights would be one call per epoch, but tracing it
    costs 15-60 ms per fit (digits MLP), more than a hundred epochs of eager copies. Other
    backends keep Keras variables (`_KerasCopies`).
    """

    def __init__(self, reporter: EventReporter):
        super().__init__()
        self.reporter = reporter
        self._backup: Any = None
        self._last_epoch = -1

    def on_train_begin(self, logs: dict | None = None) -> None:
        from kiln_lab.engine.runtime import tensorflow_backend

        self._last_epoch = int(self.params.get("epochs") or 0) - 1 if self.params else -1
        weights = list(self.model.weights)
        self._backup = _TensorFlowValues(weights) if tensorflow_backend() else _KerasCopies(weights)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.reporter.nan_detected or self._backup is None:
            return
        if epoch >= self._last_epoch >= 0 or self.model.stop_training:
            return  # the fit ends here: no epoch follows whose blow-up this copy would undo
        self._backup.take()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.reporter.nan_detected and self._backup is not None:
            self._backup.put_back()
        self._backup = None


class _KerasCopies:
    """Device copies of ``weights`` as Keras variables (any backend)."""

    def __init__(self, weights: list[Any]):
        self.weights = weights
        # ops.copy: a Variable made straight from another one would share its storage under TensorFlow.
        self.copies = [
            keras.Variable(keras.ops.copy(w.value), dtype=w.dtype, trainable=False, name="kiln_nan_backup")
            for w in weights
        ]

    def take(self) -> None:
        for copy, weight in zip(self.copies, self.weights, strict=True):
            copy.assign(keras.ops.copy(weight.value))

    def put_back(self) -> None:
        for copy, weight in zip(self.copies, self.weights, strict=True):
            weight.assign(copy.value)


class _TensorFlowValues:
    """The values of ``weights`` as TensorFlow read them: one ``ReadVariableOp`` per weight.

    A read is a snapshot: the tensor may share the variable's buffer, and TensorFlow copies a
    shared buffer before it updates a variable in place (copy on write, XLA included), so
    training on never changes what was read (`test_the_nan_guards_copy_is_the_last_finite_epochs_weights`).
    The copy is made only by the first update after a read, as assigning into a second
    variable would have made it. Not for JAX (its train step donates the weights' buffers) nor
    PyTorch (its optimizers update tensors in place).
    """

    def __init__(self, weights: list[Any]):
        self.weights = weights
        self.variables = [w.value for w in weights]  # the tf.Variable under each Keras variable
        self.values: list[Any] = []
        self.take()

    def take(self) -> None:
        self.values = [variable.value() for variable in self.variables]

    def put_back(self) -> None:
        for weight, value in zip(self.weights, self.values, strict=True):
            weight.assign(value)  # through Keras: a replicated weight is assigned on every replica


class EpochLearningRate(keras.callbacks.Callback):
    """Sets the rate at each epoch start from an epoch-wise schedule (step, cosine)."""

    def __init__(self, rate_for_epoch: Any):
        super().__init__()
        self.rate_for_epoch = rate_for_epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.optimizer.learning_rate.assign(float(self.rate_for_epoch(epoch)))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = current_learning_rate(self.model)


class Checkpointer(keras.callbacks.Callback):
    """One atomic checkpoint (weights, optimizer state, the full history, the config) after the
    first epoch, then whenever the cost share allows (`COST_SHARE`), and always for the last
    epoch of the fit, a stop, or the end of the run.

    ``history`` is the history before this fit (earlier phases, or the resumed checkpoint's);
    the Checkpointer keeps its own running copy, so every checkpoint holds every epoch so far.
    The format and the resume side live in `engine.training.checkpoint`.
    """

    # A checkpoint may take at most this share of the training time: after a write that took
    # t seconds, the next waits until t / COST_SHARE seconds have passed (the first epoch's and
    # the last one's are always written). Measured in bench/train_throughput.py: writing every
    # epoch cost the small MLP 15-30 % of its fit on a busy 2-core machine.
    COST_SHARE = 0.03

    def __init__(
        self, folder: Path, history: dict[str, list[float]], phase_index: int, config: dict[str, Any] | None = None
    ):
        super().__init__()
        self.folder = folder
        self.history = {k: list(v) for k, v in history.items()}
        self.phase_index = phase_index
        self.config = config
        self._next_write = 0.0  # perf_counter time before which a write is skipped
        self._pending: dict[str, Any] | None = None  # the newest state not yet written
        self._writer: Future | None = None  # the background write in progress
        self._error: BaseException | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        values = _plain(logs)
        if any(not math.isfinite(v) for v in values.values()):
            return  # never checkpoint a blown-up model
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)
        self._pending = {
            "completed_epochs": epoch + 1,
            "phase_index": self.phase_index,
            "history": self.history,
            "config": self.config,
        }
        last_epoch = epoch + 1 >= int(self.params.get("epochs") or 0) if self.params else False
        if time.perf_counter() >= self._next_write or last_epoch or self.model.stop_training:
            self._write()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._pending is not None:  # the run ends (finished, stopped): its last epoch is kept
            self._write()

    def _write(self) -> None:
        """Copy the weights now (on the training thread), write them on a background thread.

        The files and their fsync (most of a checkpoint's time) overlap the next epoch or the
        run's wrap-up; one write at a time, in order. `wait` joins the last one (the job calls
        it before the next phase's checkpoints and before the run is reported finished) and
        raises what a write raised.
        """
        from kiln_lab.engine.training.checkpoint import snapshot, write_snapshot

        self.wait()
        started = time.perf_counter()
        taken = snapshot(self.model)
        state = {**self._pending, "history": {k: list(v) for k, v in self._pending["history"].items()}}
        self._pending = None
        self._next_write = float("inf")  # no other write starts until this one knows its cost

        def write() -> None:
            try:
                write_snapshot(self.folder, taken, state)
            except BaseException as exc:  # noqa: BLE001 - handed to the training thread by wait()
                self._error = exc
            took = time.perf_counter() - started
            self._next_write = started + took / self.COST_SHARE

        self._writer = _checkpoint_writer().submit(write)

    def wait(self) -> None:
        """Until the checkpoint being written is on disk; re-raises its error, if any."""
        if self._writer is not None:
            self._writer.result()  # write() keeps its own error in self._error
            self._writer = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


_writer_pool: ThreadPoolExecutor | None = None
_writer_pool_lock = threading.Lock()


def _checkpoint_writer() -> ThreadPoolExecutor:
    """The process's one checkpoint-writing thread, started by the first checkpoint.

    A new ``threading.Thread`` per checkpoint made the training thread wait in ``start()``
    until the new thread ran: 2-3 ms a checkpoint on a busy 2-core machine, the largest part
    of `Checkpointer.on_epoch_end`. One worker keeps the writes in order; its thread is not a
    daemon, so a write under way when the process ends is finished (concurrent.futures joins
    its workers at exit), as before.
    """
    global _writer_pool
    with _writer_pool_lock:
        if _writer_pool is None:
            _writer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiln-checkpoint")
        return _writer_pool


class ResumedWatchers(keras.callbacks.Callback):
    """On a resumed run, give EarlyStopping and ReduceLROnPlateau the patience they had used up.

    Both keep their state (best value, epochs waited) in memory only, and reset it when
    training begins. Put after them in the callback list, this replays the monitored values
    of the phase's epochs before the interruption through their own rules, so the resumed
    run stops and lowers the rate when the uninterrupted one would have. (The rate itself
    comes back with the optimizer's variables.) What cannot come back: EarlyStopping's copy of
    the best epoch's weights, when that epoch was before the interruption; a run that then
    stops early keeps the best weights seen since it resumed.
    """

    def __init__(self, watchers: list[Any], past: dict[str, list[float]], first_epoch: int = 0):
        super().__init__()
        self.watchers = watchers
        self.past = past  # monitored name -> values of this phase's finished epochs, oldest first
        self.first_epoch = first_epoch  # the epoch (0-based, as Keras counts) of each list's first value

    def on_train_begin(self, logs: dict | None = None) -> None:
        for watcher in self.watchers:
            values = [v for v in self.past.get(watcher.monitor, []) if is_number(v) and math.isfinite(v)]
            if not values:
                continue
            delta = abs(float(getattr(watcher, "min_delta", 0.0)))
            lowers_rate = isinstance(watcher, keras.callbacks.ReduceLROnPlateau)
            best, best_at, wait = None, 0, 0
            for at, value in enumerate(values):
                if best is None or value < best - delta:  # Kiln monitors losses: lower is better
                    best, best_at, wait = value, at, 0
                else:
                    wait += 1
                    if lowers_rate and wait >= watcher.patience:
                        wait = 0  # the rate was lowered then; its patience starts again
            watcher.best = best
            watcher.wait = wait
            if hasattr(watcher, "best_epoch"):
                watcher.best_epoch = self.first_epoch + best_at
