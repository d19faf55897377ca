"""Train page: hyperparameters, start / pause / stop, live plots and the run log.

Engine events arrive as signals from the training thread. Handlers only append numbers to
plot buffers and update labels; the plots redraw from a 25 Hz timer.
"""

from __future__ import annotations

import gc
import math
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from engine import events as ev
from engine.export.runs import run_folder_name
from engine.training.config import TrainConfig
from gui.panels.train_form import TrainForm
from gui.plots import LivePlot, PlotRefresher
from gui.session import RunSummary, Session, TrainedModel
from gui.training_runner import TrainingRunner
from gui.widgets.compare_view import CompareDialog
from gui.widgets.drift_view import DriftView
from gui.widgets.log_panel import LogPanel
from gui.workers import WorkerError

FORM_WIDGETS = (
    "optimizer_combo",
    "lr_spin",
    "momentum_spin",
    "decay_spin",
    "schedule_combo",
    "step_every_spin",
    "step_factor_spin",
    "patience_spin",
    "batch_spin",
    "epochs_spin",
    "early_spin",
    "class_weights_check",
    "seeds",
    "seed_spin",
    "mixed_check",
    "xla_check",
    "name_edit",
    "device_note",
)
SMOOTHING = 0.3  # exponential moving average weight of a new batch loss point


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def metric_key(task: str, logs: dict[str, float]) -> str | None:
    """The task's headline metric in Keras's log names (the engine decides: accuracy, or MAE)."""
    from engine.models.heads import headline_metric

    return headline_metric(task, logs)


