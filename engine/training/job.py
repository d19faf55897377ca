"""The training job: config -> dataset -> model -> fit -> evaluate -> save.

`run_training` runs entirely on the calling thread (Keras state is thread-local): the
GUI's worker QThread, the CLI's main thread, or a cluster job all call it the same way and
watch it through the event sink.

A run is a plan and a loop over its phases (`_run` reads as that):

1. `_plan_run` decides everything before the first batch and returns a `RunPlan`: the
   checked config, the data, the built model, the pipelines, what a resumed (``--resume``)
   or restarted (multi-worker) run picks up, and which epochs of which phase are left
   (`PhasePlan`: a from-scratch model has one phase, two-phase fine-tuning two).
2. `_open_run` writes the run folder's config and announces the run (`RunStarted`).
3. `_train_phase`, once per phase left: compile (optimizer state back when resuming inside
   it), the phase's callbacks (`_phase_callbacks`), fit. A stop, a NaN loss or early stopping
   ends the loop (`_stop_reason`).
4. `_finish`: final metrics, the run record and model card facts, the saved model, `Finished`.

Every run folder keeps Keras's `CSVLogger` table (``training_log.csv``); ``--tensorboard``
adds one `RunTensorBoard` writer for the whole run (`_open_board`, opened before the loop
and closed after it, also when a phase raises) and ``--mlflow URI`` an MLflow run (`_open_tracker`, opened before the
run folder is written, finished with the saved model as its artifacts).
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data import load_dataset, make_pipelines
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.pipeline_types import Pipelines
from kiln_lab.engine.environment import device_label, environment_report
from kiln_lab.engine.errors import ConfigError, KilnError
from kiln_lab.engine.events import EventSink, Failed, Finished, PhaseStarted, RunStarted, RunWarning, ignore_events
from kiln_lab.engine.export.atomic import atomic_write_text
from kiln_lab.engine.export.save import save_run
from kiln_lab.engine.models.build import build_model
from kiln_lab.engine.models.built import BuiltModel, TrainingPhase
from kiln_lab.engine.models.heads import model_for_saving
from kiln_lab.engine.models.summary import count_weights
from kiln_lab.engine.monitors.card_facts import run_card_facts
from kiln_lab.engine.monitors.overfitting import small_data_warning
from kiln_lab.engine.runtime import end_of_data_expected
from kiln_lab.engine.training.checkpoint import (
    CHECKPOINT_DIR,
    Checkpoint,
    check_resume_config,
    clear_run_folder,
    never_finished_an_epoch,
    read_checkpoint,
    restore_optimizer,
    restore_weights,
)
from kiln_lab.engine.training.compile import compile_for_phase, phase_learning_rate
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.engine.training.control import RunControl
from kiln_lab.engine.training.distribution import (
    adapt_model_to_strategy,
    backup_callbacks,
    backup_folder,
    distribution_strategy,
    restart_history,
    worker_out_dir,
)
from kiln_lab.engine.training.optimizers import scheduled_rate
from kiln_lab.engine.training.resume_finish import compile_from_checkpoint, needs_finishing
from kiln_lab.engine.training.run_lock import run_folder_lock

TENSORBOARD_DIR = "tensorboard"  # `tensorboard --logdir RUN/tensorboard`
TRAINING_LOG = "training_log.csv"  # Keras's CSVLogger: one row per epoch, every run


@dataclass
class RunResult:
    model: Any
    dataset: Dataset
    history: dict[str, list[float]]
    metrics: dict[str, float]
    stopped: bool
    reason: str  # completed | stopped | early_stopping | nan
    seconds: float
    samples_per_second: float
    record: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    image_size: tuple[int, int] | None = None


def run_training(
    config: RunConfig,
    *,
    sink: EventSink = ignore_events,
    control: RunControl | None = None,
    dataset: Dataset | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    callbacks: tuple[Any, ...] = (),
) -> RunResult:
    """Train as ``config`` says, reporting through ``sink``; save into ``out_dir`` if given.

    ``callbacks``: your own Keras callbacks (``keras.callbacks.Callback`` instances), passed to
    ``model.fit`` in every phase after Kiln's reporter and NaN guard and before its schedule,
    checkpoint and monitors; one instance spans the whole run, and epochs count from the run's
    start. They are code, so they come only from Python callers: a run config (a file) never
    names one. The comparison's step budget uses this too. Example::

        run_training(config, out_dir="runs/a", callbacks=(keras.callbacks.TerminateOnNaN(),))

    Raises `KilnError` for unusable input (after emitting `Failed` with its sentence); any
    other exception also emits `Failed` (with the traceback as details) and propagates.
    """
    control = control or RunControl()
    trackers: list[Any] = []  # an MLflow run the job opened, closed as failed if the job raises
    try:
        # One process at a time per run folder (training/run_lock.py); none without a folder.
        with run_folder_lock(Path(out_dir)) if out_dir else contextlib.nullcontext():
            return _run(
                config, sink, control, dataset, Path(out_dir) if out_dir else None, resume, callbacks, trackers
            )
    except KilnError as exc:
        sink(Failed(exc.sentence, traceback.format_exc()))
        raise
    except Exception as exc:  # noqa: BLE001 - reported, then re-raised for the caller
        sink(Failed(_explain(exc), traceback.format_exc()))
        raise
    finally:
        _fail_trackers(trackers)


def _fail_trackers(trackers: list[Any]) -> None:
    # A tracker the run finished is closed already (`fail` does nothing then); one left open
    # because the run raised, or was interrupted (Ctrl-C is no Exception), ends FAILED.
    for tracker in trackers:
        tracker.fail()


def unmonitored_note(config: RunConfig) -> str | None:
    """Why a fine-tuning run that asked for the forgetting monitor runs without it, or None."""
    if config.model.kind != "finetune" or not config.train.forgetting_monitor:
        return None
    if config.train.distribution == "multiworker":
        # Not made to run there: its per-epoch feature passes (Keras predict calls on every worker,
        # beside the strategy's collectives) are untested under Keras 3's multi-worker strategy,
        # which needed fixes for fit itself (keras-team/keras#20585); see docs/RISKS.md.
        return (
            "The forgetting monitor (backbone drift, source-task accuracy, per-epoch weights for roll-back) "
            "does not run in multi-worker runs; to watch for forgetting, fine-tune on one machine "
            "(distribution auto or mirrored) with the same settings."
        )
    return None


def _explain(exc: Exception) -> str:
    from kiln_lab.engine.errors import is_out_of_memory, out_of_memory_sentence

    name = type(exc).__name__
    if is_out_of_memory(exc):
        return out_of_memory_sentence("training")
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"Training failed with {name}: {first_line[:300]}"


@dataclass(frozen=True)
class PhasePlan:
    """One training phase as this run trains it: where it sits on the run's epoch axis."""

    index: int
    phase: TrainingPhase
    start: int  # the run's epoch (0-based, as Keras counts) where the phase begins
    end: int  # where it ends (exclusive): start + the phase's epochs
    first_epoch: int  # where this run's fit begins: ``start``, later when resuming inside it, ``end`` if done
    left: bool  # still to train (False: finished before the checkpoint this run resumes)
    resuming: bool  # left, and the checkpoint was taken in it: its optimizer state and watchers carry on


