"""Save models as .keras, legacy .h5, SavedModel or TFLite; every write is atomic.

A run record (config, environment, dataset report, history, metrics, timings) goes
beside a saved model file as ``<file name>.run.json`` (``m.keras.run.json``, ``m.h5.run.json``:
one per exported file, so exports of one model into one folder keep their own), inside a
SavedModel folder as ``kiln.run.json``; a training run's folder holds ``model.keras``,
``history.json`` and ``run.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import ModelError
from kiln_lab.engine.export.atomic import atomic_dir, atomic_path, atomic_write_bytes, atomic_write_text
from kiln_lab.engine.export.formats import (  # noqa: F401 - re-exported
    ALL_FORMATS,
    EXPORT_FORMATS,
    MORE_FORMATS,
    ONNX_INSTALL,
    QUANTISATIONS,
    SUFFIXES,
    format_for_path,
)
from kiln_lab.engine.export.trust import UntrustedModel, load_keras_file, trust

__all__ = ["ALL_FORMATS", "EXPORT_FORMATS", "UntrustedModel", "load_model", "save_model", "save_run", "strict_json"]


def save_model(
    model: Any, path: str | Path, *, format: str | None = None, record: dict[str, Any] | None = None,
    card: bool = True, quantize: str | None = None, calibration: Any = None,
) -> Path:
    """Write ``model`` to ``path`` in ``format`` (default: from the suffix) and return the path.

    ``quantize`` (TFLite only): ``float16`` or ``int8`` post-training quantisation; int8 needs
    ``calibration``, a batch of the run's own training inputs. The previous file at ``path``
    survives any failure mid-write.
    """
    path = Path(path)
    format = format or format_for_path(path)
    if format not in ALL_FORMATS:
        raise ModelError(f"'{format}' is not an export format.", hint=f"Choose one of: {', '.join(ALL_FORMATS)}.")
    if quantize is not None and (format != "tflite" or quantize not in QUANTISATIONS):
        raise ModelError(
            f"Quantisation '{quantize}' is not offered for {format} files.",
            hint=f"Quantise TFLite exports only: {' or '.join(QUANTISATIONS)}.",
        )
    if quantize == "int8" and calibration is None:
        raise ModelError(
            "int8 quantisation needs samples of the training data to calibrate with, and none were given.",
            hint="Export from a run folder whose data source is still there, or choose float16.",
        )
    if format in ("savedmodel", "tflite"):
        from kiln_lab.engine.runtime import require_tensorflow

        require_tensorflow("SavedModel export" if format == "savedmodel" else "TFLite export")
    if format == "keras":
        path = path if path.suffix == ".keras" else path.with_suffix(".keras")
        with atomic_path(path) as tmp:
            model.save(tmp)
        trust(path)  # Kiln wrote it: its SavedModel layers load without a question
    elif format == "h5":
        path = path if path.suffix in (".h5", ".hdf5") else path.with_suffix(".h5")
        with atomic_path(path) as tmp:
            model.save(tmp)  # Keras writes legacy HDF5 through h5py for this suffix
    elif format == "savedmodel":
        with atomic_dir(path) as tmp:
            model.export(str(tmp), format="tf_saved_model", verbose=False)
        trust(path)  # Kiln wrote it: usable as a backbone without a question
    elif format == "tflite":
        path = path if path.suffix == ".tflite" else path.with_suffix(".tflite")
        atomic_write_bytes(path, _tflite_bytes(model, path, quantize=quantize, calibration=calibration))
    elif format == "onnx":
        path = path if path.suffix == ".onnx" else path.with_suffix(".onnx")
        _require_onnx_exporter()
        _call_once(model)  # Keras exports only a model that has been called
        with atomic_path(path) as tmp:
            model.export(str(tmp), format="onnx", verbose=False)
    if record is not None:
        from kiln_lab.engine.export.records import record_path_for

        atomic_write_text(record_path_for(path, format), strict_json(record))
    if card:  # every saved model gets its model card (model_card.md / .json) beside it
        from kiln_lab.engine.export.model_card import write_model_card

        write_model_card(path, format, record)
    return path


def _tflite_bytes(model: Any, path: Path, *, quantize: str | None = None, calibration: Any = None) -> bytes:
    import tempfile

    import numpy as np
    import tensorflow as tf

    # Converting from a SavedModel export is the path TF documents for Keras 3 models.
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        if quantize == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            # Weights and activations in int8, scaled on the run's own inputs; inputs and outputs
            # stay float32, so the file takes the same raw pixels or features as the model.
            samples = np.asarray(calibration, dtype=np.float32)

            def representative() -> Any:
                for row in samples:
                    yield [row[None, ...]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
        return converter.convert()


def _require_onnx_exporter() -> None:
    import importlib.util

    missing = [name for name in ("onnx", "tf2onnx") if importlib.util.find_spec(name) is None]
    from kiln_lab.engine.runtime import tensorflow_backend

    if not tensorflow_backend():
        missing = [name for name in missing if name != "tf2onnx"]  # JAX and PyTorch export their own way
    if missing:
        raise ModelError(
            f"ONNX export needs the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}, "
            "which this environment does not have.",
            hint=f"Install with: {ONNX_INSTALL}",
        )


def _call_once(model: Any) -> None:
    import numpy as np

    shape = tuple(getattr(model, "input_shape", ()) or ())
    if shape and all(side is not None for side in shape[1:]):
        model(np.zeros((1, *shape[1:]), dtype="float32"), training=False)


def save_run(model: Any, out_dir: str | Path, record: dict[str, Any]) -> None:
    """A run folder: ``model.keras``, ``history.json``, ``run.json`` and ``model_card.md``/``.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, out_dir / "model.keras", card=False)
    atomic_write_text(out_dir / "history.json", strict_json(record.get("history", {})))
    atomic_write_text(out_dir / "run.json", strict_json(record))
    from kiln_lab.engine.export.model_card import write_model_card

    extra = (out_dir / "history.json", out_dir / "run.json")
    if (out_dir / "training_log.csv").is_file():  # the job's CSVLogger table, complete by now
        extra += (out_dir / "training_log.csv",)
    write_model_card(out_dir / "model.keras", "keras", record, run_folder=True, extra_files=extra)


def strict_json(value: Any, *, indent: int | None = 2) -> str:
    """JSON that strict parsers accept: NaN and infinities (a run that diverged) become ``null``."""
    return json.dumps(_finite(value), indent=indent, default=_json_default, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if type(value).__module__ == "numpy":
        return _finite(_json_default(value))
    return value


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- loading ------------------------------------------------------------------------------


def load_model(
    path: str | Path, *, trusted: bool = False, custom_objects: dict[str, Any] | None = None, compile: bool = True
) -> Any:
    """Load a .keras / .h5 model through the trust gate (`engine.export.trust.load_keras_file`).

    Keras's safe mode is always on, so a Lambda is refused. A file with Kiln's SavedModel
    layer runs that SavedModel's graph when loaded, so unless the file is trusted (Kiln wrote
    it, or the person said yes to it before) it raises `UntrustedModel`; ``trusted=True``
    means the caller asked the person about this file just now, and records the yes.
    Kiln's own layers must be registered (import ``engine.models.layers``) or passed in
    ``custom_objects``.
    """
    return load_keras_file(path, trusted=trusted, custom_objects=custom_objects, compile=compile)