class TrainPage(QWidget):
    busy = Signal(str)
    failed = Signal(str, object)
    run_state_changed = Signal(bool)  # True while a run is in progress
    run_completed = Signal(object)  # RunSummary

    def __init__(self, session: Session, runs_folder: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.runs_folder = runs_folder  # where each run keeps its folder (model, history, run.json); None: none
        self.runner = TrainingRunner(self)
        self.runner.event.connect(self.on_event)
        self.runner.result.connect(self._on_result)
        self.runner.compared.connect(self._on_compared)
        self.runner.error.connect(self._on_error)
        self.runner.finished.connect(self._on_finished)
        self.runner.paused_changed.connect(self._on_paused)
        self._task = "classification"
        self._metric: str | None = None
        self._run_started_at = 0.0
        self._epochs = 0
        self._steps = 1
        self._initial_epoch = 0
        self._smoothed: float | None = None
        self._overlaid_runs = 0
        self._current_name = ""
        self._last_failed: ev.Failed | None = None
        self._finished_event: ev.Finished | None = None
        self._comparing = False
        self._compare_labels: list[str] = []  # names of the comparison's runs still to start, in order
        self.comparison: Any = None  # the last engine Comparison
        self.compare_dialog = CompareDialog(self)
        self.compare_view = self.compare_dialog.view

        form = self.form = TrainForm(session)
        for name in FORM_WIDGETS:  # the page's own names for the form's controls (tests, the window)
            setattr(self, name, getattr(form, name))
        plots = self._build_plots()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(form)
        splitter.addWidget(plots)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([form.minimumWidth(), 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(splitter)

        self.refresher = PlotRefresher([self.loss_plot, self.metric_plot, self.lr_plot], self)
        session.config_loaded.connect(self.show_config)
        session.engine_ready.connect(self._on_engine_ready)
        session.dataset_changed.connect(lambda _d: self._update_buttons())
        self.show_config(session.config)
        self._update_buttons()

    # -- layout ---------------------------------------------------------------------------

    def _build_plots(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(8, 0, 0, 0)

        controls = QHBoxLayout()
        style = self.style()
        self.start_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Start")
        self.start_button.setProperty("role", "primary")
        self.start_button.setToolTip("Build the model and train it (Ctrl+R)")
        self.pause_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        self.pause_button.setToolTip("Pause between two batches; resume where it stopped")
        self.stop_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Stop")
        self.stop_button.setToolTip("Stop after the current batch and keep the model as it is (Ctrl+.)")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        for button in (self.start_button, self.pause_button, self.stop_button):
            controls.addWidget(button)
        controls.addSpacing(12)
        progress_column = QVBoxLayout()
        progress_column.setSpacing(2)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(10)
        self.progress_label = QLabel("Not started.")
        # Its text changes with every batch: a fixed size keeps those changes from re-laying out the page.
        self.progress_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        progress_column.addWidget(self.progress)
        progress_column.addWidget(self.progress_label)
        controls.addLayout(progress_column, 1)
        layout.addLayout(controls)

        view_controls = QHBoxLayout()
        self.log_check = QCheckBox("Log scale (loss)")
        self.log_check.setToolTip("Show the loss on a logarithmic axis, where late small improvements are visible")
        self.log_check.toggled.connect(lambda on: self.loss_plot.set_log_y(on))
        self.compare_check = QCheckBox("Show earlier runs")
        self.compare_check.setChecked(True)
        self.compare_check.setToolTip("Draw the curves of this session's earlier runs, dashed, behind the live ones")
        self.compare_check.toggled.connect(self._set_overlays_visible)
        clear_button = QPushButton("Clear")
        clear_button.setToolTip("Remove the dashed curves of earlier runs")
        clear_button.clicked.connect(self.clear_overlays)
        save_button = QPushButton("Save plots…")
        save_button.setToolTip("Save the three plots as PNG images")
        save_button.clicked.connect(self._save_plots)
        view_controls.addWidget(self.log_check)
        view_controls.addWidget(self.compare_check)
        view_controls.addWidget(clear_button)
        view_controls.addStretch(1)
        self.results_button = QPushButton("Comparison results")
        self.results_button.setToolTip("Show the last head-to-head comparison of from scratch and fine-tuning")
        self.results_button.setEnabled(False)
        self.results_button.setVisible(False)  # shown once there is a comparison to show
        self.results_button.clicked.connect(self.show_comparison)
        view_controls.addWidget(self.results_button)
        view_controls.addWidget(save_button)
        layout.addLayout(view_controls)

        self.loss_plot = LivePlot(
            "Loss",
            y_label="loss",
            empty_text="The loss appears here once training starts: a line through the batches "
            "and a dot per epoch for training and validation.",
        )
        self.loss_plot.add_curve("batch", "batches", color=2, width=1.5)
        self.loss_plot.add_curve("train", "train", color=0, markers=True)
        self.loss_plot.add_curve("val", "validation", color=1, markers=True)
        self.metric_plot = LivePlot(
            "Accuracy",
            y_label="accuracy",
            empty_text="Accuracy (or the error, for regression) on the training and validation data, "
            "one dot per finished epoch.",
        )
        self.metric_plot.add_curve("train", "train", color=0, markers=True)
        self.metric_plot.add_curve("val", "validation", color=1, markers=True)
        self.lr_plot = LivePlot(
            "Learning rate",
            y_label="rate",
            empty_text="The learning rate of each epoch: flat for a constant rate, falling for a schedule, "
            "stepping down for a second fine-tuning phase.",
        )
        self.lr_plot.add_curve("lr", "learning rate", color=3, markers=True)
        self.lr_plot.set_auto_log_y(True)  # logarithmic only when the rates span decades (schedules, two phases)
        self.log = LogPanel()

        grid = QGridLayout()
        grid.setSpacing(8)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metric_plot, 0, 1)
        grid.addWidget(self.lr_plot, 1, 0)
        log_box = QGroupBox("Run log")
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(6, 6, 6, 6)
        log_layout.addWidget(self.log)
        grid.addWidget(log_box, 1, 1)
        self.drift_view = DriftView()  # fine-tuning only: shows itself on the first DriftMeasured
        self.drift_view.hide()
        self.drift_view.remedy.connect(  # a forgetting remedy, one click: it applies to the next run
            lambda changes: (self.session.update(model=changes),
                             self.log.add(f"For the next run: {changes}.", "success"))
        )
        grid.addWidget(self.drift_view, 0, 2, 2, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        layout.addLayout(grid, 1)
        return panel

    # -- config <-> form ------------------------------------------------------------------

    def train_config(self) -> TrainConfig:
        return self.form.train_config()

    def show_config(self, config: Any) -> None:
        self.form.show_config(config)

    def _form_widgets(self) -> list[QWidget]:
        return self.form.form_widgets()

    def _update_form_visibility(self) -> None:
        self.form.update_visibility()

    def _on_engine_ready(self, info: Any) -> None:
        # TensorFlow's import leaves ~350k Python objects; a full garbage collection walks them all
        # and stops every thread for 1-2 s on a busy 2-core machine (seen as the UI freezing in
        # mid-training). Frozen, they are skipped: later full collections walk only newer objects.
        gc.freeze()
        self.form.on_engine_ready(info)

    # -- commands -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.runner.running

    def can_start(self) -> bool:
        return self.session.dataset is not None and not self.runner.running

    def start(self, *, resume_dir: str | None = None) -> bool:
        """Start training with the session's config; False (and a note) when it cannot start.

        With ``resume_dir`` (a run folder with a checkpoint), the run continues there from its
        last epoch up to the config's epochs ("Train more" on the Runs page).
        """
        if self.runner.running:
            return False
        dataset = self.session.dataset
        if dataset is None:
            self.log.add("Load a dataset first (Data page or Ctrl+O).", "warning")
            return False
        self.session.update(train=self.train_config())
        if resume_dir is not None:
            name = Path(resume_dir).name
        else:
            name = self.name_edit.text().strip() or self._auto_name()
        config = self.session.update(name=name)
        self._current_name = name
        self._reset_for_run()
        out_dir = resume_dir
        if out_dir is None and self.runs_folder:
            out_dir = str(Path(self.runs_folder) / run_folder_name(name))
        if out_dir is not None:
            try:  # like the CLI: the folder holds the exact settings, for Train more and a rerun
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                config.save(Path(out_dir) / "config.toml")
            except OSError as exc:
                self.log.add(f"Could not write the run's config.toml ({exc}); the run goes on.", "warning")
        self.log.add(
            f"Starting {name}: {config.train.epochs} epochs, batch size {config.train.batch_size}, "
            f"{config.train.optimizer} at learning rate {config.train.learning_rate:g}."
        )
        self.progress_label.setText("Building the model…")
        self.progress.setRange(0, 0)
        self.busy.emit(f"Training {name}: building the model…")
        if resume_dir is not None:
            self.log.add(f"Continuing {name} from its last checkpoint up to epoch {config.train.epochs}.")
        self.runner.start(config, dataset, out_dir=out_dir, resume=resume_dir is not None)
        self._update_buttons()
        self.run_state_changed.emit(True)
        return True

    def start_comparison(self, scratch: Any, finetune: Any, fractions: tuple[float, ...] = (1.0,)) -> bool:
        """Train ``scratch`` and ``finetune`` (RunConfigs, model recipes only differ) head to head.

        Uses this page's TrainConfig and the loaded data; runs on the one training thread, and each
        compared run shows in the live plots and the log like a normal run.
        """
        if self.runner.running:
            return False
        dataset = self.session.dataset
        if dataset is None:
            self.log.add("Load a dataset first (Data page or Ctrl+O).", "warning")
            return False
        fractions = tuple(sorted(set(fractions))) or (1.0,)
        train = self.session.update(train=self.train_config()).train
        scratch = scratch.replace(train=train, name="compare-scratch")
        finetune = finetune.replace(train=train, name="compare-finetune")
        self._compare_labels = []  # the engine names each run ("... (run k of n)")
        self._comparing = True
        self.comparison = None
        self._current_name = "compare"
        self._reset_for_run()
        shares = ", ".join(f"{f:.0%}" for f in fractions)
        self.log.add(
            f"Comparing from scratch and fine-tuning on {shares} of the training data: "
            f"each under the same budget in optimizer steps, batch size {train.batch_size}, scored on a test split."
        )
        out_dir = None
        if self.runs_folder:  # every compared run is kept as a run folder, with the report beside them
            out_dir = str(Path(self.runs_folder) / time.strftime("compare-%Y%m%d-%H%M%S"))
        self.progress_label.setText("Building the first model…")
        self.progress.setRange(0, 0)
        self.busy.emit("Comparing from scratch and fine-tuning…")
        self.runner.start_comparison(scratch, finetune, dataset, fractions=fractions, out_dir=out_dir)
        self._update_buttons()
        self.run_state_changed.emit(True)
        return True

    def show_comparison(self) -> None:
        if self.comparison is not None:
            self.compare_dialog.show()
            self.compare_dialog.raise_()

    def stop(self) -> None:
        if self.runner.running:
            self.runner.stop()
            self.log.add("Stopping after the current batch…")
            self.progress_label.setText("Stopping after the current batch…")
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)

    def toggle_pause(self) -> None:
        if not self.runner.running:
            return
        if self.runner.paused:
            self.runner.resume()
        else:
            self.runner.pause()

    def clear_overlays(self) -> None:
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.clear_overlays()
        self._overlaid_runs = len(self.session.runs)  # cleared runs do not come back

    def _auto_name(self) -> str:
        recipe = self.session.config.model
        if recipe.kind == "finetune":
            base = "finetune-" + Path(str(recipe.backbone or "backbone")).name.split(":")[-1][:24]
        else:
            base = f"scratch-{recipe.arch}"
        return f"{base}-{len(self.session.runs) + 1}"

    def _reset_for_run(self) -> None:
        self._add_overlays_for_earlier_runs()
        self.drift_view.reset()
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.reset()
            plot.clear_phases()
        self._smoothed = None
        self._metric = None
        self._last_failed = None
        self._finished_event = None
        self.progress.setValue(0)
        self.refresher.start()

    def _add_overlays_for_earlier_runs(self) -> None:
        current = self.session.dataset.source if self.session.dataset is not None else ""
        for summary in self.session.runs[self._overlaid_runs :]:
            if summary.dataset != current:
                continue  # curves on other data are not comparable
            history = summary.history
            epochs = [float(i + 1) for i in range(len(history.get("loss", [])))]
            self.loss_plot.add_overlay(f"{summary.name} train", epochs, history.get("loss", []), color=0)
            if "val_loss" in history:
                self.loss_plot.add_overlay(f"{summary.name} val", epochs, history["val_loss"], color=1)
            key = metric_key(self._task, history)
            if key:
                self.metric_plot.add_overlay(f"{summary.name} train", epochs, history[key], color=0)
                if f"val_{key}" in history:
                    self.metric_plot.add_overlay(f"{summary.name} val", epochs, history[f"val_{key}"], color=1)
            if "learning_rate" in history:
                self.lr_plot.add_overlay(summary.name, epochs, history["learning_rate"], color=3)
        self._overlaid_runs = len(self.session.runs)
        self._set_overlays_visible(self.compare_check.isChecked())

    def _set_overlays_visible(self, visible: bool) -> None:
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.set_overlays_visible(visible)

    def _save_plots(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save plots into folder")
        if not folder:
            return
        name = self._current_name or "plots"
        try:
            paths = [
                plot.save_png(Path(folder) / f"{name}-{key}.png")
                for key, plot in (("loss", self.loss_plot), ("metric", self.metric_plot), ("lr", self.lr_plot))
            ]
        except OSError as exc:
            self.failed.emit("Cannot save the plots", WorkerError(f"The plots could not be saved: {exc}.", "", True))
            return
        self.log.add(f"Saved {len(paths)} plots to {folder}.", "success")

    # -- engine events --------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        if isinstance(event, ev.BatchEnd):
            self._on_batch(event)
        elif isinstance(event, ev.EpochEnd):
            self._on_epoch(event)
        elif isinstance(event, ev.RunStarted):
            self._on_run_started(event)
        elif isinstance(event, ev.PhaseStarted):
            for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
                plot.add_phase(float(event.first_epoch), float(event.last_epoch + 1), event.name)
            self.log.add(
                f"Phase {event.index + 1} of {event.count}: {event.name} (epochs {event.first_epoch + 1}"
                f"-{event.last_epoch + 1}). {event.description}".strip()
            )
        elif isinstance(event, ev.RunWarning):
            self.log.add(event.message, "warning")
            if event.kind == "forgetting":
                self.drift_view.show_warning(event.message, self.session.config.model)
        elif isinstance(event, ev.DriftMeasured):
            self.drift_view.add(event)  # one repaint per epoch end
        elif isinstance(event, ev.Progress):
            self.progress_label.setText(event.message or f"{event.task}…")
            if event.task == "compare":
                self.compare_view.set_progress(event.done, event.total, event.message)
        elif isinstance(event, ev.Finished):
            self._finished_event = event
            if self._comparing:
                self._on_compared_run_finished(event)
        elif isinstance(event, ev.Failed):
            self._last_failed = event
            self.log.add(event.message, "error")

    def _on_run_started(self, event: ev.RunStarted) -> None:
        if self._comparing:  # each compared run starts on clean curves; the results table compares them
            self._current_name = self._compare_labels.pop(0) if self._compare_labels else event.run_name
            for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
                plot.reset()
                plot.clear_phases()
            self._smoothed = None
            self._metric = None
            self.log.add(f"Starting {self._current_name}.")
        self._task = event.dataset.get("task", "classification")
        self._epochs = event.epochs
        self._steps = max(1, event.steps_per_epoch)
        self._initial_epoch = event.initial_epoch
        self._run_started_at = time.perf_counter()
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.begin_run(float(event.initial_epoch), float(event.epochs))
        self.metric_plot.set_title(
            "Mean absolute error" if self._task == "regression" else "Accuracy",
            "MAE" if self._task == "regression" else "accuracy",
        )
        self.progress.setRange(0, 1000)
        params = event.model.get("params")
        trainable = event.model.get("trainable_params")
        size = f"{params:,} parameters ({trainable:,} trainable)" if params is not None else "model built"
        self.log.add(
            f"{event.model.get('name', 'Model')}: {size}; {event.steps_per_epoch} batches per epoch on {event.device}."
        )
        self.busy.emit(f"Training {self._current_name if self._comparing else event.run_name} on {event.device}")

    def _on_batch(self, event: ev.BatchEnd) -> None:
        loss = event.logs.get("loss")
        x = event.epoch + (event.batch + 1) / max(1, event.steps)
        if loss is not None and math.isfinite(loss):
            self._smoothed = loss if self._smoothed is None else (1 - SMOOTHING) * self._smoothed + SMOOTHING * loss
            self.loss_plot.append("batch", x, self._smoothed)
        self._steps = max(1, event.steps)
        self._show_progress(event.epoch, event.batch + 1)

    def _on_epoch(self, event: ev.EpochEnd) -> None:
        logs = event.logs
        x = float(event.epoch + 1)
        if self._metric is None:
            self._metric = metric_key(self._task, logs)
        if "loss" in logs:
            self.loss_plot.append("train", x, logs["loss"])
        if "val_loss" in logs:
            self.loss_plot.append("val", x, logs["val_loss"])
        if self._metric:
            if self._metric in logs:
                self.metric_plot.append("train", x, logs[self._metric])
            if f"val_{self._metric}" in logs:
                self.metric_plot.append("val", x, logs[f"val_{self._metric}"])
        self.lr_plot.append("lr", x, event.learning_rate)
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
        self.log.add(", ".join(parts))

    def _show_progress(self, epoch: int, batch: int) -> None:
        total = max(1, (self._epochs - self._initial_epoch) * self._steps)
        done = max(0, (epoch - self._initial_epoch) * self._steps + batch)
        fraction = min(1.0, done / total)
        self.progress.setValue(int(fraction * 1000))
        elapsed = time.perf_counter() - self._run_started_at
        eta = f" · ETA {format_duration(elapsed * (1 - fraction) / fraction)}" if fraction > 0.01 else ""
        shown_epoch = min(self._epochs, epoch + (1 if batch else 0))
        paused = " · paused" if self.runner.paused else ""
        self.progress_label.setText(
            f"Epoch {max(1, shown_epoch)}/{self._epochs} · batch {batch}/{self._steps} · "
            f"{format_duration(elapsed)} elapsed{eta}{paused}"
        )

    # -- run end --------------------------------------------------------------------------

    def _on_result(self, result: Any) -> None:
        name = self._current_name
        summary = RunSummary(
            name, dict(result.history), dict(result.metrics), result.reason, getattr(result.dataset, "source", "")
        )
        self.session.set_trained(
            TrainedModel(
                result.model,
                name,
                result.image_size,
                dict(result.record),
                "run",
                str(result.out_dir) if result.out_dir else None,
            )
        )
        self.session.add_run(summary)
        words = {
            "completed": "finished",
            "stopped": "stopped by you",
            "early_stopping": "stopped early (no improvement)",
            "nan": "stopped: the loss became NaN",
        }
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        level = "warning" if result.reason == "nan" else "success"
        self.log.add(f"{name} {words.get(result.reason, result.reason)} after {result.seconds:.1f} s. {metrics}", level)
        if result.out_dir:
            self.log.add(f"Run folder: {result.out_dir}")
        self.run_completed.emit(summary)

    def _on_compared_run_finished(self, event: ev.Finished) -> None:
        name = self._current_name
        source = getattr(self.session.dataset, "source", "")
        self.session.add_run(RunSummary(name, dict(event.history), dict(event.metrics), event.reason, source))
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in event.metrics.items())
        self.log.add(f"{name} {event.reason.replace('_', ' ')} after {event.seconds:.1f} s. {metrics}", "success")

    def _on_compared(self, comparison: Any) -> None:
        self.comparison = comparison
        self.compare_view.set_comparison(comparison)
        self.results_button.setEnabled(True)
        self.results_button.setVisible(True)
        for sentence in comparison.verdict():
            self.log.add(sentence, "success")
        self.show_comparison()

    def _on_error(self, error: WorkerError) -> None:
        if error.kind == "UntrustedModel" and not self._comparing and self._trust_backbone(error.sentence):
            return
        if self._last_failed is not None and not error.user_error:
            error = WorkerError(
                self._last_failed.message, self._last_failed.details or error.details, False, error.kind
            )
        elif self._last_failed is None:
            self.log.add(error.sentence, "error")
        self.failed.emit("Comparison failed" if self._comparing else "Training failed", error)

    def _trust_backbone(self, sentence: str) -> bool:
        """Ask about the backbone file or folder that would run code; on yes, trust it (by hash) and start again."""
        from PySide6.QtCore import QTimer

        backbone = self.session.config.model.backbone
        if not backbone or not self.ask_trust(backbone, sentence):
            return False
        from engine.export.trust import trust

        target = Path(backbone).expanduser()
        if not target.exists():  # a TF Hub / Kaggle handle: its downloaded folder is what gets trusted
            from engine.models.backbones.hub import resolve_handle

            target = Path(resolve_handle(backbone))
        trust(target)  # this file or folder only, by its hash: the one gate records the yes
        self.log.add(f"Trusted {backbone}; starting again.")

        def start_when_idle() -> None:
            if self.runner.running:
                QTimer.singleShot(50, start_when_idle)
            else:
                self.start()

        QTimer.singleShot(0, start_when_idle)
        return True

    def ask_trust(self, path: str, sentence: str) -> bool:
        """Ask before running code from a backbone nobody trusted yet (tests replace this)."""
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(
            self,
            "Trust this backbone?",
            f"{sentence}\n\nTrust {Path(path).name} and train with it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _on_finished(self) -> None:
        self.refresher.stop()
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.end_run()
        self.progress.setRange(0, 1000)
        comparing, self._comparing = self._comparing, False
        if comparing:
            self._overlaid_runs = len(self.session.runs)  # no dashed overlays of compared runs: the table has them
        if comparing and self.comparison is not None:
            done = len(self.comparison.rows)
            control = self.runner.control
            stopped = bool(control is not None and control.stop_requested) or any(
                r.reason == "stopped" for r in self.comparison.rows
            )
            self.progress_label.setText(
                f"Comparison {'stopped' if stopped else 'done'}: {done} run{'s' if done != 1 else ''} finished."
            )
            if not stopped:
                self.progress.setValue(1000)
        elif self._finished_event is not None:
            self.progress_label.setText(
                f"Done: {self._finished_event.reason.replace('_', ' ')} after "
                f"{format_duration(self._finished_event.seconds)}."
            )
            if self._finished_event.reason == "completed":
                self.progress.setValue(1000)
        else:
            self.progress_label.setText("The run did not finish; see the log.")
        self._on_paused(False)
        self._update_buttons()
        self.busy.emit("")
        self.run_state_changed.emit(False)

    def _on_paused(self, paused: bool) -> None:
        style = self.style()
        if paused:
            self.pause_button.setText("Resume")
            self.pause_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
            self.progress_label.setText(self.progress_label.text() + " · paused")
            self.busy.emit("Training paused")
        else:
            self.pause_button.setText("Pause")
            self.pause_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.start_button.setEnabled(self.session.dataset is not None and not running)
        if self.session.dataset is None:
            self.start_button.setToolTip("Load a dataset first (Ctrl+O)")
        else:
            self.start_button.setToolTip("Build the model and train it (Ctrl+R)")
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        for widget in self._form_widgets():
            widget.setEnabled(not running)
        if not running:
            self._update_form_visibility()
            if self.session.engine is not None:
                self.mixed_check.setEnabled(self.session.engine.has_gpu)
                self.xla_check.setEnabled(self.session.engine.has_gpu)
            else:
                self.mixed_check.setEnabled(False)
                self.xla_check.setEnabled(False)