@dataclass(frozen=True)
class RunPlan:
    """One run, decided before anything trains, from the config, the data and the resume state."""

    config: RunConfig
    dataset: Dataset
    built: BuiltModel
    strategy: Any  # a tf.distribute strategy, or `distribution.SingleDevice` on JAX / PyTorch
    pipelines: Pipelines
    phases: tuple[PhasePlan, ...]  # every phase of the model, in order; `PhasePlan.left` says which train
    out_dir: Path | None  # this worker's run folder; None writes nothing
    checkpoint: Checkpoint | None  # what --resume continues from
    restarting: bool  # a multi-worker run restarted from its BackupAndRestore backup
    # The epochs so far (the checkpoint's or the backup's); the loop extends this very dict, which
    # the checkpointer and the multi-worker history trim also hold.
    history: dict[str, list[float]]
    class_weight: dict[int, float] | None
    drift: Any | None  # the forgetting monitor (a Keras callback), when it runs
    extra_callbacks: tuple[Any, ...]  # the caller's, for every phase (the comparison's step budget)
    # The phases' `Checkpointer`s: each writes on a background thread, joined by `_checkpoints_written`.
    checkpointers: list[Any] = field(default_factory=list)

    @property
    def start_epoch(self) -> int:
        return self.checkpoint.completed_epochs if self.checkpoint is not None else 0

    @property
    def phases_left(self) -> list[PhasePlan]:
        return [step for step in self.phases if step.left]

    @property
    def checkpoint_dir(self) -> Path | None:
        """Where `Checkpointer` writes for --resume; None when the run keeps no checkpoint."""
        return self.out_dir / CHECKPOINT_DIR if self.out_dir is not None and self.config.train.checkpoint else None


