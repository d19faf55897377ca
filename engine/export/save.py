"""Save models as .keras, legacy .h5, SavedModel or TFLite; every write is atomic.

A run record (config, environment, dataset report, history, metrics, timings) goes
beside a saved model as ``<name>.run.json``; a training run's folder holds
``model.keras``, ``history.json`` and ``run.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import KilnError, ModelError
from engine.export.atomic import atomic_dir, atomic_path, atomic_write_bytes, atomic_write_text

EXPORT_FORMATS: dict[str, str] = {
    "keras": "Keras v3 file (.keras): opens with keras.models.load_model; the default.",
    "h5": "Legacy HDF5 file (.h5), for older tools.",
    "savedmodel": "TensorFlow SavedModel folder, for TF Serving and other runtimes.",
    "tflite": "TensorFlow Lite flatbuffer (.tflite), for mobile and edge devices.",
}
SUFFIXES = {"keras": ".keras", "h5": ".h5", "savedmodel": "", "tflite": ".tflite"}


class UntrustedModel(KilnError):
    """A model file that needs code from its own SavedModel to load, and Kiln did not write it."""


def format_for_path(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    return {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".tflite": "tflite"}.get(suffix, "savedmodel")


def save_model(
    model: Any, path: str | Path, *, format: str | None = None, record: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` to ``path`` in ``format`` (default: from the suffix) and return the path.

    The previous file at ``path`` survives any failure mid-write.
    """
    path = Path(path)
    format = format or format_for_path(path)
    if format not in EXPORT_FORMATS:
        raise ModelError(f"'{format}' is not an export format.", hint=f"Choose one of: {', '.join(EXPORT_FORMATS)}.")
    if format == "keras":
        path = path if path.suffix == ".keras" else path.with_suffix(".keras")
        with atomic_path(path) as tmp:
            model.save(tmp)
        _mark_written_by_kiln(path)
    elif format == "h5":
        path = path if path.suffix in (".h5", ".hdf5") else path.with_suffix(".h5")
        with atomic_path(path) as tmp:
            model.save(tmp)  # Keras writes legacy HDF5 through h5py for this suffix
    elif format == "savedmodel":
        with atomic_dir(path) as tmp:
            model.export(str(tmp), format="tf_saved_model", verbose=False)
    elif format == "tflite":
        path = path if path.suffix == ".tflite" else path.with_suffix(".tflite")
        atomic_write_bytes(path, _tflite_bytes(model, path))
    if record is not None:
        record_path = path.with_name(path.stem + ".run.json") if format != "savedmodel" else path / "kiln.run.json"
        atomic_write_text(record_path, json.dumps(record, indent=2, default=_json_default))
    return path


def _tflite_bytes(model: Any, path: Path) -> bytes:
    import tempfile

    import tensorflow as tf

    # Converting from a SavedModel export is the path TF documents for Keras 3 models.
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        return converter.convert()


def save_run(model: Any, out_dir: str | Path, record: dict[str, Any]) -> None:
    """A run folder: ``model.keras``, ``history.json`` and ``run.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, out_dir / "model.keras")
    atomic_write_text(out_dir / "history.json", json.dumps(record.get("history", {}), indent=2))
    atomic_write_text(out_dir / "run.json", json.dumps(record, indent=2, default=_json_default))


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


def _mark_written_by_kiln(path: Path) -> None:
    """Remember that this file was written by Kiln (safe to load with its own layers)."""
    from engine.export.trust import remember_trusted

    remember_trusted(path)


def load_model(path: str | Path, *, trusted: bool = False) -> Any:
    """Load a .keras / .h5 model; Kiln's custom layers are known.

    Plain Keras models load in Keras's safe mode. A file with a SavedModel-backed layer runs
    code from that SavedModel when loaded, so unless Kiln wrote the file itself (or
    ``trusted``), it raises `UntrustedModel` and the caller asks the person first.
    """
    import keras

    from engine.export.trust import is_trusted
    from engine.models.custom_objects import kiln_custom_objects, needs_code_to_load

    path = Path(path)
    if not path.exists():
        raise ModelError(f"There is no model file at {path}.")
    if format_for_path(path) not in ("keras", "h5"):
        raise ModelError(f"{path.name} is not a .keras or .h5 model file.", hint="Open a .keras or .h5 file.")
    unsafe = needs_code_to_load(path)
    if unsafe and not (trusted or is_trusted(path)):
        raise UntrustedModel(
            f"{path.name} contains a layer that runs code from a SavedModel when loaded, and Kiln did not write it.",
            hint="Open it only if you trust where it came from.",
        )
    try:
        return keras.models.load_model(path, custom_objects=kiln_custom_objects(), safe_mode=not unsafe)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"{path.name} could not be loaded as a Keras model: {str(exc).splitlines()[0][:200]}") from exc
