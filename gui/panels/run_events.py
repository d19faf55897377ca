"""Turns the engine's training events (`engine.events`) into plot points, log lines and progress.

Handlers only append numbers to plot buffers and set labels; the plots redraw from the
page's `PlotRefresher`, so an event never costs a repaint of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from kiln_lab.engine import events as ev
from kiln_lab.gui.panels.run_controls import RunControls, format_duration
from kiln_lab.gui.panels.train_plots import TrainPlots, metric_key

SMOOTHING = 0.3  # exponential moving average weight of a new batch loss point


class RunEvents(QObject):
    """The live state of one run (or of the runs of a comparison) as events arrive.

    ``comparing``, ``current_name`` and ``compare_labels`` are set by the page that starts
    the run; ``last_failed`` and ``finished`` hold the run's Failed / Finished events.
    """

    busy = Signal(str)
    compared_run_finished = Signal(object)  # ev.Finished of one run of a comparison
    drift_warning = Signal(str)  # a forgetting warning, for the drift view

    def __init__(
        self,
        plots: TrainPlots,
        controls: RunControls,
        compare_view: Any,
        is_paused: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.plots = plots
        self.controls = controls
        self.compare_view = compare_view
        self._is_paused = is_paused
        self.comparing = False
        self.current_name = ""
        self.compare_labels: list[str] = []  # names of the comparison's runs still to start, in order
        self.task = "classification"
        self._metric: str | None = None
        self._run_started_at = 0.0
        self._epochs = 0
        self._steps = 1
        self._initial_epoch = 0
        self._smoothed: float | None = None
        self.last_failed: ev.Failed | None = None
        self.finished: ev.Finished | None = None

    def reset(self) -> None:
        """A new run: no smoothed loss, no metric chosen, no outcome yet."""
        self._smoothed = None
        self._metric = None
        self.last_failed = None
        self.finished = None

    def on_event(self, event: Any) -> None:
        log = self.plots.log
        if isinstance(event, ev.BatchEnd):
            self._on_batch(event)
        elif isinstance(event, ev.EpochEnd):
            self._on_epoch(event)
        elif isinstance(event, ev.RunStarted):
            self._on_run_started(event)
        elif isinstance(event, ev.PhaseStarted):
            self.plots.add_phase(float(event.first_epoch), float(event.last_epoch + 1), event.name)
            log.add(
                f"Phase {event.index + 1} of {event.count}: {event.name} (epochs {event.first_epoch + 1}"
                f"-{event.last_epoch + 1}). {event.description}".strip()
            )
        elif isinstance(event, ev.RunWarning):
            log.add(event.message, "warning")
            if event.kind == "forgetting":
                self.drift_warning.emit(event.message)
        elif isinstance(event, ev.DriftMeasured):
            self.plots.drift_view.add(event)  # one repaint per epoch end
            self.plots.show_drift()
        elif isinstance(event, ev.Progress):
            self.controls.progress_label.setText(event.message or f"{event.task}…")
            if event.task == "compare":
                self.compare_view.set_progress(event.done, event.total, event.message)
        elif isinstance(event, ev.TrialState):
            self.plots.trials_view.set_state(event.number, event.total, event.label, event.state)
            self.plots.show_trials()
            if event.state == "stopped":
                log.add(f"Run {event.number} of {event.total} ({event.label}) stopped; the others go on.", "warning")
        elif isinstance(event, ev.Finished):
            self.finished = event
            if self.comparing:
                self.compared_run_finished.emit(event)
        elif isinstance(event, ev.Failed):
            self.last_failed = event
            log.add(event.message, "error")

    def _on_run_started(self, event: ev.RunStarted) -> None:
        if self.comparing:  # each compared run starts on clean curves; the results table compares them
            self.current_name = self.compare_labels.pop(0) if self.compare_labels else event.run_name
            self.plots.reset()
            self.plots.file_stem = self.current_name
            self._smoothed = None
            self._metric = None
            self.plots.log.add(f"Starting {self.current_name}.")
        self.task = event.dataset.get("task", "classification")
        self._epochs = event.epochs
        self._steps = max(1, event.steps_per_epoch)
        self._initial_epoch = event.initial_epoch
        self._run_started_at = time.perf_counter()
        self.plots.begin_run(float(event.initial_epoch), float(event.epochs), self.task)
        self.controls.progress.setRange(0, 1000)
        params = event.model.get("params")
        trainable = event.model.get("trainable_params")
        size = f"{params:,} parameters ({trainable:,} trainable)" if params is not None else "model built"
        self.plots.log.add(
            f"{event.model.get('name', 'Model')}: {size}; {event.steps_per_epoch} batches per epoch on {event.device}."
        )
        self.busy.emit(f"Training {self.current_name if self.comparing else event.run_name} on {event.device}")

    def _on_batch(self, event: ev.BatchEnd) -> None:
        loss = event.logs.get("loss")
        x = event.epoch + (event.batch + 1) / max(1, event.steps)
        if loss is not None and math.isfinite(loss):
            self._smoothed = loss if self._smoothed is None else (1 - SMOOTHING) * self._smoothed + SMOOTHING * loss
            self.plots.loss_plot.append("batch", x, self._smoothed)
        self._steps = max(1, event.steps)
        self._show_progress(event.epoch, event.batch + 1)

    def _on_epoch(self, event: ev.EpochEnd) -> None:
        logs = event.logs
        x = float(event.epoch + 1)
        plots = self.plots
        if self._metric is None:
            self._metric = metric_key(self.task, logs)
        if "loss" in logs:
            plots.loss_plot.append("train", x, logs["loss"])
        if "val_loss" in logs:
            plots.loss_plot.append("val", x, logs["val_loss"])
        if self._metric:
            if self._metric in logs:
                plots.metric_plot.append("train", x, logs[self._metric])
            if f"val_{self._metric}" in logs:
                plots.metric_plot.append("val", x, logs[f"val_{self._metric}"])
        plots.lr_plot.append("lr", x, event.learning_rate)
        self._epochs = event.epochs
        self._show_progress(event.epoch + 1, 0)
        loss = logs.get("loss", math.nan)
        parts = [f"Epoch {event.epoch + 1}/{event.epochs} ({event.seconds:.1f} s): loss {loss:.4f}"]
        if "val_loss" in logs:
            parts.append(f"val loss {logs['val_loss']:.4f}")
        if self._metric and self._metric in logs:
            parts.append(f"{self._metric} {logs[self._metric]:.4f}")
        if self._metric and f"val_{self._metric}" in logs:
            parts.append(f"val {self._metric} {logs[f'val_{self._metric}']:.4f}")
        plots.log.add(", ".join(parts))

    def _show_progress(self, epoch: int, batch: int) -> None:
        total = max(1, (self._epochs - self._initial_epoch) * self._steps)
        done = max(0, (epoch - self._initial_epoch) * self._steps + batch)
        fraction = min(1.0, done / total)
        elapsed = time.perf_counter() - self._run_started_at
        eta = f" · ETA {format_duration(elapsed * (1 - fraction) / fraction)}" if fraction > 0.01 else ""
        shown_epoch = min(self._epochs, epoch + (1 if batch else 0))
        paused = " · paused" if self._is_paused() else ""
        self.controls.progress.setValue(int(fraction * 1000))
        self.controls.progress_label.setText(
            f"Epoch {max(1, shown_epoch)}/{self._epochs} · batch {batch}/{self._steps} · "
            f"{format_duration(elapsed)} elapsed{eta}{paused}"
        )