@dataclass
class _Trained:
    """What the phase loop did: its epochs and seconds in fit, and why it ended."""

    reason: str = "completed"  # completed | stopped | early_stopping | nan
    fit_seconds: float = 0.0
    epochs_run: int = 0


def _run(
    config: RunConfig,
    sink: EventSink,
    control: RunControl,
    dataset: Dataset | None,
    out_dir: Path | None,
    resume: bool,
    extra_callbacks: tuple[Any, ...] = (),
    trackers: list[Any] | None = None,
) -> RunResult:
    """The plan, a loop over the phases left, the finish."""
    from kiln_lab.engine.training.callbacks import EventReporter  # imports Keras

    plan = _plan_run(config, sink, dataset, out_dir, resume, extra_callbacks)
    tracker = _open_tracker(plan, trackers)  # before the run folder is written
    model_info = _open_run(plan, sink)
    reporter = EventReporter(sink, control, epochs=config.train.epochs, steps=plan.pipelines.steps_per_epoch)
    board = _open_board(plan)
    trained = _Trained()
    try:
        for step in plan.phases_left:
            fitted, seconds, early = _train_phase(plan, step, reporter, sink, model_info, board=board, tracker=tracker)
            trained.fit_seconds += seconds
            trained.epochs_run += len(fitted.get("loss", []))
            for key, values in fitted.items():
                plan.history.setdefault(key, []).extend(values)
            reason = _stop_reason(reporter, early)
            if reason is not None:
                trained.reason = reason
                break
    finally:
        # Also when a phase raises (or Ctrl-C): the writer flushes what it buffered since the last
        # epoch and lets go of its event files.
        if board is not None:
            board.close()
    return _finish(plan, trained, model_info, sink, tracker)


def _plan_run(
    config: RunConfig,
    sink: EventSink,
    dataset: Dataset | None,
    out_dir: Path | None,
    resume: bool,
    extra_callbacks: tuple[Any, ...],
) -> RunPlan:
    """Check, load, build and pick up where an earlier run stopped; nothing is written yet."""
    import keras

    config.validate()
    if out_dir is not None and config.train.tensorboard:
        from kiln_lab.engine.runtime import require_tensorboard

        require_tensorboard()  # before anything is written: a refused run leaves the folder as it was
    if config.train.mlflow:
        from kiln_lab.engine.training.tracking import require_mlflow

        require_mlflow(config.train.mlflow)
    # Before anything is loaded or written: the checkpoint must exist and match this config.
    checkpoint = _resume_point(config, out_dir) if resume else None
    keras.utils.set_random_seed(config.train.seed)
    dataset = _load_data(config, dataset, sink)
    _apply_precision(config, sink)
    strategy = distribution_strategy(config.train.distribution)
    out_dir = worker_out_dir(strategy, out_dir)
    with strategy.scope():
        built = build_model(
            config.model, dataset, epochs=config.train.epochs, image_size=config.data.image_size, sink=sink
        )
    # Before any checkpoint is loaded: the monitor's baseline is the model as built.
    drift = _forgetting_monitor(config, built, dataset, sink, out_dir)
    pipelines = make_pipelines(
        dataset,
        batch_size=config.train.batch_size * strategy.num_replicas_in_sync,
        image_size=built.image_size,
        augment=config.data.augment,
        seed=config.data.seed,
        cache=config.data.cache,
    )
    class_weight = _class_weights(dataset) if config.train.class_weights and dataset.is_classification else None
    history, restarting = _pick_up(config, built, strategy, checkpoint, out_dir)
    return RunPlan(
        config=config,
        dataset=dataset,
        built=built,
        strategy=strategy,
        pipelines=pipelines,
        phases=_phase_plans(built.phases, checkpoint),
        out_dir=out_dir,
        checkpoint=checkpoint,
        restarting=restarting,
        history=history,
        class_weight=class_weight,
        drift=drift,
        extra_callbacks=tuple(extra_callbacks),
    )


