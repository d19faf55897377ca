"""The training job: config -> dataset -> model -> fit -> evaluate -> save.

`run_training` runs entirely on the calling thread (Keras state is thread-local): the
GUI's worker QThread, the CLI's main thread, or a cluster job all call it the same way and
watch it through the event sink.
"""

from __future__ import annotations

import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.dataset import Dataset
from engine.errors import ConfigError, KilnError
from engine.events import EventSink, Failed, Finished, PhaseStarted, RunStarted, RunWarning, ignore_events
from engine.training.config import RunConfig
from engine.training.control import RunControl

CHECKPOINT_DIR = "checkpoint"
TENSORBOARD_DIR = "tensorboard"  # `tensorboard --logdir RUN/tensorboard`


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

    ``callbacks``: extra Keras callbacks for every phase (the comparison's step budget uses this).

    Raises `KilnError` for unusable input (after emitting `Failed` with its sentence); any
    other exception also emits `Failed` (with the traceback as details) and propagates.
    """
    control = control or RunControl()
    try:
        return _run(config, sink, control, dataset, Path(out_dir) if out_dir else None, resume, callbacks)
    except KilnError as exc:
        sink(Failed(exc.sentence, traceback.format_exc()))
        raise
    except Exception as exc:  # noqa: BLE001 - reported, then re-raised for the caller
        sink(Failed(_explain(exc), traceback.format_exc()))
        raise


def _explain(exc: Exception) -> str:
    from engine.errors import is_out_of_memory, out_of_memory_sentence

    name = type(exc).__name__
    if is_out_of_memory(exc):
        return out_of_memory_sentence("training")
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"Training failed with {name}: {first_line[:300]}"


def _run(
    config: RunConfig,
    sink: EventSink,
    control: RunControl,
    dataset: Dataset | None,
    out_dir: Path | None,
    resume: bool,
    extra_callbacks: tuple[Any, ...] = (),
) -> RunResult:
    import keras

    from engine.data import load_dataset, make_pipelines
    from engine.environment import device_label
    from engine.models.build import build_model
    from engine.monitors.overfitting import small_data_warning
    from engine.training.compile import compile_for_phase, phase_learning_rate
    from engine.training.distribution import (
        adapt_model_to_strategy,
        backup_callbacks,
        backup_folder,
        distribution_strategy,
        restart_history,
        worker_out_dir,
    )

    config.validate()
    # Before anything is loaded or written: the checkpoint must exist and match this config.
    checkpoint = _resume_point(config, out_dir) if resume else None
    keras.utils.set_random_seed(config.train.seed)
    if dataset is None:
        dataset = load_dataset(config.data, progress=sink)
    if dataset.skipped:
        sink(RunWarning(_skipped_sentence(dataset), kind="skipped"))
    small_data = small_data_warning(dataset, config.model.kind)
    if small_data:
        sink(RunWarning(small_data, kind="small_data"))
    _apply_precision(config, sink)

    strategy = distribution_strategy(config.train.distribution)
    out_dir = worker_out_dir(strategy, out_dir)
    with strategy.scope():
        built = build_model(
            config.model, dataset, epochs=config.train.epochs, image_size=config.data.image_size, sink=sink
        )
    # The forgetting monitor takes its baseline from the model as built: the pretrained
    # backbone, before any checkpoint is loaded (None for from-scratch runs).
    drift = None
    if config.train.forgetting_monitor and config.train.distribution != "multiworker":
        from engine.monitors.forgetting_callback import make_forgetting_monitor

        drift = make_forgetting_monitor(config, built, dataset, sink=sink, out_dir=out_dir)
    pipelines = make_pipelines(
        dataset,
        batch_size=config.train.batch_size * strategy.num_replicas_in_sync,
        image_size=built.image_size,
        augment=config.data.augment,
        seed=config.data.seed,
        cache=config.data.cache,
    )
    class_weight = _class_weights(dataset) if config.train.class_weights and dataset.is_classification else None

    history: dict[str, list[float]] = {}
    start_epoch = 0
    start_phase = 0
    if checkpoint is not None:
        # Weights only, into the model rebuilt from the config: nothing from the run folder runs.
        _load_checkpoint_weights(built, checkpoint, strategy)
        history = {k: list(v) for k, v in checkpoint.history.items()}
        start_epoch = checkpoint.completed_epochs
        start_phase = checkpoint.phase_index
    # A multi-worker run restarted by its scheduler (the same command again): BackupAndRestore puts
    # the model back; the history so far comes from Kiln's checkpoint (engine/training/distribution.py).
    backup = backup_folder(config.train.distribution, out_dir)
    restarting = checkpoint is None and backup is not None and backup.is_dir()
    if restarting:
        history = restart_history(out_dir / CHECKPOINT_DIR)

    if built.phases and built.phases[0].prepare is not None and checkpoint is None:
        built.phases[0].prepare(built.model)  # so the summary counts what phase 1 will train
    model_info = _model_summary(built)
    if out_dir is not None and checkpoint is None and not restarting:
        _start_run_folder(out_dir, config)  # only now: a run refused earlier leaves the folder as it was
    elif out_dir is not None:
        config.save(out_dir / "config.toml")  # a resumed run may train for more epochs than first planned
    sink(
        RunStarted(
            run_name=config.name,
            dataset=dataset.summary(),
            model=model_info,
            epochs=config.train.epochs,
            steps_per_epoch=pipelines.steps_per_epoch,
            initial_epoch=start_epoch,
            device=device_label(),
        )
    )

    from engine.training.callbacks import Checkpointer, EventReporter, NanWeightsGuard

    reporter = EventReporter(sink, control, epochs=config.train.epochs, steps=pipelines.steps_per_epoch)
    reason = "completed"
    phase_end = 0
    fit_seconds = 0.0
    epochs_run = 0
    for index, phase in enumerate(built.phases):
        phase_start = phase_end
        phase_end = phase_start + phase.epochs
        if index < start_phase or phase_end <= start_epoch:
            continue
        first_epoch = max(phase_start, start_epoch)
        resuming_this_phase = checkpoint is not None and index == start_phase
        with strategy.scope():
            compile_for_phase(built, phase, config, task=dataset.task, num_classes=dataset.num_classes)
        model = built.model
        # What this phase trains (a two-phase fine-tune trains the head, then much more): the card says each.
        model_info.setdefault("phase_trainable", []).append(
            {"phase": phase.name, "trainable_params": _trainable_now(model)}
        )
        adapt_model_to_strategy(model, strategy)
        if resuming_this_phase:
            from engine.training.checkpoint import restore_optimizer

            with strategy.scope():
                restore_optimizer(model, checkpoint)  # step count, moments: the run goes on as if never stopped
        if len(built.phases) > 1:
            sink(PhaseStarted(phase.name, index, len(built.phases), first_epoch, phase_end - 1, phase.description))
        base_rate = phase_learning_rate(config, phase)
        callbacks: list[Any] = [reporter, NanWeightsGuard(reporter), *extra_callbacks]
        has_validation = pipelines.val is not None
        schedule, early = _schedule_and_stopping(config, phase_start, phase.epochs, base_rate, has_validation)
        callbacks += schedule
        watchers = [c for c in [*schedule, early] if hasattr(c, "patience")]
        if resuming_this_phase and watchers and first_epoch > phase_start:
            from engine.training.callbacks import ResumedWatchers

            past = {w.monitor: list(history.get(w.monitor, []))[phase_start:first_epoch] for w in watchers}
            callbacks.append(ResumedWatchers(watchers, past, phase_start))  # after them: they reset at train begin
        if out_dir is not None and config.train.tensorboard:
            # One log folder for the whole run: phases continue the same epoch axis.
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out_dir / TENSORBOARD_DIR), histogram_freq=0))
        callbacks += backup_callbacks(config.train.distribution, out_dir, history)  # multi-worker runs only
        if out_dir is not None and config.train.checkpoint:
            callbacks.append(Checkpointer(out_dir / CHECKPOINT_DIR, history, index, config.to_dict()))
        callbacks.append(reporter.closing_callback())  # last: epoch times include checkpoints and the rest
        if drift is not None:  # after the epoch's own event, so its figures read as that epoch's
            callbacks.append(drift)
        # The endless stream (first epoch straight from the decoders, later ones reshuffled from the
        # cache) with a fixed number of steps; plain per-epoch batches where there is none.
        stream = getattr(pipelines, "train_stream", None)
        started = time.perf_counter()
        # Keras warns "input ran out of data" whenever a pipeline's length is not known up
        # front (streamed sources); every epoch still sees every batch, so the note is noise.
        with warnings.catch_warnings():  # scoped: the caller's own filters are left as they were
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            fit_history = model.fit(
                stream if stream is not None else pipelines.train,
                steps_per_epoch=pipelines.steps_per_epoch if stream is not None else None,
                validation_data=pipelines.val,
                epochs=phase_end,
                initial_epoch=first_epoch,
                callbacks=callbacks,
                class_weight=class_weight,
                shuffle=False,  # the pipeline shuffles, seeded
                verbose=0,
            )
        fit_seconds += time.perf_counter() - started
        new = {k: [float(v) for v in vals] for k, vals in fit_history.history.items()}
        epochs_run += len(new.get("loss", []))
        for key, values in new.items():
            history.setdefault(key, []).extend(values)
        if reporter.nan_detected:
            reason = "nan"
            break
        if reporter.stopped_by_user:
            reason = "stopped"
            break
        if early is not None and early.stopped_epoch > 0:
            reason = "early_stopping"
            break

    model = built.model
    # The last epoch's validation already scored these very weights unless something put other
    # weights back after it (early stopping's best weights, the NaN guard, the drift roll-back).
    weights_unchanged = epochs_run > 0 and reason != "nan" and early is None and drift is None
    metrics = _final_metrics(model, pipelines, history, reuse_validation=weights_unchanged)
    late = list(getattr(dataset.loader, "late_skips", None) or [])
    if late:  # files that passed the scan but failed to decode: skipped, the run went on without them
        dataset.skipped.extend(item for item in late if item not in dataset.skipped)
        sink(RunWarning(_skipped_sentence(dataset), kind="skipped"))
    from engine.models.heads import model_for_saving

    model = model_for_saving(model)  # regression trains on a Kiln loss; what is saved loads in plain Keras
    n_train = len(dataset.splits["train"])
    samples_per_second = (n_train * epochs_run / fit_seconds) if fit_seconds > 0 else 0.0
    stopped = reason != "completed"
    record = _run_record(config, dataset, built, model_info, history, metrics, fit_seconds, epochs_run, reason)
    from engine.monitors.card_facts import run_card_facts

    # per-class metrics, backbone licence and caveats, drift figures: for run.json and the model card
    record.update(run_card_facts(model, dataset, built.info, image_size=built.image_size, monitor=drift))
    if out_dir is not None:
        from engine.export.save import save_run

        save_run(model, out_dir, record)
    sink(Finished(history, metrics, stopped, fit_seconds, str(out_dir) if out_dir else None, reason))
    return RunResult(
        model=model,
        dataset=dataset,
        history=history,
        metrics=metrics,
        stopped=stopped,
        reason=reason,
        seconds=fit_seconds,
        samples_per_second=samples_per_second,
        record=record,
        out_dir=out_dir,
        image_size=built.image_size,
    )


def _schedule_and_stopping(
    config: RunConfig, phase_start: int, phase_epochs: int, base_rate: float, has_validation: bool
) -> tuple[list[Any], Any]:
    """The phase's learning-rate schedule and early stopping callbacks (the latter also returned)."""
    import keras

    from engine.training.callbacks import EpochLearningRate
    from engine.training.optimizers import scheduled_rate

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
    from engine.environment import environment_report

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

    from engine.runtime import accelerators

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
    from engine.models.summary import count_weights

    return count_weights(model.trainable_weights)


def _model_summary(built: Any) -> dict[str, Any]:
    from engine.models.summary import count_weights

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
        scores = model.evaluate(data, verbose=0, return_dict=True)
        metrics.update({prefix + k: float(v) for k, v in scores.items()})
    return metrics


def _resume_point(config: RunConfig, out_dir: Path | None) -> Any:
    """The run folder's newest checkpoint, checked against ``config``; a sentence when there is none."""
    from engine.training.checkpoint import check_resume_config, read_checkpoint

    checkpoint = read_checkpoint(out_dir / CHECKPOINT_DIR) if out_dir is not None else None
    if checkpoint is None:
        raise ConfigError(
            f"There is no checkpoint to resume in {out_dir} (a run stopped before its first epoch ended leaves none).",
            hint="Start the run again without --resume, with --overwrite if the folder holds its config.",
        )
    check_resume_config(checkpoint, config.to_dict())
    return checkpoint


def _load_checkpoint_weights(built: Any, checkpoint: Any, strategy: Any) -> None:
    # The trainable flags of the phase the checkpoint was taken in, so the weights line up.
    phase = built.phases[min(checkpoint.phase_index, len(built.phases) - 1)] if built.phases else None
    if phase is not None and phase.prepare is not None:
        phase.prepare(built.model)
    from engine.training.checkpoint import restore_weights

    with strategy.scope():
        restore_weights(built.model, checkpoint)


def _start_run_folder(out_dir: Path, config: RunConfig) -> None:
    """A new run's first write: the earlier run's files go (the CLI asked first), then its config."""
    from engine.training.checkpoint import clear_run_folder

    out_dir.mkdir(parents=True, exist_ok=True)
    clear_run_folder(out_dir)
    config.save(out_dir / "config.toml")
