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
}
# Formats save_model writes beyond the app's list above (the app's Export page labels each of
# EXPORT_FORMATS; ONNX joins it once the page has a label for it).
MORE_FORMATS: dict[str, str] = {
    "onnx": "ONNX file (.onnx), through Keras's own exporter, for ONNX Runtime and other runtimes.",
}
ALL_FORMATS: dict[str, str] = {**EXPORT_FORMATS, **MORE_FORMATS}
SUFFIXES = {"keras": ".keras", "h5": ".h5", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
# Post-training quantisation of a TFLite export: weights (and, for int8, activations) in fewer bits.
QUANTISATIONS = ("float16", "int8")
ONNX_INSTALL = "pip install onnx tf2onnx onnxruntime"


def format_for_path(path: str | Path) -> str:
    """The export format a path's suffix names (a folder, or no known suffix: a SavedModel)."""
    suffix = Path(path).suffix.lower()
    return {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".tflite": "tflite", ".onnx": "onnx"}.get(
        suffix, "savedmodel"
    )