def _load_data(config: RunConfig, dataset: Dataset | None, sink: EventSink) -> Dataset:
    """The run's dataset (scanned now unless the caller has one), with its warnings said."""
    if dataset is None:
        dataset = load_dataset(config.data, progress=sink)
    if dataset.skipped:
        sink(RunWarning(_skipped_sentence(dataset), kind="skipped"))
    small_data = small_data_warning(dataset, config.model.kind)
    if small_data:
        sink(RunWarning(small_data, kind="small_data"))
    return dataset


def _forgetting_monitor(
    config: RunConfig, built: BuiltModel, dataset: Dataset, sink: EventSink, out_dir: Path | None
) -> Any | None:
    """The forgetting monitor's callback, when it runs (None for from-scratch runs and multi-worker).

    It takes its baseline from the model as built: the pretrained backbone, before any
    checkpoint is loaded. A fine-tuning run that asked for it and runs without it says why.
    """
    if not config.train.forgetting_monitor or config.train.distribution == "multiworker":
        note = unmonitored_note(config)
        if note:
            sink(RunWarning(note, kind="forgetting"))
        return None
    from kiln_lab.engine.monitors.forgetting_callback import make_forgetting_monitor  # imports Keras

    return make_forgetting_monitor(config, built, dataset, sink=sink, out_dir=out_dir)


def _pick_up(
    config: RunConfig, built: BuiltModel, strategy: Any, checkpoint: Checkpoint | None, out_dir: Path | None
) -> tuple[dict[str, list[float]], bool]:
    """The history so far, and whether this is a multi-worker restart; a checkpoint's weights go in."""
    if checkpoint is not None:
        # Weights only, into the model rebuilt from the config: nothing from the run folder runs.
        _load_checkpoint_weights(built, checkpoint, strategy)
        return {k: list(v) for k, v in checkpoint.history.items()}, False
    # A multi-worker run restarted by its scheduler (the same command again): BackupAndRestore puts
    # the model back; the history so far comes from Kiln's checkpoint (engine/training/distribution.py).
    backup = backup_folder(config.train.distribution, out_dir)
    if out_dir is not None and backup is not None and backup.is_dir():
        return restart_history(out_dir / CHECKPOINT_DIR), True
    return {}, False


def _phase_plans(phases: list[TrainingPhase], checkpoint: Checkpoint | None) -> tuple[PhasePlan, ...]:
    """Each phase's epochs on the run's axis, and which are left after ``checkpoint``."""
    start_epoch = checkpoint.completed_epochs if checkpoint is not None else 0
    start_phase = checkpoint.phase_index if checkpoint is not None else 0
    plans = []
    end = 0
    for index, phase in enumerate(phases):
        start, end = end, end + phase.epochs
        left = index >= start_phase and end > start_epoch
        plans.append(
            PhasePlan(
                index=index,
                phase=phase,
                start=start,
                end=end,
                first_epoch=max(start, start_epoch) if left else end,
                left=left,
                resuming=left and checkpoint is not None and index == start_phase,
            )
        )
    return tuple(plans)


def _open_run(plan: RunPlan, sink: EventSink) -> dict[str, Any]:
    """Ready the run folder and announce the run; returns the model summary for the record."""
    config, built, out_dir = plan.config, plan.built, plan.out_dir
    if built.phases and built.phases[0].prepare is not None and plan.checkpoint is None:
        built.phases[0].prepare(built.model)  # so the summary counts what phase 1 will train
    model_info = _model_summary(built)
    if out_dir is not None and plan.checkpoint is None and not plan.restarting:
        _start_run_folder(out_dir, config)  # only now: a run refused earlier leaves the folder as it was
    elif out_dir is not None:
        config.save(out_dir / "config.toml")  # a resumed run may train for more epochs than first planned
        _drop_log_rows_from(out_dir / TRAINING_LOG, plan.start_epoch)  # epochs after the checkpoint run again
    sink(
        RunStarted(
            run_name=config.name,
            dataset=plan.dataset.summary(),
            model=model_info,
            epochs=config.train.epochs,
            steps_per_epoch=plan.pipelines.steps_per_epoch,
            initial_epoch=plan.start_epoch,
            device=device_label(),
        )
    )
    return model_info


