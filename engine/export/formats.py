"""The export formats and their file suffixes: plain facts the app's Export page shows.

Kept apart from `engine.export.save` (which loads Keras when it saves) so the window's
process can name the formats without importing the engine's heavy parts.
"""

from __future__ import annotations

from pathlib import Path

EXPORT_FORMATS: dict[str, str] = {
    "keras": "Keras v3 file (.keras): opens with keras.models.load_model; the default.",
    "h5": "Legacy HDF5 file (.h5), for older tools.",
    "savedmodel": "TensorFlow SavedModel folder, for TF Serving and other runtimes.",
    "tflite": "TensorFlow Lite flatbuffer (.tflite), for mobile and edge devices.",
    "onnx": "ONNX file (.onnx), through Keras's own exporter, for ONNX Runtime and other runtimes.",
}
# Formats save_model writes beyond the app's list above (none today: the Export page offers every one).
MORE_FORMATS: dict[str, str] = {}
ALL_FORMATS: dict[str, str] = {**EXPORT_FORMATS, **MORE_FORMATS}
# Exported files Kiln runs in their own runtime against the Keras model after writing them
# (engine.api.export_for_deployment: accuracy before and after, size, latency).
CHECKED_FORMATS = ("tflite", "onnx")
SUFFIXES = {"keras": ".keras", "h5": ".h5", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
# Post-training quantisation of a TFLite export: weights (and, for int8, activations) in fewer bits.
QUANTISATIONS = ("float16", "int8")
ONNX_INSTALL = "pip install onnx tf2onnx onnxruntime"
# What each format needs besides Keras, as import names (a find_spec away: nothing is imported).
NEEDS: dict[str, tuple[str, ...]] = {
    "savedmodel": ("tensorflow",),
    "tflite": ("tensorflow",),
    "onnx": ("onnx", "tf2onnx", "onnxruntime"),
}
INSTALL_HINTS = {"savedmodel": "pip install tensorflow", "tflite": "pip install tensorflow", "onnx": ONNX_INSTALL}


def missing_packages(format: str) -> list[str]:
    """The packages ``format`` needs that this environment lacks (looked up, not imported)."""
    import importlib.util

    return [name for name in NEEDS.get(format, ()) if importlib.util.find_spec(name) is None]


def missing_sentence(format: str) -> str:
    """One sentence saying what to install for ``format``; "" when nothing is missing."""
    missing = missing_packages(format)
    if not missing:
        return ""
    names = " and ".join(missing) if len(missing) < 3 else f"{', '.join(missing[:-1])} and {missing[-1]}"
    label = {"onnx": "ONNX export", "tflite": "TFLite export", "savedmodel": "SavedModel export"}.get(format, format)
    return (f"{label} needs {names}, which this environment does not have: "
            f"{INSTALL_HINTS.get(format, 'pip install ' + ' '.join(missing))}.")


def format_for_path(path: str | Path) -> str:
    """The export format a path's suffix names (a folder, or no known suffix: a SavedModel)."""
    suffix = Path(path).suffix.lower()
    return {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".tflite": "tflite", ".onnx": "onnx"}.get(
        suffix, "savedmodel"
    )
