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

from engine.data.config import AugmentConfig, DataConfig
from engine.events import EventSink, ignore_events
from engine.results import DatasetInfo, ModelHandle, Record, Returns
from engine.training.config import RunConfig

__all__ = [
    "TASKS", "TASK_WORDS", "engine_info", "open_dataset", "scan_dataset", "sample_thumbnails", "table_preview",
    "augmentation_preview", "summarize_model", "train", "compare", "advise", "diagnose", "showdown", "evaluate",
    "predict", "open_model", "export_model", "roll_back", "trust_backbone", "to_record",
]

_DATASETS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # scan identity -> Dataset (split as last asked)
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
        if type(value).__module__.startswith(("engine.results", "engine.events", "engine.training.config",
                                               "engine.data.config", "engine.models.recipe")):
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
    from engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from engine.environment import compute_devices, device_label

    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # another Keras backend, no TensorFlow installed
        tf_version = ""
    gpus = tuple(d["name"] for d in compute_devices())
    catalogue: list[dict[str, Any]] = []
    catalogue_error = ""
    try:
        from engine.models.catalogue import load_catalogue

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
    return (data.source, data.target, data.x_key, data.y_key)


def _dataset(data: DataConfig, *, sink: EventSink | None = None, cancel: threading.Event | None = None,
             rescan: bool = False) -> Any:
    """The `Dataset` for ``data``: scanned once per source, split as ``data`` says."""
    from engine.data import load_dataset

    key = _scan_key(data)
    with _CACHE_LOCK:
        dataset = None if rescan else _DATASETS.get(key)
    if dataset is None:
        dataset = load_dataset(data, progress=sink, cancel=cancel)
    else:
        split = {name: len(indices) for name, indices in dataset.splits.items()}
        wanted = dataset.with_split(data.val_split, data.test_split, seed=data.seed)
        if {name: len(indices) for name, indices in wanted.splits.items()} != split or not all(
            np.array_equal(wanted.splits[name], dataset.splits.get(name, [])) for name in wanted.splits
        ):
            dataset = wanted
    with _CACHE_LOCK:
        _DATASETS[key] = dataset
        _DATASETS.move_to_end(key)
        while len(_DATASETS) > _KEEP_DATASETS:
            _DATASETS.popitem(last=False)
    return dataset


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
    from engine.training.starting import STARTING_TEST_SPLIT, starting_config

    data = config.data
    if fresh and data.test_split == 0:
        data = dataclasses.replace(data, test_split=STARTING_TEST_SPLIT)
    info = scan_dataset(data, sink=sink, cancel=cancel)
    config = config.replace(data=data)
    if fresh:
        config = starting_config(config, info.input_kind)
    return Record("OpenedDataset", dataset=info, config=config)


def sample_thumbnails(data: DataConfig, per_class: int = 6) -> dict[str, np.ndarray]:
    from engine.data.preview import sample_thumbnails as thumbnails

    return thumbnails(_dataset(data), per_class)


def table_preview(data: DataConfig, rows: int = 20) -> tuple[list[str], list[list[Any]]]:
    from engine.data.preview import table_preview as preview

    return to_record(preview(_dataset(data), rows))


def augmentation_preview(data: DataConfig, augment: AugmentConfig, n: int = 8, seed: int = 0) -> np.ndarray:
    from engine.data.preview import augmentation_preview as preview

    return preview(_dataset(data), augment, n, seed=seed)


def write_shapes_folder(root: str, per_class: int = 40) -> str:
    """A folder of generated shape pictures (one sub-folder per class, two bad files): for walkthroughs."""
    from engine.data.demo import write_shapes_folder as write

    return write(root, per_class)


