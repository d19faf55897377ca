"""Train page: the controller that starts, pauses and stops runs and routes their results.

Its panels do the showing: `TrainForm` (settings), `RunControls` (buttons and progress),
`TrainPlots` (live plots, run log, backbone drift) and `RunEvents`, which turns engine
events into plot points and log lines. Plots redraw from a `PlotRefresher` timer.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from kiln_lab.engine.export.runs import run_folder_name
from kiln_lab.engine.training.config import TrainConfig
from kiln_lab.gui.dialogs.trust_backbone import ask_trust_backbone
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.main_thread_gc import defer_full_collections
from kiln_lab.gui.panels.live_preview import LivePreviewPanel
from kiln_lab.gui.panels.run_controls import RunControls, format_duration
from kiln_lab.gui.panels.run_events import RunEvents
from kiln_lab.gui.panels.train_form import TrainForm
from kiln_lab.gui.panels.train_plots import TrainPlots, metric_key
from kiln_lab.gui.plots import PlotRefresher
from kiln_lab.gui.session import RunSummary, Session, TrainedModel
from kiln_lab.gui.training_runner import TrainingRunner
from kiln_lab.gui.widgets.compare_view import CompareDialog
from kiln_lab.gui.workers import TaskSlot, WorkerError

# The page's own names for the form's controls (tests, the window).
FORM_WIDGETS = (
    "optimizer_combo lr_spin momentum_spin decay_spin schedule_combo step_every_spin step_factor_spin "
    "patience_spin batch_spin epochs_spin early_spin class_weights_check seeds seed_spin mixed_check "
    "xla_check name_edit device_note tensorboard_check tensorboard_batches_check mlflow_edit"
).split()


class TrainPage(QWidget):
    busy = Signal(str)
    failed = Signal(str, object)
    run_state_changed = Signal(bool)  # True while a run is in progress
    run_completed = Signal(object)  # RunSummary
    open_run_requested = Signal(str, str)  # a compared run's model.keras path, "evaluate" | "export"

    def __init__(self, session: Session, runs_folder: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.runs_folder = runs_folder  # where each run keeps its folder (model, history, run.json); None: none
        self.runner = TrainingRunner(self)
        self._overlay_from = 0  # earlier runs before this index are not overlaid (cleared, or compared runs)
        self._run_data = ("", "")  # the current run's data identity and task, kept for its RunSummary
        self.comparison: Any = None  # the last engine Comparison
        self.compare_dialog = CompareDialog(self)
        self.compare_view = self.compare_dialog.view
        self.compare_view.open_requested.connect(self.open_run_requested)

        form = self.form = TrainForm(session)
        for name in FORM_WIDGETS:
            setattr(self, name, getattr(form, name))
        self.controls = RunControls()
        self.controls.start_button.clicked.connect(self.start)
        self.controls.pause_button.clicked.connect(self.toggle_pause)
        self.controls.resume_requested.connect(self.resume_run)
        self.controls.stop_button.clicked.connect(self.stop)
        self.plots = TrainPlots()
        self.plots.clear_button.clicked.connect(self.clear_overlays)
        self.plots.results_button.clicked.connect(self.show_comparison)
        self.plots.saved.connect(lambda sentence: self.log_message(sentence, "success"))
        self.plots.save_failed.connect(
            lambda sentence: self.failed.emit("Cannot save the plots", WorkerError(sentence, "", True))
        )
        self.plots.trials_view.stop_requested.connect(self.stop_trial)
        self.plots.drift_view.remedy.connect(self._apply_remedy)
        self.plots.drift_view.roll_back.connect(self.roll_back)
        self.live_preview = LivePreviewPanel()  # Create ML's preview pane: a tab beside the run log (issue 18)
        self.plots.tabs.addTab(self.live_preview, "Live preview")
        self.roll_back_slot = TaskSlot(self)
        self.trust_slot = TaskSlot(self)
        self.events = RunEvents(self.plots, self.controls, self.compare_view, lambda: self.runner.paused, self)
        self.events.busy.connect(self.busy)
        self.events.compared_run_finished.connect(self._on_compared_run_finished)
        self.events.drift_warning.connect(self._on_drift_warning)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 0, 0, 0)
        right_layout.addWidget(self.controls)
        right_layout.addWidget(self.plots, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(form)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([form.minimumWidth(), 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(splitter)

        self.runner.event.connect(self.on_event)
        self.runner.event.connect(self.live_preview.on_event)
        self.runner.result.connect(self._on_result)
        self.runner.compared.connect(self._on_compared)
        self.runner.error.connect(self._on_error)
        self.runner.finished.connect(self._on_finished)
        self.runner.paused_changed.connect(self._on_paused)
        self.refresher = PlotRefresher(list(self.plots.plots), self)
        session.config_loaded.connect(self.show_config)
        session.engine_ready.connect(self._on_engine_ready)
        session.dataset_changed.connect(lambda _d: self._update_buttons())
        self.show_config(session.config)
        self._update_buttons()

    # -- public API for the window --------------------------------------------------------

    def log_message(self, text: str, level: str = "info") -> None:
        """Add a line to the run log (``level``: info, success, warning, error)."""
        self.plots.log.add(text, level)

    def on_event(self, event: Any) -> None:
        """An engine event of the current run (`engine.events`)."""
        self.events.on_event(event)

    # -- config <-> form ------------------------------------------------------------------

    def train_config(self) -> TrainConfig:
        return self.form.train_config()

    def show_config(self, config: Any) -> None:
        self.form.show_config(config)

    def _on_engine_ready(self, info: Any) -> None:
        # TensorFlow's import leaves ~350k Python objects; a full garbage collection walks them all
        # and stops every thread for 1-2 s on a busy 2-core machine (seen as the UI freezing in
        # mid-training). Frozen, they are skipped: later full collections walk only newer objects.
        gc.freeze()
        self.form.on_engine_ready(info)

    def _apply_remedy(self, changes: dict) -> None:
        """A forgetting remedy, one click: it applies to the next run."""
        self.session.update(model=changes)
        self.log_message(f"For the next run: {changes}.", "success")

    def roll_back(self, epoch: int) -> None:
        """Give the trained model the weights kept after ``epoch`` (the engine process holds the model)."""
        trained = self.session.trained
        if trained is None or trained.source != "run" or not trained.path:
            self.log_message("Roll back needs the model of a run in this session, with its run folder.", "warning")
            return

        def done(rolled: TrainedModel) -> None:
            self.session.set_trained(rolled)
            self.log_message(
                f"{rolled.name}: the model now has the weights kept after epoch {epoch}. Evaluate and Export use "
                "them; the run folder's model.keras keeps the last epoch's.",
                "success",
            )

        self.roll_back_slot.start(
            Call.of("roll_back", model=trained, epoch=epoch), task=f"rolling back to epoch {epoch}", on_result=done,
            on_error=lambda error: self.log_message(error.sentence, "error"),
        )

    def _on_drift_warning(self, message: str) -> None:
        self.plots.drift_view.show_warning(message, self.session.config.model)
        self.plots.show_drift()

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
        if self._dataset_to_train_on() is None:
            return False
        if resume_dir is not None:
            name = Path(resume_dir).name
        else:
            name = self.name_edit.text().strip() or self._auto_name()
        config = self.session.update(name=name)
        self.events.current_name = name
        self._reset_for_run()
        out_dir = resume_dir
        if out_dir is None and self.runs_folder:
            # The engine writes the folder's config.toml (the one place a run's settings are written).
            out_dir = str(Path(self.runs_folder) / run_folder_name(name))
        self.log_message(
            f"Starting {name}: {config.train.epochs} epochs, batch size {config.train.batch_size}, "
            f"{config.train.optimizer} at learning rate {config.train.learning_rate:g}."
        )
        self.controls.show_busy("Building the model…")
        self.busy.emit(f"Training {name}: building the model…")
        if resume_dir is not None:
            self.log_message(f"Continuing {name} from its last checkpoint up to epoch {config.train.epochs}.")
        self.controls.hide_resume()
        self.runner.start(config, out_dir=out_dir, resume=resume_dir is not None)
        self._live_run_started()
        self._update_buttons()
        self.run_state_changed.emit(True)
        return True

    def start_comparison(
        self, scratch: Any, finetune: Any, fractions: tuple[float, ...] = (1.0,), repeats: int | None = None,
        max_steps: int | None = None,
    ) -> bool:
        """Train ``scratch`` and ``finetune`` (RunConfigs, model recipes only differ) head to head.

        Uses this page's TrainConfig and the loaded data; runs as the engine's one run, and each
        compared run shows in the live plots and the log like a normal run. ``max_steps``: each
        run's step budget (None: the engine's default).
        """
        if self._dataset_to_train_on() is None:
            return False
        fractions = tuple(sorted(set(fractions))) or (1.0,)
        train = self.train_config()  # the form writes every edit to the session at once
        scratch = scratch.replace(train=train, name="compare-scratch")
        finetune = finetune.replace(train=train, name="compare-finetune")
        self.events.compare_labels = []  # the engine names each run ("... (run k of n)")
        self.events.comparing = True
        self.comparison = None
        self.events.current_name = "compare"
        self._reset_for_run()
        shares = ", ".join(f"{f:.0%}" for f in fractions)
        defaults = compare_defaults(self.session)
        repeats = repeats or defaults.get("repeats") or None
        steps = max_steps or defaults.get("max_steps")
        times = "" if repeats is None else (", once each" if repeats == 1 else f", {repeats} times each")
        budget = f"up to {steps} optimizer steps a run" if steps else "the same budget in optimizer steps"
        self.log_message(
            f"Comparing from scratch and fine-tuning on {shares} of the training data{times}: "
            f"{budget}, batch size {train.batch_size}, {train.optimizer} at {train.learning_rate:g}, scored on a test "
            "split."
        )
        out_dir = None
        if self.runs_folder:  # every compared run is kept as a run folder, with the report beside them
            out_dir = str(Path(self.runs_folder) / time.strftime("compare-%Y%m%d-%H%M%S"))
        self.controls.show_busy("Building the first model…")
        self.busy.emit("Comparing from scratch and fine-tuning…")
        self.controls.hide_resume()
        self.runner.start_comparison(
            scratch, finetune, fractions=fractions, repeats=repeats, max_steps=max_steps, out_dir=out_dir
        )
        self._live_run_started()
        self._update_buttons()
        self.run_state_changed.emit(True)
        return True

    def _dataset_to_train_on(self) -> Any:
        """The loaded dataset when a run can start now; None (with a note if no data) otherwise."""
        if self.runner.running:
            return None
        if self.session.dataset is None:
            self.log_message("Load a dataset first (Data page or Ctrl+O).", "warning")
        return self.session.dataset

    def show_comparison(self) -> None:
        if self.comparison is not None:
            self.compare_dialog.show()
            self.compare_dialog.raise_()

    def stop(self) -> None:
        if self.runner.running:
            self.runner.stop()
            self.log_message("Stopping after the current batch…")
            self.controls.show_stopping()

    def stop_trial(self, number: int) -> None:
        """Stop one run of the running comparison; the others go on (the verdict leaves it out)."""
        if self.runner.running and self.events.comparing:
            self.runner.stop_trial(number)
            label = self.plots.trials_view.labels.get(number, "")
            self.log_message(f"Stopping run {number} ({label}) after its current batch; the other runs go on.")

    def toggle_pause(self) -> None:
        if not self.runner.running:
            return
        if self.runner.paused:
            self.runner.resume()
        else:
            self.runner.pause()

    def clear_overlays(self) -> None:
        self.plots.clear_overlays()
        self._overlay_from = len(self.session.runs)  # cleared runs do not come back
        self.plots.set_overlay_note(0, "")

    def _auto_name(self) -> str:
        recipe = self.session.config.model
        if recipe.kind == "finetune":
            base = "finetune-" + Path(str(recipe.backbone or "backbone")).name.split(":")[-1][:24]
        else:
            base = f"scratch-{recipe.arch}"
        return f"{base}-{len(self.session.runs) + 1}"

    def _live_run_started(self) -> None:
        """The training thread runs: full garbage-collection sweeps wait for its end (see `gui.main_thread_gc`)."""
        defer_full_collections(True)

    def _reset_for_run(self) -> None:
        dataset = self.session.dataset
        self._run_data = (data_identity(dataset), dataset.task) if dataset is not None else ("", "")
        self.show_earlier_runs()
        self.plots.reset_drift()
        self.plots.reset_trials()
        self.plots.reset()
        self.live_preview.reset()
        # Axes for the planned epochs now, while the page is idle: the run's first event then
        # finds nothing to change, and repaints nothing while the training thread traces its
        # functions (when every UI-thread step waits for the interpreter).
        task = getattr(self.session.dataset, "task", "classification")
        self.plots.begin_run(0.0, float(self.session.config.train.epochs), task)
        self.plots.file_stem = self.events.current_name or "plots"
        self.events.reset()
        self.controls.progress.setValue(0)
        self.refresher.start()

    def show_earlier_runs(self) -> list[RunSummary]:
        """Overlay this session's earlier runs on the loaded data and task, and say which (none: no note).

        Drawn afresh for every run: curves of other data or another task (a digits run's accuracy under
        a regression's error) are never comparable, so they go when the data changes.
        """
        dataset = self.session.dataset
        self.plots.clear_overlays()
        if dataset is None:
            self.plots.set_overlay_note(0, "")
            return []
        key, task = data_identity(dataset), dataset.task
        runs = [
            r for r in self.session.runs[self._overlay_from :]
            if r.data_key == key and r.task == task and metric_key(task, r.history) is not None
        ]
        self.plots.add_overlays(runs, task)
        self.plots.set_overlay_note(len(runs), str(dataset.source))
        return runs

    # -- run end --------------------------------------------------------------------------

    def _on_result(self, result: Any) -> None:
        name = self.events.current_name
        summary = RunSummary(
            name, dict(result.history), dict(result.metrics), result.reason, result.dataset_source, *self._run_data
        )
        self.session.set_trained(dataclasses.replace(result.model, name=name))
        self.session.add_run(summary)
        self._offer_roll_back(result)
        words = {
            "completed": "finished",
            "stopped": "stopped by you",
            "early_stopping": "stopped early (no improvement)",
            "nan": "stopped: the loss became NaN",
        }
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        level = "warning" if result.reason == "nan" else "success"
        outcome = words.get(result.reason, result.reason)
        self.log_message(f"{name} {outcome} after {result.seconds:.1f} s. {metrics}", level)
        if result.out_dir:
            self.log_message(f"Run folder: {result.out_dir}")
        self.run_completed.emit(summary)

    def _offer_roll_back(self, result: Any) -> None:
        offer = result.roll_back  # the engine read the kept epochs and applied the warning's own rule
        if offer:
            self.plots.drift_view.offer_roll_back(offer["kept"], offer["suggested"])

    def _on_compared_run_finished(self, event: Any) -> None:
        name = self.events.current_name
        source = getattr(self.session.dataset, "source", "")
        self.session.add_run(
            RunSummary(name, dict(event.history), dict(event.metrics), event.reason, source, *self._run_data)
        )
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in event.metrics.items())
        self.log_message(f"{name} {event.reason.replace('_', ' ')} after {event.seconds:.1f} s. {metrics}", "success")

    def _on_compared(self, comparison: Any) -> None:
        self.comparison = comparison
        self.compare_view.set_comparison(comparison)
        self.plots.results_button.setEnabled(True)
        self.plots.results_button.setVisible(True)
        for sentence in comparison.verdict():
            self.log_message(sentence, "success")
        self.show_comparison()

    def _on_error(self, error: WorkerError) -> None:
        if error.kind == "UntrustedModel" and not self.events.comparing and self._trust_backbone(error.sentence):
            return
        if error.kind in ("EngineDied", "EngineEnded"):
            self._on_engine_ended(error)
            return
        if self.events.last_failed is not None and not error.user_error:
            error = WorkerError(
                self.events.last_failed.message, self.events.last_failed.details or error.details, False, error.kind
            )
        elif self.events.last_failed is None:
            self.log_message(error.sentence, "error")
        self.failed.emit("Comparison failed" if self.events.comparing else "Training failed", error)

    def _on_engine_ended(self, error: WorkerError) -> None:
        """The engine process ended under a run (killed, aborted, out of memory, or past Stop's grace):
        one sentence, and Resume where the run has a folder with a checkpoint."""
        out_dir = self.runner.out_dir
        resumable = bool(out_dir) and (Path(out_dir) / "checkpoint").exists() and not self.events.comparing
        level = "warning" if error.kind == "EngineEnded" else "error"
        self.log_message(error.sentence, level)
        if resumable:
            self.controls.offer_resume(out_dir)
        if error.kind == "EngineDied":
            self.failed.emit("The engine stopped", error)

    def resume_run(self, out_dir: str | None = None) -> bool:
        """Continue the run in ``out_dir`` (default: the last one) from its last checkpoint."""
        out_dir = out_dir or self.runner.out_dir
        if not out_dir:
            return False
        return self.start(resume_dir=out_dir)

    def _trust_backbone(self, sentence: str) -> bool:
        """Ask about the backbone file or folder that would run code; on yes, trust it (by hash) and start again."""
        backbone = self.session.config.model.backbone
        if not backbone or not self.ask_trust(backbone, sentence):
            return False

        def start_when_idle(_trusted: Any = None) -> None:
            if self.runner.running:
                QTimer.singleShot(50, start_when_idle)
            else:
                self.log_message(f"Trusted {backbone}; starting again.")
                self.start()

        self.trust_slot.start(
            Call.of("trust_backbone", backbone=backbone), task="trusting the backbone", on_result=start_when_idle,
            on_error=lambda error: self.failed.emit("Cannot trust this backbone", error),
        )
        return True

    def ask_trust(self, path: str, sentence: str) -> bool:
        """Ask before running code from a backbone nobody trusted yet (tests replace this)."""
        return ask_trust_backbone(self, path, sentence)

    def _on_finished(self) -> None:
        defer_full_collections(False)
        self.refresher.stop()
        self.plots.end_run()
        self.controls.progress.setRange(0, 1000)
        comparing, self.events.comparing = self.events.comparing, False
        if comparing:
            self._overlay_from = len(self.session.runs)  # no dashed overlays of compared runs: the table has them
        if comparing and self.comparison is not None:
            done = len(self.comparison.rows)
            stopped = self.runner.stop_requested
            by_you = sum(1 for s in getattr(self.comparison, "stopped", None) or [] if s["state"] == "stopped")
            also = f", {by_you} stopped by you" if by_you and not stopped else ""
            self.controls.progress_label.setText(
                f"Comparison {'stopped' if stopped else 'done'}: {done} run{'s' if done != 1 else ''} in the verdict"
                f"{also}."
            )
            if not stopped:
                self.controls.progress.setValue(1000)
        elif self.events.finished is not None:
            self.controls.progress_label.setText(
                f"Done: {self.events.finished.reason.replace('_', ' ')} after "
                f"{format_duration(self.events.finished.seconds)}."
            )
            if self.events.finished.reason == "completed":
                self.controls.progress.setValue(1000)
        else:
            self.controls.progress_label.setText("The run did not finish; see the log.")
        self._on_paused(False)
        self._update_buttons()
        self.busy.emit("")
        self.run_state_changed.emit(False)

    def _on_paused(self, paused: bool) -> None:
        self.controls.set_paused(paused)
        if paused:
            self.busy.emit("Training paused")

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.controls.set_running(running, self.session.dataset is not None)
        for widget in self.form.form_widgets():
            widget.setEnabled(not running)
        if not running:
            self.form.update_visibility()
            if self.session.engine is not None:
                self.mixed_check.setEnabled(self.session.engine.has_gpu)
                self.xla_check.setEnabled(self.session.engine.has_gpu)
            else:
                self.mixed_check.setEnabled(False)
                self.xla_check.setEnabled(False)


def data_identity(dataset: Any) -> str:
    """What makes two runs' curves comparable: the same data (source, target column, arrays, size,
    classes) and task. Runs on other data or another target are never overlaid."""
    data = getattr(dataset, "data", None)
    parts = [
        str(dataset.source),
        f"target={getattr(data, 'target', None) or ''}",
        f"arrays={getattr(data, 'x_key', '')},{getattr(data, 'y_key', '')}",
        f"task={dataset.task}",
        f"samples={dataset.num_samples}",
        "classes=" + ",".join(map(str, dataset.class_names)),
    ]
    return "|".join(parts)


def compare_defaults(session: Session) -> dict[str, Any]:
    """The engine's comparison defaults (repeats, step budget), once the engine has said them."""
    return dict((session.engine.details.get("compare_defaults") if session.engine is not None else None) or {})