def _open_tracker(plan: RunPlan, trackers: list[Any] | None) -> Any | None:
    """The run's MLflow run (``--mlflow URI``), or None; a store that cannot be reached refuses the run.

    Opened before the run folder is written, so a refused run leaves the folder as it was;
    ``trackers`` gets it so that `run_training` closes it as failed if the job raises.
    """
    config = plan.config
    if not config.train.mlflow:
        return None
    from kiln_lab.engine.training.tensorboard import run_hparams  # imports Keras
    from kiln_lab.engine.training.tracking import open_mlflow_run

    tracker = open_mlflow_run(
        config.train.mlflow,
        run_hparams(config, train_samples=int(np.unique(plan.dataset.splits["train"]).size)),
        run_name=config.name or (plan.out_dir.name if plan.out_dir else "kiln"),
    )
    if trackers is not None:
        trackers.append(tracker)
    return tracker


def _open_board(plan: RunPlan) -> Any | None:
    """The run's one TensorBoard writer (``--tensorboard``), or None: phases and a resumed run
    continue the same step axis."""
    config = plan.config
    if plan.out_dir is None or not config.train.tensorboard:
        return None
    from kiln_lab.engine.training.tensorboard import RunTensorBoard, run_hparams  # imports Keras

    return RunTensorBoard(
        plan.out_dir / TENSORBOARD_DIR,
        steps_per_epoch=plan.pipelines.steps_per_epoch,
        batch_loss=config.train.tensorboard_batches,
        drift=plan.drift,
        # distinct samples: a comparison's small share lists its samples several times per epoch
        hparams=run_hparams(config, train_samples=int(np.unique(plan.dataset.splits["train"]).size)),
    )


def _train_phase(
    plan: RunPlan,
    step: PhasePlan,
    reporter: Any,
    sink: EventSink,
    model_info: dict[str, Any],
    *,
    board: Any = None,
    tracker: Any = None,
) -> tuple[dict[str, list[float]], float, Any]:
    """Compile and fit one phase: its new history, its seconds in fit, and its early stopping.
    ``model_info`` (the run record's model part) gets what this phase trains."""
    _compile_phase(plan, step, model_info)
    count = len(plan.built.phases)
    if count > 1:
        phase = step.phase
        sink(PhaseStarted(phase.name, step.index, count, step.first_epoch, step.end - 1, phase.description))
    callbacks, early = _phase_callbacks(plan, step, reporter, board=board, tracker=tracker)
    started = time.perf_counter()
    fitted = _fit(plan, step, callbacks)
    return fitted, time.perf_counter() - started, early


def _compile_phase(plan: RunPlan, step: PhasePlan, model_info: dict[str, Any]) -> None:
    config, built, strategy = plan.config, plan.built, plan.strategy
    with strategy.scope():
        compile_for_phase(
            built, step.phase, config, task=plan.dataset.task, num_classes=plan.dataset.num_classes
        )
    # What this phase trains (a two-phase fine-tune trains the head, then much more): the card says each.
    model_info.setdefault("phase_trainable", []).append(
        {"phase": step.phase.name, "trainable_params": _trainable_now(built.model)}
    )
    adapt_model_to_strategy(built.model, strategy)
    if step.resuming:
        with strategy.scope():
            restore_optimizer(built.model, plan.checkpoint)  # step count, moments: the run goes on as if never stopped