def read_samples(data: DataConfig, indices: list[int], image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Samples by index as one batch (pictures of mistakes, say)."""
    return _dataset(data).loader.read(np.asarray(indices, dtype=np.int64), image_size)


# -- models ------------------------------------------------------------------------------


def summarize_model(config: RunConfig) -> dict[str, Any]:
    """Build the recipe for this data and count it: parameters, layers, phases, freeze units."""
    from engine.models.summary import summarize_recipe

    return to_record(summarize_recipe(config.model, _dataset(config.data), config.data.image_size,
                                      epochs=config.train.epochs))


def _keep_model(model: Any, key: str | None = None) -> str:
    key = key or uuid.uuid4().hex
    with _CACHE_LOCK:
        _MODELS[key] = model
        _MODELS.move_to_end(key)
        while len(_MODELS) > _KEEP_MODELS:
            _MODELS.popitem(last=False)
    return key


def _model(handle: ModelHandle) -> Any:
    """The Keras model a handle names: from this process's cache, or loaded again from its path."""
    with _CACHE_LOCK:
        model = _MODELS.get(handle.key)
    if model is not None:
        return model
    if not handle.path:
        from engine.errors import ModelError

        raise ModelError(
            f"The model {handle.name} was only in the engine's memory, and the engine restarted.",
            hint="Train it again, or open a saved copy.",
        )
    from engine.export.save import load_model
    from engine.models.custom_objects import kiln_custom_objects

    model = load_model(handle.path, custom_objects=kiln_custom_objects())
    if handle.weights_epoch is not None:
        from engine.monitors.forgetting_callback import roll_back as roll_back_weights

        roll_back_weights(model, Path(handle.path).parent, handle.weights_epoch)
    _keep_model(model, handle.key)
    return model


def open_model(path: str, *, trusted: bool = False) -> ModelHandle:
    """Open a .keras / .h5 file through the one trust gate; `UntrustedModel` asks first.

    ``trusted``: the person just said yes to this file; its hash is recorded.
    """
    from engine.export.records import find_run_record, model_image_size
    from engine.export.save import load_model
    from engine.models.custom_objects import kiln_custom_objects

    model = load_model(path, trusted=trusted, custom_objects=kiln_custom_objects())
    record = to_record(find_run_record(path))
    key = _keep_model(model)
    return ModelHandle(key, Path(path).stem, str(path), model_image_size(model), record, "file",
                       params=int(model.count_params()))


def export_model(model: ModelHandle, path: str, *, format: str = "keras", record: dict[str, Any] | None = None) -> str:
    """Save atomically as keras | h5 | savedmodel | tflite, with the run record and model card beside it."""
    from engine.export.save import save_model

    return str(save_model(_model(model), path, format=format, record=record))


def roll_back(model: ModelHandle, epoch: int) -> ModelHandle:
    """The run's model with the weights kept after ``epoch`` (forgetting roll-back); the run folder's
    model.keras is left as it is."""
    from engine.monitors.forgetting_callback import roll_back as roll_back_weights

    if not model.path:
        from engine.errors import ModelError

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
    from engine.export.trust import trust

    target = Path(backbone).expanduser()
    if not target.exists():
        from engine.models.backbones.hub import resolve_handle

        target = Path(resolve_handle(backbone))
    trust(target)
    return str(target)


# -- training ----------------------------------------------------------------------------


def _roll_back_offer(record: dict[str, Any], out_dir: Path | None) -> dict[str, Any] | None:
    forgetting = record.get("forgetting")
    if not forgetting or out_dir is None:
        return None
    from engine.monitors.forgetting_callback import kept_epochs, suggested_roll_back

    kept = kept_epochs(out_dir)
    return {"kept": kept, "suggested": suggested_roll_back(forgetting, kept)}


def train(config: RunConfig, *, out_dir: str | None = None, resume: bool = False, sink: EventSink = ignore_events,
          control: Any = None, callbacks: tuple[Any, ...] = ()) -> Record:
    """Train one run (`engine.training.job.run_training`); events stream to ``sink``.

    With ``out_dir`` the run folder gets config.toml (written here, the one place a run's
    settings are written), checkpoints, model.keras, history.json and run.json.
    ``callbacks``: extra Keras callbacks from Python code (never from a config file).
    """
    from engine.training.job import run_training

    config.validate()
    dataset = _dataset(config.data)
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
    from engine.analysis.compare_report import cost_rows

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
        as_dict=comparison.to_dict(),
    )


def compare(scratch: RunConfig, finetune: RunConfig, *, fractions: tuple[float, ...] = (1.0,),
            repeats: int | None = None, max_steps: int | None = None, out_dir: str | None = None,
            sink: EventSink = ignore_events, control: Any = None) -> Record:
    """From scratch against fine-tuning on the same split and budget (`compare_approaches`).

    ``max_steps``: the step budget per run (None: the engine's default budget).
    """
    from engine.analysis.budget import Budget
    from engine.analysis.compare import DEFAULT_REPEATS, compare_approaches

    dataset = _dataset(scratch.data)
    budget = Budget()
    if max_steps is not None:
        budget = dataclasses.replace(budget, max_steps=int(max_steps), min_steps=min(budget.min_steps, int(max_steps)))
    budget.validate()
    comparison = compare_approaches(
        scratch, finetune, dataset, fractions=tuple(fractions), repeats=repeats or DEFAULT_REPEATS, budget=budget,
        out_dir=out_dir, sink=sink, control=control,
    )
    return comparison_record(comparison)


