"""The engine's front door: every task the app and the CLI can ask of the engine.

The desktop app reaches these functions only through the engine worker process
(`engine.worker`), by name (`TASKS`); the CLI calls them directly; a worker on another
machine would serve the same table (docs/SCALING.md). Arguments and results are plain
values: configs (`RunConfig`, `DataConfig`), paths, numbers, and the result schemas of
`engine.results` (a `DatasetInfo`, a `ModelHandle`, `Record`s). Engine objects that cannot
cross a process boundary (a `Dataset` with its loader, a Keras model) stay here, in this
process's caches, named by keys the results carry; a fresh process rebuilds them from the
same plain values (a data config, a model path), so nothing is lost when a worker dies.

Tasks that report progress take ``sink`` (engine events); tasks that can be stopped take
``control`` (a `RunControl`: stop at the next batch, pause) or ``cancel`` (a
`threading.Event`). The worker passes them; the CLI passes its own.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data.config import AugmentConfig, DataConfig
from kiln_lab.engine.events import EventSink, ignore_events
from kiln_lab.engine.results import DatasetInfo, ModelHandle, Record, Returns
from kiln_lab.engine.training.config import RunConfig

__all__ = [
    "TASKS", "TASK_WORDS", "engine_info", "open_dataset", "scan_dataset", "sample_thumbnails", "table_preview",
    "augmentation_preview", "summarize_model", "train", "compare", "advise", "diagnose", "showdown", "evaluate",
    "split_metrics", "predict", "open_model", "export_model", "roll_back", "trust_backbone", "to_record", "input_files",
    "predict_inputs", "bias", "catalogue", "check_run_folder", "run_folder_lock", "trust_files", "trust_covers",
    "load_engine", "strict_json",
]

_DATASETS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # scan identity -> (split settings, Dataset)
_MODELS: OrderedDict[str, Any] = OrderedDict()  # ModelHandle.key -> keras.Model
_CACHE_LOCK = threading.RLock()
_KEEP_DATASETS = 3
_KEEP_MODELS = 4


# -- plain values out --------------------------------------------------------------------


def to_record(value: Any, kind: str | None = None, extras: tuple[str, ...] = ()) -> Any:
    """A plain copy of an engine result: dataclasses become `Record`s (recursively) with their public
    properties' values, NumPy scalars numbers; ``extras`` names zero-argument methods to compute
    here and keep (``record.summary()`` in the window returns what the engine computed)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if type(value).__module__.startswith(("kiln_lab.engine.results", "kiln_lab.engine.events", "kiln_lab.engine.training.config",  # noqa: E501 - the kiln_lab. prefix (scripts/namespace_imports.py)
                                               "kiln_lab.engine.data.config", "kiln_lab.engine.models.recipe")):
            return value  # already a plain-value schema
        fields = {f.name: to_record(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in dir(type(value)):
            if not name.startswith("_") and isinstance(getattr(type(value), name, None), property):
                fields[name] = to_record(getattr(value, name))
        for name in extras:
            attribute = getattr(value, name)
            fields[name] = Returns(to_record(attribute())) if callable(attribute) else to_record(attribute)
        return Record(kind or type(value).__name__, **fields)
    if isinstance(value, dict):
        return {to_record(k): to_record(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [to_record(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# -- the engine --------------------------------------------------------------------------


def engine_info() -> dict[str, Any]:
    """Import TensorFlow and Keras; the device, the versions and the backbone catalogue."""
    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from kiln_lab.engine.environment import compute_devices, device_label

    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # another Keras backend, no TensorFlow installed
        tf_version = ""
    gpus = tuple(d["name"] for d in compute_devices())
    catalogue: list[dict[str, Any]] = []
    catalogue_error = ""
    try:
        from kiln_lab.engine.models.catalogue import load_catalogue

        catalogue = [entry.to_dict() for entry in load_catalogue()]
    except Exception as exc:  # noqa: BLE001 - a missing catalogue must not stop the engine
        catalogue_error = f"{type(exc).__name__}: {exc}"
    return {
        "device": device_label() if gpus else "CPU",
        "gpus": gpus,
        "tensorflow": tf_version,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "catalogue": catalogue,
        "catalogue_error": catalogue_error,
        "compare_defaults": default_budget(),
        "showdown_contenders": showdown_contenders(),
    }


# -- data --------------------------------------------------------------------------------


def _scan_key(data: DataConfig) -> tuple[Any, ...]:
    return (data.source, data.target, data.task, data.x_key, data.y_key)


def _dataset(data: DataConfig, *, sink: EventSink | None = None, cancel: threading.Event | None = None,
             rescan: bool = False) -> Any:
    """The `Dataset` for ``data``: scanned once per source, split as ``data`` says."""
    from kiln_lab.engine.data import load_dataset

    key = _scan_key(data)
    split = (data.val_split, data.test_split, data.seed)
    with _CACHE_LOCK:
        cached = None if rescan else _DATASETS.get(key)
    if cached is None:
        dataset = load_dataset(data, progress=sink, cancel=cancel)
    elif cached[0] == split:
        dataset = cached[1]
    else:  # the same samples split anew: no rescan
        dataset = cached[1].with_split(data.val_split, data.test_split, seed=data.seed)
    _remember(_DATASETS, key, (split, dataset), _KEEP_DATASETS)
    return dataset


def _remember(cache: OrderedDict, key: Any, value: Any, keep: int) -> None:
    """Put ``value`` in ``cache`` as the newest entry; the oldest go past ``keep`` (their memory with them)."""
    with _CACHE_LOCK:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > keep:
            cache.popitem(last=False)


def dataset_info(dataset: Any) -> DatasetInfo:
    """The window's copy of a `Dataset`: everything but the loader."""
    return DatasetInfo(
        source=str(dataset.source),
        source_kind=dataset.source_kind,
        task=dataset.task,
        input_kind=dataset.input_kind,
        input_shape=tuple(int(d) for d in dataset.input_shape),
        class_names=list(dataset.class_names),
        labels=np.asarray(dataset.labels),
        splits={name: np.asarray(idx) for name, idx in dataset.splits.items()},
        report=dataset.summary(),
        skipped=[Record("SkippedFile", path=s.path, reason=s.reason) for s in dataset.skipped],
        problems=list(dataset.problems),
        feature_names=list(dataset.feature_names),
        preprocessing=dict(dataset.preprocessing),
        key=f"{dataset.source}|{dataset.source_kind}",
    )


def scan_dataset(data: DataConfig, *, sink: EventSink = ignore_events, cancel: threading.Event | None = None,
                 rescan: bool = True) -> DatasetInfo:
    """Scan a data source (folder, file, demo:NAME) and split it; `DataError` with a sentence when unusable."""
    return dataclasses.replace(dataset_info(_dataset(data, sink=sink, cancel=cancel, rescan=rescan)), data=data)


def open_dataset(config: RunConfig, *, fresh: bool = False, sink: EventSink = ignore_events,
                 cancel: threading.Event | None = None) -> Record:
    """Scan ``config.data`` for the app. ``fresh``: a person opened it, so the run config gets the
    strong starting defaults for such data (`engine.training.starting`); the config comes back too."""
    from kiln_lab.engine.training.starting import STARTING_TEST_SPLIT, starting_config

    data = config.data
    if fresh and data.test_split == 0:
        data = dataclasses.replace(data, test_split=STARTING_TEST_SPLIT)
    info = scan_dataset(data, sink=sink, cancel=cancel)
    config = config.replace(data=data)
    if fresh:
        config = starting_config(config, info.input_kind)
    return Record("OpenedDataset", dataset=info, config=config)


def sample_thumbnails(data: DataConfig, per_class: int = 6) -> dict[str, np.ndarray]:
    from kiln_lab.engine.data.preview import sample_thumbnails as thumbnails

    return thumbnails(_dataset(data), per_class)


def table_preview(data: DataConfig, rows: int = 20) -> tuple[list[str], list[list[Any]]]:
    from kiln_lab.engine.data.preview import table_preview as preview

    return to_record(preview(_dataset(data), rows))


def augmentation_preview(data: DataConfig, augment: AugmentConfig, n: int = 8, seed: int = 0) -> np.ndarray:
    from kiln_lab.engine.data.preview import augmentation_preview as preview

    return preview(_dataset(data), augment, n, seed=seed)


def write_shapes_folder(root: str, per_class: int = 40) -> str:
    """A folder of generated shape pictures (one sub-folder per class, two bad files): for walkthroughs."""
    from kiln_lab.engine.data.demo import write_shapes_folder as write

    return write(root, per_class)


def read_samples(data: DataConfig, indices: list[int], image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Samples by index as one batch (pictures of mistakes, say)."""
    return _dataset(data).loader.read(np.asarray(indices, dtype=np.int64), image_size)


# -- models ------------------------------------------------------------------------------


def summarize_model(config: RunConfig) -> dict[str, Any]:
    """Build the recipe for this data and count it: parameters, layers, phases, freeze units."""
    from kiln_lab.engine.models.summary import summarize_recipe

    return to_record(summarize_recipe(config.model, _dataset(config.data), config.data.image_size,
                                      epochs=config.train.epochs))


def _keep_model(model: Any, key: str | None = None) -> str:
    key = key or uuid.uuid4().hex
    _remember(_MODELS, key, model, _KEEP_MODELS)
    return key


def _model(handle: ModelHandle) -> Any:
    """The Keras model a handle names: from this process's cache, or loaded again from its path."""
    with _CACHE_LOCK:
        model = _MODELS.get(handle.key)
    if model is not None:
        return model
    if not handle.path:
        from kiln_lab.engine.errors import ModelError

        raise ModelError(
            f"The model {handle.name} was only in the engine's memory, and the engine restarted.",
            hint="Train it again, or open a saved copy.",
        )
    from kiln_lab.engine.export.save import load_model
    from kiln_lab.engine.models.custom_objects import kiln_custom_objects

    model = load_model(handle.path, custom_objects=kiln_custom_objects())
    if handle.weights_epoch is not None:
        from kiln_lab.engine.monitors.forgetting_callback import roll_back as roll_back_weights

        roll_back_weights(model, Path(handle.path).parent, handle.weights_epoch)
    _keep_model(model, handle.key)
    return model


def open_model(path: str, *, trusted: bool = False) -> ModelHandle:
    """Open a .keras / .h5 file through the one trust gate; `UntrustedModel` asks first.

    ``trusted``: the person just said yes to this file; its hash is recorded.
    """
    from kiln_lab.engine.export.records import find_run_record, model_image_size
    from kiln_lab.engine.export.save import load_model
    from kiln_lab.engine.models.custom_objects import kiln_custom_objects

    model = load_model(path, trusted=trusted, custom_objects=kiln_custom_objects())
    record = to_record(find_run_record(path))
    key = _keep_model(model)
    return ModelHandle(key, Path(path).stem, str(path), model_image_size(model), record, "file",
                       params=int(model.count_params()))


def export_model(model: ModelHandle, path: str, *, format: str = "keras", record: dict[str, Any] | None = None,
                 sink: EventSink = ignore_events, cancel: threading.Event | None = None) -> str:
    """Save atomically as keras | h5 | savedmodel | tflite, with the run record and model card beside it.

    The write itself is one library call (``model.save``, the TFLite converter) that cannot be
    interrupted: a cancel is honoured before it starts; one that arrives during the write lets the
    window end the worker after its grace, and the atomic write leaves any earlier file unchanged."""
    from kiln_lab.engine.errors import ExportCancelled, cancel_requested
    from kiln_lab.engine.events import Progress
    from kiln_lab.engine.export.save import save_model

    keras_model = _model(model)
    if cancel_requested(cancel):
        raise ExportCancelled()
    sink(Progress("export", 0, None, f"Writing {Path(path).name}"))
    return str(save_model(keras_model, path, format=format, record=record))


def export_for_deployment(model: ModelHandle, path: str, *, format: str, record: dict[str, Any] | None = None,
                          quantize: str | None = None, sink: EventSink = ignore_events,
                          cancel: threading.Event | None = None) -> dict[str, Any]:
    """Export as onnx | tflite (``quantize``: float16 | int8, calibrated on the run's training samples)
    and run the file against the Keras model on the run's test split (random inputs when the run's
    data is not here): accuracy before and after, size, latency, in the record and the model card.
    ``sink`` hears a `Progress` per stage; ``cancel`` stops before the next one (nothing written when
    set before the write)."""
    from kiln_lab.engine.analysis.deployment import export_for_deployment as export
    from kiln_lab.engine.analysis.deployment import samples_from_record
    from kiln_lab.engine.errors import ExportCancelled, cancel_requested
    from kiln_lab.engine.events import Progress

    if cancel_requested(cancel):
        raise ExportCancelled()
    sink(Progress("export", 0, 3, "Reading the run's data to check the file on"))
    samples = samples_from_record(record or {})
    written, check = export(_model(model), path, format=format, record=record, quantize=quantize, samples=samples,
                            sink=sink, cancel=cancel)
    return {"path": str(written), "check": to_record(check), "random_inputs": samples is None}


def roll_back(model: ModelHandle, epoch: int) -> ModelHandle:
    """The run's model with the weights kept after ``epoch`` (forgetting roll-back); the run folder's
    model.keras is left as it is."""
    from kiln_lab.engine.monitors.forgetting_callback import roll_back as roll_back_weights

    if not model.path:
        from kiln_lab.engine.errors import ModelError

        raise ModelError("Roll back needs the model of a run with its run folder.")
    base = _model(model)
    # A copy: the handle of the last epoch stays usable beside the rolled-back one.
    import keras

    copy = keras.models.clone_model(base)
    copy.set_weights(base.get_weights())
    roll_back_weights(copy, Path(model.path).parent, epoch)
    base_name = model.record.get("rolled_back_from", model.name)
    record = {**model.record, "rolled_back_to_epoch": epoch, "rolled_back_from": base_name}
    return dataclasses.replace(model, key=_keep_model(copy), name=f"{base_name} (epoch {epoch})", record=record,
                               weights_epoch=epoch)


def trust_backbone(backbone: str) -> str:
    """Trust a backbone file or folder by its hash (a TF Hub / Kaggle handle: its downloaded folder)."""
    from kiln_lab.engine.export.trust import trust

    target = Path(backbone).expanduser()
    if not target.exists():
        from kiln_lab.engine.models.backbones.hub import resolve_handle

        target = Path(resolve_handle(backbone))
    trust(target)
    return str(target)


# -- training ----------------------------------------------------------------------------


def _roll_back_offer(record: dict[str, Any], out_dir: Path | None) -> dict[str, Any] | None:
    forgetting = record.get("forgetting")
    if not forgetting or out_dir is None:
        return None
    from kiln_lab.engine.monitors.forgetting_callback import kept_epochs, suggested_roll_back

    kept = kept_epochs(out_dir)
    suggested = suggested_roll_back(forgetting, kept)
    if kept and suggested == max(kept):
        return None  # the run ended within both drift thresholds: its last epoch is the model already
    return {"kept": kept, "suggested": suggested}


def train(config: RunConfig, *, out_dir: str | None = None, resume: bool = False, sink: EventSink = ignore_events,
          control: Any = None, callbacks: tuple[Any, ...] = ()) -> Record:
    """Train one run (`engine.training.job.run_training`); events stream to ``sink``.

    With ``out_dir`` the run folder gets config.toml (written here, the one place a run's
    settings are written), checkpoints, model.keras, history.json and run.json.
    ``callbacks``: extra Keras callbacks from Python code (never from a config file).
    """
    from kiln_lab.engine.training.job import run_training

    config.validate()
    dataset = _dataset(config.data, sink=sink)  # scan progress, as the job reports it when it scans
    kwargs: dict[str, Any] = {"sink": sink, "control": control, "dataset": dataset, "out_dir": out_dir,
                              "resume": resume}
    if callbacks:
        kwargs["callbacks"] = list(callbacks)
    result = run_training(config, **kwargs)
    out = Path(result.out_dir) if result.out_dir else None
    record = to_record(dict(result.record or {}))
    handle = ModelHandle(
        _keep_model(result.model), config.name, str(out / "model.keras") if out else None,
        tuple(result.image_size) if result.image_size else None, record, "run", params=int(result.model.count_params()),
    )
    return Record(
        "RunOutcome", model=handle, history=to_record(dict(result.history)), metrics=to_record(dict(result.metrics)),
        stopped=bool(result.stopped), reason=result.reason, seconds=float(result.seconds),
        samples_per_second=float(result.samples_per_second), record=record, out_dir=str(out) if out else None,
        image_size=handle.image_size, dataset_source=str(dataset.source),
        roll_back=_roll_back_offer(record, out),
    )


def comparison_record(comparison: Any) -> Record:
    """A `Comparison` as the app shows it: verdict, table, learning curve, costs, runs, per class."""
    from kiln_lab.engine.analysis.compare_report import cost_rows

    curve = to_record(comparison.learning_curve())
    runs = {f"{approach}@{p['fraction']}": len(comparison.runs(approach, p["fraction"]))
            for approach, points in comparison.learning_curve().items() for p in points}
    per_class = comparison.per_class()
    return Record(
        "Comparison",
        verdict=Returns(list(comparison.verdict())),
        score_words=Returns(comparison.score_words()),
        learning_curve=Returns(curve),
        run_counts=runs,
        cost_rows=[list(map(str, row)) for row in cost_rows(comparison)],
        rows=[to_record(row, "ComparisonRow") for row in comparison.rows],
        per_class=Returns(None if per_class is None else to_record(per_class, "ClassComparison", ("sentence",))),
        higher_is_better=bool(comparison.higher_is_better),
        fractions=Returns(list(comparison.fractions())),
        out_dir=str(comparison.out_dir) if comparison.out_dir else None,
        stopped=[dict(s) for s in comparison.stopped],  # runs left out: stopped by the person, or their partners
        as_dict=comparison.to_dict(),
    )


def compare(scratch: RunConfig, finetune: RunConfig, *, fractions: tuple[float, ...] = (1.0,),
            repeats: int | None = None, max_steps: int | None = None, out_dir: str | None = None,
            sink: EventSink = ignore_events, control: Any = None, budget: dict[str, Any] | None = None,
            device_watts: float | None = None) -> Record:
    """From scratch against fine-tuning on the same split and budget (`compare_approaches`).

    ``max_steps``: the step budget per run (None: the engine's default budget). ``budget``: the
    whole budget instead (`Budget`'s fields: max_steps, min_steps, patience_steps, seconds), as
    ``kiln compare`` sets it. ``device_watts``: the device's power for the energy estimate.
    """
    from kiln_lab.engine.analysis.budget import Budget
    from kiln_lab.engine.analysis.compare import DEFAULT_REPEATS, compare_approaches

    if budget is not None:
        chosen = Budget(**budget)
    else:
        chosen = Budget()
        if max_steps is not None:
            chosen = dataclasses.replace(chosen, max_steps=int(max_steps),
                                         min_steps=min(chosen.min_steps, int(max_steps)))
    chosen.validate()  # before the data is read: a bad budget is said at once
    dataset = _dataset(scratch.data)
    options: dict[str, Any] = {} if device_watts is None else {"device_watts": float(device_watts)}
    comparison = compare_approaches(
        scratch, finetune, dataset, fractions=tuple(fractions), repeats=repeats or DEFAULT_REPEATS, budget=chosen,
        out_dir=out_dir, sink=sink, control=control, **options,
    )
    return comparison_record(comparison)


def default_budget() -> dict[str, Any]:
    """The comparison's default budget and repeats, for the dialog that lets a person change them; the
    test split it scores on and the device power its energy estimate assumes."""
    from kiln_lab.engine.analysis.budget import Budget
    from kiln_lab.engine.analysis.compare import DEFAULT_REPEATS, DEFAULT_TEST_FRACTION
    from kiln_lab.engine.analysis.costs import DEFAULT_DEVICE_WATTS

    budget = Budget()
    return {"repeats": DEFAULT_REPEATS, **{f.name: getattr(budget, f.name) for f in dataclasses.fields(budget)},
            "test_fraction": DEFAULT_TEST_FRACTION, "device_watts": DEFAULT_DEVICE_WATTS}


# -- analysis ----------------------------------------------------------------------------


def advise(data: DataConfig, backbones: list[str] | None = None, *, extra_defaults: bool = True,
           sink: EventSink = ignore_events, cut_layer: str | None = None, seed: int = 0,
           cancel: threading.Event | None = None) -> Record:
    """Measured advice before training (linear probes, LogME, input checks). ``extra_defaults``: also
    probe the default backbones after the ones named (none named: the default ones either way).
    ``cut_layer``: where to cut a backbone that is a person's own model file (default: below its
    classifier; the advice says where)."""
    from kiln_lab.engine.analysis.advisor import advise as run_advice
    from kiln_lab.engine.analysis.advisor import default_backbones

    names = list(backbones or [])
    if extra_defaults:
        names = list(dict.fromkeys([*names, *default_backbones()]))
    advice = run_advice(_dataset(data, cancel=cancel), names or None, seed=seed, cut_layer=cut_layer, sink=sink,
                        cancel=cancel)
    return to_record(advice, "Advice", ("summary", "to_dict"))


def diagnose(config: RunConfig, *, steps: int = 10, batch_size: int = 64, seed: int = 0,
             sink: EventSink = ignore_events, cancel: threading.Event | None = None) -> Record:
    """Per-layer gradients and activations over the first steps of the from-scratch recipe, on one
    batch of ``batch_size`` samples drawn with ``seed``."""
    from kiln_lab.engine.analysis.init_diagnostics import diagnose_recipe

    recipe = dataclasses.replace(config.model, kind="scratch")
    diagnosis = diagnose_recipe(recipe, _dataset(config.data, cancel=cancel), steps=steps, batch_size=batch_size,
                                image_size=config.data.image_size, learning_rate=config.train.learning_rate, seed=seed,
                                sink=sink, cancel=cancel)
    return to_record(diagnosis, "InitDiagnostics",
                     ("layer_names", "healthy", "summary", "log10_grad_norms", "table", "to_dict"))


def showdown(config: RunConfig, *, epochs: int = 3, sink: EventSink = ignore_events, control: Any = None,
             out_dir: str | None = None, cancel: threading.Event | None = None) -> Record:
    """Glorot, He, LeCun and plain random starts trained side by side. ``out_dir``: also write
    showdown.json (curves and table) there, atomically, and with ``train.tensorboard`` each
    contender's run folder (its TensorBoard logs, for the HParams dashboard). A set ``cancel`` (the
    window's Cancel) stops the contender training now at its next batch and raises `Cancelled`;
    ``control`` alone (the CLI's Ctrl-C) keeps the contenders that finished."""
    from kiln_lab.engine.analysis.showdown import run_showdown

    runs = out_dir if out_dir is not None and config.train.tensorboard else None
    result = run_showdown(config, _dataset(config.data, sink=sink, cancel=cancel), epochs=epochs, sink=sink,
                          control=control, out_dir=runs, cancel=cancel)
    if out_dir is not None:
        import json

        from kiln_lab.engine.export.atomic import atomic_write_text

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(out_dir) / "showdown.json", json.dumps(result.to_dict(), indent=2, default=float))
    return to_record(result, "Showdown", ("sentence", "table", "to_dict"))


def showdown_contenders() -> list[dict[str, Any]]:
    from kiln_lab.engine.analysis.showdown import CONTENDERS

    return [{"run_name": f"showdown-{c.initializer}-{c.scale:g}", "label": c.label} for c in CONTENDERS]


def evaluate(model: ModelHandle, data: DataConfig, *, split: str = "val", pictures: int = 32,
             sink: EventSink = ignore_events, cancel: threading.Event | None = None) -> dict[str, Any]:
    """Metrics on one split; for image classification also the most confident mistakes' pictures.

    ``split="all"``: every sample of ``data`` (its split settings ignored), read with the model's own
    encoder, scaling and class order from its run record, as new data for a saved model is read
    (``kiln evaluate``); a sentence when the data is not of the kind the model takes.
    """
    from kiln_lab.engine.analysis.evaluation import EVALUATION_CANCELLED, evaluate_model
    from kiln_lab.engine.errors import check_cancelled

    watch = {"sink": sink, "cancel": cancel}
    if split == "all":
        dataset = _dataset_as_trained(model, data)
        check_cancelled(cancel, EVALUATION_CANCELLED)
        size = (model.record.get("model") or {}).get("image_size") or model.image_size
        report = evaluate_model(_model(model), dataset, split="all", image_size=tuple(size) if size else None,
                                **watch)
        return {"report": to_record(report, "EvaluationReport"), "pictures": None}
    dataset = _dataset(data, cancel=cancel)
    keras_model = _model(model)
    check_cancelled(cancel, EVALUATION_CANCELLED)
    _check_inputs_fit(model, keras_model, dataset, data.source)
    _check_classes_fit(model, dataset, data.source)
    report = evaluate_model(keras_model, dataset, split=split, image_size=model.image_size, **watch)
    images = None
    worst: list[Any] = []
    if report.task == "classification" and dataset.input_kind == "image" and report.misclassified and pictures:
        worst = sorted(report.misclassified, key=lambda m: -m.confidence)[:pictures]
        images = dataset.loader.read(np.array([m.index for m in worst], dtype=np.int64))
    return {"report": to_record(report, "EvaluationReport"),
            "pictures": (to_record(worst), images) if images is not None else None}


def split_metrics(model: ModelHandle, data: DataConfig) -> dict[str, Any]:
    """The same metrics on the training, validation and test splits side by side (Create ML's table):
    the model's compiled loss and metrics (``model.evaluate``) and the task's others, per split that
    has samples, and a sentence when training and validation are far apart (`analysis.split_metrics`)."""
    from kiln_lab.engine.analysis.split_metrics import split_metrics as score_splits

    dataset = _dataset(data)
    keras_model = _model(model)
    _check_inputs_fit(model, keras_model, dataset, data.source)
    _check_classes_fit(model, dataset, data.source)
    return to_record(score_splits(keras_model, dataset, image_size=model.image_size))


def _dataset_as_trained(model: ModelHandle, data: DataConfig) -> Any:
    """``data`` whole (one split, "all"), read as the model's training data was; not cached (the
    encoding is the model's, not the source's)."""
    from kiln_lab.engine.data import load_dataset

    preprocessing = (model.record.get("dataset") or {}).get("preprocessing") or None
    dataset = load_dataset(dataclasses.replace(data, val_split=0.0, test_split=0.0), preprocessing=preprocessing)
    dataset.splits = {"all": np.arange(dataset.num_samples)}
    _check_inputs_fit(model, _model(model), dataset, data.source)
    return dataset


def _model_file_name(model: ModelHandle) -> str:
    return Path(model.path).name if model.path else model.name


def _check_inputs_fit(handle: ModelHandle, model: Any, dataset: Any, source: str) -> None:
    """Images for an image model, rows of the right width for a table model; else a sentence."""
    from kiln_lab.engine.errors import KilnError

    wanted = tuple(model.input_shape[1:])
    have = tuple(dataset.input_shape)
    model_images, data_images = len(wanted) == 3, len(have) == 3
    name = _model_file_name(handle)
    if model_images != data_images:
        kind = "images" if model_images else f"rows of {wanted[-1]} numbers"
        given = "images" if data_images else "a table"
        raise KilnError(f"{name} takes {kind}, but {source} holds {given}.",
                        hint="Evaluate it on data of the kind it was trained on.")
    if not model_images and wanted and wanted[-1] and have and have[-1] != wanted[-1]:
        raise KilnError(f"{name} takes {wanted[-1]} input columns, but {source} gives {have[-1]}.",
                        hint="Evaluate it on data with the columns it was trained on.")
    if model_images and wanted[-1] and have[-1] != wanted[-1]:
        raise KilnError(f"{name} takes images with {wanted[-1]} channel(s), but {source} has {have[-1]}.",
                        hint="Evaluate it on data of the kind it was trained on.")


def _check_classes_fit(handle: ModelHandle, dataset: Any, source: str) -> None:
    """A classifier is scored only on data with the classes it was trained on (same names, same order)."""
    from kiln_lab.engine.errors import KilnError

    trained = list((handle.record.get("dataset") or {}).get("class_names") or [])
    if not trained or not dataset.is_classification or list(dataset.class_names) == trained:
        return
    shown = ", ".join(trained[:6]) + (", ..." if len(trained) > 6 else "")
    raise KilnError(
        f"{_model_file_name(handle)} was trained on other classes ({shown}) than {source} holds "
        f"({len(dataset.class_names)} classes).",
        hint="Open the data it was trained on, or train a model on this data.",
    )


def predict(model: ModelHandle, inputs: Any, dataset_summary: dict[str, Any], *, k: int = 3) -> dict[str, Any]:
    """Top-k classes (or the predicted value) for one dropped image or typed row."""
    from kiln_lab.engine.analysis.evaluation import predict_top_k
    from kiln_lab.engine.data.inputs import load_inputs_for_prediction

    batch = load_inputs_for_prediction(inputs, dataset_summary, model.image_size)
    names = list(dataset_summary.get("class_names") or [])
    top = predict_top_k(_model(model), batch, names, k=k)[0]
    return {"top_k": to_record(top), "input": np.asarray(batch[0]), "regression": not names}


def input_files(items: list[str]) -> list[str]:
    """What ``predict_inputs`` will read: each folder stands for the image files in it (no TensorFlow)."""
    from kiln_lab.engine.data.inputs import expand_folders

    return [str(item) for item in expand_folders(list(items))]


def predict_inputs(model: ModelHandle, inputs: list[str], *, k: int = 3) -> list[dict[str, Any]]:
    """Top-k classes (or the predicted value) per sample of image files, folders of them, CSV files or
    typed rows: ``{"input": label, "top_k": [(name, score), ...]}``. What the model takes (the column
    encoding, the class names) comes from its run record, else from the model itself."""
    from kiln_lab.engine.analysis.evaluation import predict_top_k
    from kiln_lab.engine.data.inputs import expand_folders, load_inputs_for_prediction
    from kiln_lab.engine.errors import KilnError

    keras_model = _model(model)
    summary = model.record.get("dataset", {})
    if not summary:  # a model copied away from its run record: what it takes is read from the model itself
        if len(keras_model.input_shape) != 4:
            name = _model_file_name(model)
            raise KilnError(
                f"{name} was trained on a table, and predicting needs the column encoding in its run "
                "record, which is not beside it.",
                hint=f"Copy run.json (or {Path(name).stem}.run.json) from its run folder next to the model.",
            )
        summary = {"input_kind": "image", "input_shape": list(keras_model.input_shape[1:])}
    size = (model.record.get("model") or {}).get("image_size") or model.image_size
    names = summary.get("class_names") or []
    if not names and summary.get("task") != "regression":
        outputs = int(keras_model.output_shape[-1])
        names = [str(i) for i in range(outputs if outputs > 1 else 2)]
    # One entry per sample: a folder stands for its images, a CSV file for its rows.
    found: list[dict[str, Any]] = []
    for source in expand_folders(list(inputs)):
        batch = load_inputs_for_prediction([source], summary, tuple(size) if size else None)
        labels = [str(source)] if len(batch) == 1 else [f"{source}[{i}]" for i in range(len(batch))]
        for label, top in zip(labels, predict_top_k(keras_model, batch, names, k=k), strict=False):
            found.append({"input": label, "top_k": to_record(list(top))})
    return found


def bias(baseline: str, candidate: str, data: DataConfig, *, split: str = "val", group: str | None = None,
         trusted: bool = False) -> Record:
    """Per class (and per group), where ``candidate`` serves worse than ``baseline``, beyond noise.

    Both are saved model files; ``data`` is read with the split the baseline's run used when its
    source is the run's own. ``group``: "folder" or a CSV column, for metrics per group.
    Returns ``as_dict`` (classes, groups), ``table()`` and ``sentence()``.
    """
    from kiln_lab.engine.analysis.bias import compare_per_class, group_metrics, group_values
    from kiln_lab.engine.analysis.evaluation import predict_split
    from kiln_lab.engine.errors import KilnError
    from kiln_lab.engine.export import load_model
    from kiln_lab.engine.export.records import find_run_record
    from kiln_lab.engine.models.heads import class_probabilities

    saved = (find_run_record(baseline).get("config") or {}).get("data") or {}
    if saved.get("source") == data.source:  # the same split the runs were validated on
        data = dataclasses.replace(data, val_split=saved.get("val_split", 0.2),
                                   test_split=saved.get("test_split", 0.0), seed=saved.get("seed", 42))
    dataset = _dataset(data)
    if split not in dataset.splits or len(dataset.splits[split]) == 0:
        raise KilnError(f"The data has no '{split}' split.", hint="Use --split val, test or train.")
    predictions = {}
    indices = np.array([], dtype=np.int64)
    for name, path in (("baseline", baseline), ("candidate", candidate)):
        model = load_model(path, trusted=trusted)
        size = (find_run_record(path).get("model") or {}).get("image_size")
        outputs, indices = predict_split(model, dataset, split, image_size=tuple(size) if size else None)
        predictions[name] = class_probabilities(outputs).argmax(axis=1)
    y_true = dataset.labels[indices].astype(np.int64)
    comparison = compare_per_class(y_true, predictions["baseline"], predictions["candidate"], dataset.class_names,
                                   baseline_name=Path(baseline).parent.name or "baseline",
                                   candidate_name=Path(candidate).parent.name or "candidate")
    result: dict[str, Any] = {"classes": comparison.to_dict()}
    if group:
        groups = group_values(dataset, group)[indices]
        result["groups"] = {name: group_metrics(y_true, pred, groups, column=group).to_dict()
                            for name, pred in predictions.items()}
    return Record("BiasReport", as_dict=to_record(result), table=Returns(comparison.table()),
                  sentence=Returns(comparison.sentence()))


def catalogue() -> list[Record]:
    """The backbone catalogue: name, source, input size, parameters, offline, licence, ... per backbone."""
    from kiln_lab.engine.models.catalogue import load_catalogue

    return [to_record(entry, "Backbone") for entry in load_catalogue()]


# -- run folders and trust, for the command line ------------------------------------------


def check_run_folder(out_dir: str, config: RunConfig, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse a run folder that cannot be one, or that holds another run (unless ``overwrite``); no TensorFlow."""
    from kiln_lab.engine.training.checkpoint import check_run_folder as check

    check(Path(out_dir), resume=resume, overwrite=overwrite, config=config.to_dict())


def run_folder_lock(out_dir: str) -> Any:
    """A context manager holding the run folder for this process (`engine.training.run_lock`).

    In-process only, not a task: the lock belongs to the process that trains, so a worker takes
    it itself inside ``train``; the CLI takes it early to cover its checks too.
    """
    from kiln_lab.engine.training.run_lock import run_folder_lock as lock

    return lock(Path(out_dir))


def trust_files(items: list[str], *, flag: str = "--trust-file") -> list[str]:
    """Trust model files, SavedModel folders and TF Hub / Kaggle handles by their hashes; what was trusted.

    A sentence (naming ``flag``) for a path that does not exist or a folder that is not a SavedModel.
    """
    from kiln_lab.engine.errors import KilnError
    from kiln_lab.engine.export.trust import trust

    trusted: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if not path.exists():
            from kiln_lab.engine.models.backbones.hub import is_hub_handle, resolve_handle

            if is_hub_handle(str(item)):
                folder = resolve_handle(str(item))  # downloaded once, then trusted by the folder's hash
                trust(folder)
                trusted.append(str(folder))
                continue
            raise KilnError(f"{flag} {path}: there is no such file or folder.")
        if path.is_dir() and not (path / "saved_model.pb").is_file():
            raise KilnError(f"{flag} {path}: a folder can only be trusted when it is a SavedModel folder.")
        trust(path)
        trusted.append(str(path))
    return trusted


def trust_covers(model_path: str) -> list[str]:
    """The SavedModel folders a model file opens: trusting the file trusts them too, though its hash
    does not cover them (say so before trusting). Reads the file's config; no TensorFlow."""
    from kiln_lab.engine.export.trust import savedmodel_folders

    return [str(folder) for folder in savedmodel_folders(model_path)] if Path(model_path).is_file() else []


# -- in-process helpers (not tasks) -----------------------------------------------------------


def load_engine() -> None:
    """Import TensorFlow now (seconds, hundreds of MB), without its native start-up chatter on stderr.

    Every task imports what it needs itself; the CLI calls this once its arguments are checked, so a
    typo is reported at once and the chatter stays off the terminal.
    """
    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()


def strict_json(value: Any, *, indent: int | None = 2) -> str:
    """JSON that strict parsers accept: NaN and infinities (a run that diverged) become ``null``."""
    from kiln_lab.engine.export.save import strict_json as dump

    return dump(value, indent=indent)


# -- the table the worker serves ---------------------------------------------------------

TASKS: dict[str, Callable[..., Any]] = {
    "engine_info": engine_info,
    "open_dataset": open_dataset,
    "scan_dataset": scan_dataset,
    "sample_thumbnails": sample_thumbnails,
    "table_preview": table_preview,
    "augmentation_preview": augmentation_preview,
    "read_samples": read_samples,
    "write_shapes_folder": write_shapes_folder,
    "summarize_model": summarize_model,
    "open_model": open_model,
    "export_model": export_model,
    "roll_back": roll_back,
    "export_for_deployment": export_for_deployment,
    "trust_backbone": trust_backbone,
    "train": train,
    "compare": compare,
    "default_budget": default_budget,
    "advise": advise,
    "diagnose": diagnose,
    "showdown": showdown,
    "showdown_contenders": showdown_contenders,
    "evaluate": evaluate,
    "split_metrics": split_metrics,
    "predict": predict,
    "input_files": input_files,
    "predict_inputs": predict_inputs,
    "bias": bias,
    "catalogue": catalogue,
    "check_run_folder": check_run_folder,
    "trust_files": trust_files,
    "trust_covers": trust_covers,
}

# What each task is doing, in words for the status bar and error sentences ("while ...").
TASK_WORDS: dict[str, str] = {
    "engine_info": "loading TensorFlow",
    "open_dataset": "scanning the dataset",
    "scan_dataset": "scanning the dataset",
    "sample_thumbnails": "reading sample images",
    "table_preview": "reading the first rows",
    "augmentation_preview": "previewing augmentation",
    "read_samples": "reading samples",
    "write_shapes_folder": "writing a folder of demo pictures",
    "summarize_model": "building the model",
    "open_model": "opening the model",
    "export_model": "saving the model",
    "roll_back": "rolling back",
    "export_for_deployment": "exporting and checking the model",
    "trust_backbone": "trusting the backbone",
    "train": "training",
    "compare": "comparing scratch and fine-tuning",
    "default_budget": "reading the comparison budget",
    "advise": "checking the data",
    "diagnose": "diagnosing the initialisation",
    "showdown": "running the initializer showdown",
    "showdown_contenders": "listing the initializers",
    "evaluate": "evaluating",
    "split_metrics": "scoring the model on each split",
    "predict": "predicting",
    "input_files": "listing the input files",
    "predict_inputs": "predicting",
    "bias": "comparing the models per class",
    "catalogue": "reading the backbone catalogue",
    "check_run_folder": "checking the run folder",
    "trust_files": "trusting the files",
    "trust_covers": "reading the model file",
}