def _phase_callbacks(
    plan: RunPlan, step: PhasePlan, reporter: Any, *, board: Any = None, tracker: Any = None
) -> tuple[list[Any], Any]:
    """The phase's Keras callbacks in the order they must run, and its early stopping (or None).

    ``board`` (the run's `RunTensorBoard`) and ``tracker`` (its MLflow run) span the whole run.
    """
    import keras

    from kiln_lab.engine.training.callbacks import Checkpointer, NanWeightsGuard, ResumedWatchers
    from kiln_lab.engine.training.preview import live_preview

    config = plan.config
    callbacks: list[Any] = [reporter, NanWeightsGuard(reporter), *plan.extra_callbacks]
    base_rate = phase_learning_rate(config, step.phase)
    has_validation = plan.pipelines.val is not None
    schedule, early = _schedule_and_stopping(config, step.start, step.phase.epochs, base_rate, has_validation)
    callbacks += schedule
    watchers = [c for c in schedule if hasattr(c, "patience")]  # early stopping, a plateau schedule
    if step.resuming and watchers and step.first_epoch > step.start:
        past = {w.monitor: list(plan.history.get(w.monitor, []))[step.start : step.first_epoch] for w in watchers}
        callbacks.append(ResumedWatchers(watchers, past, step.start))  # after them: they reset at train begin
    callbacks += backup_callbacks(config.train.distribution, plan.out_dir, plan.history)  # multi-worker runs only
    if plan.checkpoint_dir is not None:
        _checkpoints_written(plan)  # the last phase's final checkpoint, before this phase writes its own
        plan.checkpointers.append(Checkpointer(plan.checkpoint_dir, plan.history, step.index, config.to_dict()))
        callbacks.append(plan.checkpointers[-1])
    callbacks.append(reporter.closing_callback())  # last: epoch times include checkpoints and the rest
    if plan.drift is not None:  # after the epoch's own event, so its figures read as that epoch's
        callbacks.append(plan.drift)
    callbacks += live_preview(plan, reporter)  # the preview pane: predictions on fixed samples, after EpochEnd
    if plan.out_dir is not None:  # appends: phases and a resumed run continue one table
        callbacks.append(keras.callbacks.CSVLogger(str(plan.out_dir / TRAINING_LOG), append=True))
    if board is not None:  # after the drift monitor, whose figures it logs
        board.start_phase(step.first_epoch)
        callbacks.append(board)
    if tracker is not None:
        callbacks.append(tracker)
    return callbacks, early


def _fit(plan: RunPlan, step: PhasePlan, callbacks: list[Any]) -> dict[str, list[float]]:
    """``model.fit`` over the phase's epochs left; returns this fit's history."""
    pipelines = plan.pipelines
    # The endless stream (first epoch straight from the decoders, later ones reshuffled from the
    # cache) with a fixed number of steps; plain per-epoch batches where there is none.
    stream = getattr(pipelines, "train_stream", None)
    # Keras warns "input ran out of data" whenever a pipeline's length is not known up
    # front (streamed sources); every epoch still sees every batch, so the note is noise.
    with warnings.catch_warnings():  # scoped: the caller's own filters are left as they were
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        fit_history = plan.built.model.fit(
            stream if stream is not None else pipelines.train,
            steps_per_epoch=pipelines.steps_per_epoch if stream is not None else None,
            validation_data=pipelines.val,
            epochs=step.end,
            initial_epoch=step.first_epoch,
            callbacks=callbacks,
            class_weight=plan.class_weight,
            shuffle=False,  # the pipeline shuffles, seeded
            verbose=0,
        )
    return {k: [float(v) for v in vals] for k, vals in fit_history.history.items()}


def _stop_reason(reporter: Any, early: Any) -> str | None:
    """Why the run ends after this phase (nan, stopped, early_stopping); None: on to the next phase."""
    if reporter.nan_detected:
        return "nan"
    if reporter.stopped_by_user:
        return "stopped"
    if early is not None and early.stopped_epoch > 0:
        return "early_stopping"
    return None


