"""Deployment exports checked against the Keras model they came from.

`export_for_deployment` writes an ONNX or TFLite file (optionally float16 / int8 quantised,
int8 calibrated on the run's own training inputs), runs it in its own runtime (ONNX Runtime;
LiteRT or tf.lite) on the run's evaluation split, and puts what it found into the run record
and the model card beside the file: outputs against Keras's (largest difference, top-class
agreement), the split's accuracy (or MAE) before and after, the file size and the runtime's
latency per sample. A quantised file that loses more than `ACCURACY_MARGIN` (or, for
regression, `MAE_MARGIN`) says so in one sentence.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.errors import ExportCancelled, KilnError, cancel_requested
from kiln_lab.engine.events import EventSink, Progress, ignore_events

ACCURACY_MARGIN = 0.01  # a quantised file may lose at most 1 accuracy point on the evaluation split
MAE_MARGIN = 0.05  # ... or raise the MAE by at most 5 %
CALIBRATION_SIZE = 200  # training inputs int8 quantisation is calibrated on
EVAL_SIZE = 512  # evaluation samples the check runs (the split's first ones, in its fixed order)
LATENCY_SAMPLES = 30  # single-sample calls timed for the latency


@dataclass
class ExportSamples:
    """The run's own data for an export: training inputs to calibrate on, a split to check on."""

    calibration: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    split: str
    task: str


def samples_from_record(record: dict[str, Any] | None) -> ExportSamples | None:
    """The run's data, reloaded from its record's config (same source, same seeded split); None if gone."""
    data = ((record or {}).get("config") or {}).get("data")
    if not data or not data.get("source"):
        return None
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.data.config import DataConfig
    from kiln_lab.engine.schema import from_plain

    try:
        dataset = load_dataset(from_plain(DataConfig, data, "data"))
    except (KilnError, OSError):
        return None
    size = ((record or {}).get("model") or {}).get("image_size")
    size = tuple(size) if size else None
    split = "test" if len(dataset.splits.get("test", ())) else "val"
    evaluate = np.asarray(dataset.splits.get(split, ()))[:EVAL_SIZE]
    train = np.asarray(dataset.splits.get("train", ()))
    if not len(evaluate) or not len(train):
        return None
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(train, size=min(CALIBRATION_SIZE, len(train)), replace=False))
    return ExportSamples(
        calibration=np.asarray(dataset.loader.read(chosen, size), dtype=np.float32),
        x_eval=np.asarray(dataset.loader.read(evaluate, size), dtype=np.float32),
        y_eval=np.asarray(dataset.labels[evaluate]),
        split=split,
        task=dataset.task,
    )