def default_budget() -> dict[str, Any]:
    """The comparison's default budget and repeats, for the dialog that lets a person change them."""
    from engine.analysis.budget import Budget
    from engine.analysis.compare import DEFAULT_REPEATS

    budget = Budget()
    return {"repeats": DEFAULT_REPEATS, **{f.name: getattr(budget, f.name) for f in dataclasses.fields(budget)}}


# -- analysis ----------------------------------------------------------------------------


def advise(data: DataConfig, backbones: list[str] | None = None, *, extra_defaults: bool = True,
           sink: EventSink = ignore_events, cut_layer: str | None = None) -> Record:
    """Measured advice before training (linear probes, LogME, input checks). ``extra_defaults``: also
    probe the default backbones after the ones named. ``cut_layer``: where to cut a backbone that is
    a person's own model file (default: below its classifier; the advice says where)."""
    from engine.analysis.advisor import advise as run_advice
    from engine.analysis.advisor import default_backbones

    names = list(backbones or [])
    if extra_defaults:
        names = list(dict.fromkeys([*names, *default_backbones()]))
    advice = run_advice(_dataset(data), names or None, cut_layer=cut_layer)
    return to_record(advice, "Advice", ("summary",))


def diagnose(config: RunConfig, *, steps: int = 10) -> Record:
    """Per-layer gradients and activations over the first steps of the from-scratch recipe."""
    from engine.analysis.init_diagnostics import diagnose_recipe

    recipe = dataclasses.replace(config.model, kind="scratch")
    diagnosis = diagnose_recipe(recipe, _dataset(config.data), steps=steps, image_size=config.data.image_size,
                                learning_rate=config.train.learning_rate)
    return to_record(diagnosis, "InitDiagnostics", ("layer_names", "healthy", "summary", "log10_grad_norms", "table"))


def showdown(config: RunConfig, *, epochs: int = 3, sink: EventSink = ignore_events, control: Any = None) -> Record:
    """Glorot, He, LeCun and plain random starts trained side by side."""
    from engine.analysis.showdown import run_showdown

    result = run_showdown(config, _dataset(config.data), epochs=epochs, sink=sink, control=control)
    return to_record(result, "Showdown", ("sentence", "table"))


def showdown_contenders() -> list[dict[str, Any]]:
    from engine.analysis.showdown import CONTENDERS

    return [{"run_name": f"showdown-{c.initializer}-{c.scale:g}", "label": c.label} for c in CONTENDERS]


def evaluate(model: ModelHandle, data: DataConfig, *, split: str = "val", pictures: int = 32) -> dict[str, Any]:
    """Metrics on one split; for image classification also the most confident mistakes' pictures."""
    from engine.analysis.evaluation import evaluate_model

    dataset = _dataset(data)
    report = evaluate_model(_model(model), dataset, split=split, image_size=model.image_size)
    images = None
    worst: list[Any] = []
    if report.task == "classification" and dataset.input_kind == "image" and report.misclassified and pictures:
        worst = sorted(report.misclassified, key=lambda m: -m.confidence)[:pictures]
        images = dataset.loader.read(np.array([m.index for m in worst], dtype=np.int64))
    return {"report": to_record(report, "EvaluationReport"),
            "pictures": (to_record(worst), images) if images is not None else None}


def predict(model: ModelHandle, inputs: Any, dataset_summary: dict[str, Any], *, k: int = 3) -> dict[str, Any]:
    """Top-k classes (or the predicted value) for one dropped image or typed row."""
    from engine.analysis.evaluation import predict_top_k
    from engine.data.inputs import load_inputs_for_prediction

    batch = load_inputs_for_prediction(inputs, dataset_summary, model.image_size)
    names = list(dataset_summary.get("class_names") or [])
    top = predict_top_k(_model(model), batch, names, k=k)[0]
    return {"top_k": to_record(top), "input": np.asarray(batch[0]), "regression": not names}


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
    "trust_backbone": trust_backbone,
    "train": train,
    "compare": compare,
    "default_budget": default_budget,
    "advise": advise,
    "diagnose": diagnose,
    "showdown": showdown,
    "showdown_contenders": showdown_contenders,
    "evaluate": evaluate,
    "predict": predict,
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
    "trust_backbone": "trusting the backbone",
    "train": "training",
    "compare": "comparing scratch and fine-tuning",
    "default_budget": "reading the comparison budget",
    "advise": "checking the data",
    "diagnose": "diagnosing the initialisation",
    "showdown": "running the initializer showdown",
    "showdown_contenders": "listing the initializers",
    "evaluate": "evaluating",
    "predict": "predicting",
}