def _finish(
    plan: RunPlan, trained: _Trained, model_info: dict[str, Any], sink: EventSink, tracker: Any = None
) -> RunResult:
    """Score the final weights, write the record and the model, and say the run has finished."""
    config, dataset, built, history, out_dir = plan.config, plan.dataset, plan.built, plan.history, plan.out_dir
    if needs_finishing(built.model, plan.checkpoint):  # killed after its last checkpoint: nothing left to train
        compile_from_checkpoint(built, plan.checkpoint, config, dataset, plan.strategy)
    # The last epoch's validation already scored these very weights unless something put other
    # weights back after it (early stopping's best weights, the NaN guard, the drift roll-back).
    weights_unchanged = (
        trained.epochs_run > 0 and trained.reason != "nan" and config.train.early_stopping <= 0 and plan.drift is None
    )
    metrics = _final_metrics(built.model, plan.pipelines, history, reuse_validation=weights_unchanged)
    late = list(getattr(dataset.loader, "late_skips", None) or [])
    if late:  # files that passed the scan but failed to decode: skipped, the run went on without them
        dataset.skipped.extend(item for item in late if item not in dataset.skipped)
        sink(RunWarning(_skipped_sentence(dataset), kind="skipped"))
    model = model_for_saving(built.model)  # regression trains on a Kiln loss; what is saved loads in plain Keras
    fit_seconds, epochs_run = trained.fit_seconds, trained.epochs_run
    n_train = len(dataset.splits["train"])
    samples_per_second = (n_train * epochs_run / fit_seconds) if fit_seconds > 0 else 0.0
    stopped = trained.reason != "completed"
    record = _run_record(config, dataset, built, model_info, history, metrics, fit_seconds, epochs_run, trained.reason)
    # per-class metrics, backbone licence and caveats, drift figures: for run.json and the model card
    # The per-class figures read the run's own validation / test batches (cached by now) rather
    # than a new pipeline that would decode the split again.
    from kiln_lab.engine.runtime import tensorflow_backend

    own = model is built.model and tensorflow_backend() and plan.strategy.num_replicas_in_sync == 1
    splits = {"val": plan.pipelines.val, "test": plan.pipelines.test} if own else None
    record.update(
        run_card_facts(model, dataset, built.info, image_size=built.image_size, monitor=plan.drift, batches=splits)
    )
    if tracker is not None:  # the model card's privacy line says where the run was sent
        record["mlflow"] = {"tracking_uri": config.train.mlflow, "run_id": tracker.run_id}
    if out_dir is not None:
        save_run(model, out_dir, record)
    _checkpoints_written(plan)  # the last checkpoint was written while the run was scored and saved
    if tracker is not None:
        tracker.finish(out_dir, trained.reason)  # the model, its card and the records become the run's artifacts
    sink(Finished(history, metrics, stopped, fit_seconds, str(out_dir) if out_dir else None, trained.reason))
    return RunResult(
        model=model,
        dataset=dataset,
        history=history,
        metrics=metrics,
        stopped=stopped,
        reason=trained.reason,
        seconds=fit_seconds,
        samples_per_second=samples_per_second,
        record=record,
        out_dir=out_dir,
        image_size=built.image_size,
    )


def _checkpoints_written(plan: RunPlan) -> None:
    """Wait for the checkpoints being written in the background (raising a write's error)."""
    for checkpointer in plan.checkpointers:
        checkpointer.wait()


def _schedule_and_stopping(
    config: RunConfig, phase_start: int, phase_epochs: int, base_rate: float, has_validation: bool
) -> tuple[list[Any], Any]:
    """The phase's learning-rate schedule and early stopping callbacks (the latter also returned)."""
    import keras

    from kiln_lab.engine.training.callbacks import EpochLearningRate

    monitor = "val_loss" if has_validation else "loss"
    callbacks: list[Any] = []
    if config.train.schedule in ("step", "cosine"):
        callbacks.append(
            EpochLearningRate(
                lambda e, s=phase_start, n=phase_epochs, r=base_rate: scheduled_rate(config.train, r, e - s, n)
            )
        )
    elif config.train.schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=config.train.step_factor,
                patience=config.train.plateau_patience,
                min_lr=base_rate * 1e-4,
            )
        )
    early = None
    if config.train.early_stopping > 0:
        early = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=config.train.early_stopping, restore_best_weights=True
        )
        callbacks.append(early)
    return callbacks, early