def export_for_deployment(
    model: Any,
    path: str | Path,
    *,
    format: str,
    record: dict[str, Any] | None,
    quantize: str | None = None,
    samples: ExportSamples | None = None,
    sink: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write ``model`` as ``format`` (onnx or tflite), check the file, and record the check; returns both.

    ``sink`` hears a `Progress` per stage (write, check, time); ``cancel`` (a `threading.Event`) is
    looked at before each: set before the write, nothing is written; set after it, the file stays
    but is neither checked nor recorded (`ExportCancelled` says which)."""
    from kiln_lab.engine.export.atomic import atomic_write_text
    from kiln_lab.engine.export.model_card import write_model_card
    from kiln_lab.engine.export.records import record_path_for
    from kiln_lab.engine.export.save import save_model, strict_json

    def stage(done: int, message: str, written: Path | None = None) -> None:
        if cancel_requested(cancel):
            raise ExportCancelled(written)
        sink(Progress("export", done, 3, message))

    stage(0, f"Writing the {format} file")
    path = save_model(
        model, path, format=format, card=False, quantize=quantize,
        calibration=samples.calibration if samples is not None else None,
    )
    stage(1, "Running the file beside the Keras model", path)
    check = deployment_check(model, path, format=format, samples=samples, quantize=quantize, cancel=cancel,
                             before_timing=lambda: stage(2, "Timing the file", path))
    full = {**(record or {}), "export_check": check}
    if record is not None:
        atomic_write_text(record_path_for(path, format), strict_json(full))
    write_model_card(path, format, full)
    return path, check


def deployment_check(
    model: Any, path: Path, *, format: str, samples: ExportSamples | None, quantize: str | None = None,
    cancel: threading.Event | None = None,
    before_timing: Any = None,
) -> dict[str, Any]:
    """Run the exported file in its runtime beside the Keras model; see the module's docstring."""
    if samples is not None:
        x, y, split, task = samples.x_eval, samples.y_eval, samples.split, samples.task
    else:  # the run's data is gone: outputs can still be compared, accuracy cannot
        x, y, split, task = _random_inputs(model), None, "random inputs", None
    run, runtime = _runner(path, format)
    check: dict[str, Any] = {
        "format": format, "quantize": quantize or "none", "file": path.name,
        "size_bytes": path.stat().st_size, "runtime": runtime, "checked_on": split, "samples": int(len(x)),
    }
    if run is None:
        check["sentence"] = f"The file was not run: {runtime}."
        return check
    expected = np.asarray(model.predict(x, batch_size=64, verbose=0), dtype=np.float64)
    got_rows = []
    for i in range(0, len(x), 64):
        if cancel_requested(cancel):
            raise ExportCancelled(path)
        got_rows.append(np.asarray(run(x[i : i + 64]), dtype=np.float64))
    got = np.concatenate(got_rows)
    check["max_abs_diff"] = float(np.max(np.abs(got - expected)))
    if before_timing is not None:
        before_timing()
    check["latency_ms_per_sample"] = _latency_ms(run, x)
    if expected.ndim == 2 and expected.shape[1] > 1:
        check["top_class_agreement"] = float(np.mean(expected.argmax(1) == got.argmax(1)))
    if y is not None:
        _scores(check, task, expected, got, y)
    check["sentence"] = _sentence(check)
    return check


def _scores(check: dict[str, Any], task: str | None, expected: np.ndarray, got: np.ndarray, y: np.ndarray) -> None:
    if task == "regression":
        before = float(np.mean(np.abs(expected.reshape(len(y), -1)[:, 0] - y)))
        after = float(np.mean(np.abs(got.reshape(len(y), -1)[:, 0] - y)))
        check.update(metric="mae", keras=before, exported=after, margin=MAE_MARGIN,
                     within_margin=after <= before * (1 + MAE_MARGIN) + 1e-12)
        return
    from kiln_lab.engine.models.heads import class_probabilities

    before = float(np.mean(class_probabilities(expected).argmax(1) == y))
    after = float(np.mean(class_probabilities(got).argmax(1) == y))
    check.update(metric="accuracy", keras=before, exported=after, margin=ACCURACY_MARGIN,
                 within_margin=before - after <= ACCURACY_MARGIN + 1e-12)


def _sentence(check: dict[str, Any]) -> str:
    kind = f"{check['quantize']}-quantised " if check["quantize"] != "none" else ""
    where = f"on {check['samples']} samples ({check['checked_on']})"
    size = check["size_bytes"]
    size_text = f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"
    facts = (f"{kind}{check['format']} file, {size_text}, "
             f"{check['latency_ms_per_sample']:.2f} ms per sample in {check['runtime']}")
    if "metric" not in check:
        return f"The {facts}; largest output difference from Keras {check['max_abs_diff']:.2g} {where}."
    if check["metric"] == "accuracy":
        change = f"accuracy {check['keras']:.1%} in Keras, {check['exported']:.1%} in the file"
        lost = f"loses {(check['keras'] - check['exported']) * 100:.1f} points, more than the " \
               f"{check['margin'] * 100:g}-point margin"
    else:
        change = f"MAE {check['keras']:.4g} in Keras, {check['exported']:.4g} in the file"
        lost = f"raises the MAE more than the {check['margin']:.0%} margin"
    if check["within_margin"]:
        return f"The {facts}: {change} {where}."
    return (f"The {facts} {lost} ({change} {where}): ship the float32 file, or try float16 "
            "quantisation instead.")


def _runner(path: Path, format: str) -> tuple[Any, str]:
    if format == "onnx":
        try:
            import onnxruntime
        except ImportError:
            return None, "ONNX Runtime is not installed (pip install onnxruntime)"
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return (lambda batch: session.run(None, {name: batch})[0]), f"ONNX Runtime {onnxruntime.__version__}"
    if format == "tflite":
        from kiln_lab.engine.export.tflite_runtime import run_tflite, tflite_interpreter, tflite_runtime_name

        interpreter = tflite_interpreter(path)
        return (lambda batch: run_tflite(interpreter, batch)), tflite_runtime_name()
    return None, f"{format} files are not checked here"


def _latency_ms(run: Any, x: np.ndarray) -> float:
    run(x[:1])  # warm-up: the first call allocates
    times = []
    for i in range(min(LATENCY_SAMPLES, len(x))):
        started = time.perf_counter()
        run(x[i : i + 1])
        times.append((time.perf_counter() - started) * 1000)
    return float(statistics.median(times))


def _random_inputs(model: Any, count: int = 32) -> np.ndarray:
    shape = tuple(model.input_shape[1:])
    rng = np.random.default_rng(0)
    if len(shape) == 3:  # images: the raw 0..255 pixels the model takes
        return rng.uniform(0, 255, (count, *shape)).astype(np.float32)
    return rng.normal(size=(count, *shape)).astype(np.float32)
