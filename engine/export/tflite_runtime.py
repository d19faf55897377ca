"""Running a `.tflite` file: LiteRT's interpreter where installed, else TensorFlow's own.

`tf.lite.Interpreter` is deprecated in favour of LiteRT (the ``ai_edge_litert`` package) and
warns about its deletion each time one is made; the two share one API. Kiln prefers LiteRT
and, where only TensorFlow's is there, keeps the notice off the user's screen (scoped to the
construction, so nobody else's warning filters change).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def tflite_interpreter(path: str | Path, *, num_threads: int | None = None) -> Any:
    """An allocated interpreter for the TFLite file at ``path`` (LiteRT's, else TensorFlow's)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from kiln_lab.engine.runtime import require_tensorflow

        require_tensorflow("Running a TFLite file without LiteRT (pip install ai-edge-litert)")
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - the class, as LiteRT names it
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def tflite_runtime_name() -> str:
    """Which interpreter `tflite_interpreter` uses here, for reports: ``LiteRT x.y`` or ``tf.lite``."""
    try:
        from importlib.metadata import version

        import ai_edge_litert  # noqa: F401

        return f"LiteRT {version('ai-edge-litert')}"
    except ImportError:
        return "tf.lite (TensorFlow)"
    except Exception:  # noqa: BLE001 - the metadata of an odd install: the name is enough
        return "LiteRT"


def run_tflite(interpreter: Any, x: Any) -> Any:
    """Outputs of the interpreter's default signature for the batch ``x`` (the first output)."""
    runner = interpreter.get_signature_runner()
    name = next(iter(runner.get_input_details()))
    return next(iter(runner(**{name: x}).values()))