def _run_record(
    config: RunConfig,
    dataset: Dataset,
    built: Any,
    model_info: dict[str, Any],
    history: dict[str, list[float]],
    metrics: dict[str, float],
    fit_seconds: float,
    epochs_run: int,
    reason: str,
) -> dict[str, Any]:
    """run.json: config, environment, dataset, model, history, metrics and timing of one run."""
    n_train = len(dataset.splits["train"])
    samples_per_second = (n_train * epochs_run / fit_seconds) if fit_seconds > 0 else 0.0
    return {
        "config": config.to_dict(),
        "environment": environment_report(),
        "dataset": dataset.summary(),
        "model": {**model_info, **built.info, "image_size": list(built.image_size) if built.image_size else None},
        "history": history,
        "metrics": metrics,
        "timing": {
            "seconds": round(fit_seconds, 3),
            "epochs_run": epochs_run,
            "samples_per_second": round(samples_per_second, 1),
        },
        "stopped": reason != "completed",
        "reason": reason,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _apply_precision(config: RunConfig, sink: EventSink) -> None:
    import keras

    from kiln_lab.engine.runtime import accelerators

    if config.train.mixed_precision and accelerators():
        keras.mixed_precision.set_global_policy("mixed_float16")
        return
    if config.train.mixed_precision:
        sink(RunWarning("Mixed precision needs a GPU; this run trains in float32.", kind="device"))
    keras.mixed_precision.set_global_policy("float32")


def _skipped_sentence(dataset: Dataset) -> str:
    first = "; ".join(f"{s.path}: {s.reason}" for s in dataset.skipped[:3])
    more = f" and {len(dataset.skipped) - 3} more" if len(dataset.skipped) > 3 else ""
    return f"{len(dataset.skipped)} file(s) skipped ({first}{more}). Training goes on with the rest."


def _class_weights(dataset: Dataset) -> dict[int, float]:
    """Balanced weights n / (k * n_c) from the training split's counts."""
    counts = np.array(list(dataset.class_counts("train").values()), dtype=np.float64)
    total, k = counts.sum(), np.count_nonzero(counts)
    return {i: float(total / (k * c)) if c > 0 else 0.0 for i, c in enumerate(counts)}


def _trainable_now(model: Any) -> int:
    return count_weights(model.trainable_weights)


def _model_summary(built: Any) -> dict[str, Any]:
    model = built.model
    return {
        "name": model.name,
        "params": count_weights(model.weights),
        "trainable_params": count_weights(model.trainable_weights),
        "layers": [{"name": layer.name, "type": type(layer).__name__} for layer in model.layers],
    }


def _final_metrics(
    model: Any, pipelines: Any, history: dict[str, list[float]], *, reuse_validation: bool = False
) -> dict[str, float]:
    """Last epoch's training metrics, plus validation/test metrics of the final weights.

    With ``reuse_validation`` the last epoch's validation metrics are taken from the history
    instead of evaluating the same weights on the same data again.
    """
    metrics = {k: v[-1] for k, v in history.items() if v and not k.startswith("val_") and k != "learning_rate"}
    reused = {k: v[-1] for k, v in history.items() if v and k.startswith("val_")} if reuse_validation else {}
    metrics.update(reused)
    for prefix, data in (("val_", pipelines.val), ("test_", pipelines.test)):
        if data is None or (prefix == "val_" and reused):
            continue
        with end_of_data_expected():
            scores = model.evaluate(data, verbose=0, return_dict=True)
        metrics.update({prefix + k: float(v) for k, v in scores.items()})
    return metrics


def _resume_point(config: RunConfig, out_dir: Path | None) -> Checkpoint | None:
    """The run folder's newest checkpoint, checked against ``config``; a sentence when there is none."""
    checkpoint = read_checkpoint(out_dir / CHECKPOINT_DIR) if out_dir is not None else None
    if checkpoint is None and out_dir is not None and never_finished_an_epoch(out_dir, config.to_dict()):
        return None  # killed before its first checkpoint: nothing was kept, so the run starts from its beginning
    if checkpoint is None:
        raise ConfigError(
            f"There is no checkpoint to resume in {out_dir} (a run stopped before its first epoch ended leaves none).",
            hint="Start the run again without --resume.",
        )
    check_resume_config(checkpoint, config.to_dict())
    return checkpoint


def _load_checkpoint_weights(built: Any, checkpoint: Any, strategy: Any) -> None:
    # The trainable flags of the phase the checkpoint was taken in, so the weights line up.
    phase = built.phases[min(checkpoint.phase_index, len(built.phases) - 1)] if built.phases else None
    if phase is not None and phase.prepare is not None:
        phase.prepare(built.model)
    with strategy.scope():
        restore_weights(built.model, checkpoint)


def _drop_log_rows_from(path: Path, epoch: int) -> None:
    """Keep the CSV log's rows of epochs before ``epoch`` (0-based), so a resumed run writes each epoch once."""
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or "epoch" not in rows[0]:
        return
    column = rows[0].index("epoch")
    kept = [rows[0]] + [row for row in rows[1:] if row and row[column].isdigit() and int(row[column]) < epoch]
    if len(kept) != len(rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(kept)
        atomic_write_text(path, buffer.getvalue())


def _start_run_folder(out_dir: Path, config: RunConfig) -> None:
    """A new run's first write: the earlier run's files go (the CLI asked first), then its config."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_run_folder(out_dir)
    config.save(out_dir / "config.toml")
