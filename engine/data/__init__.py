"""Data sources -> one `Dataset` description + tf.data pipelines.

Importing this package is cheap: its names load on first use (PEP 562), and TensorFlow
loads inside the functions that need it, so ``engine.data.config`` alone stays plain.
"""

from __future__ import annotations

from engine._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("CLASSIFICATION", "IMAGE", "REGRESSION", "VECTOR", "Dataset", "SampleLoader", "SkippedFile"),
                    "engine.data.dataset"),
    "DEMOS": "engine.data.demo_names",
    "load_inputs_for_prediction": "engine.data.inputs",
    "load_dataset": "engine.data.loading",
    "Pipelines": "engine.data.pipeline",
    "make_pipelines": "engine.data.pipeline",
    "encode_rows": "engine.data.tabular",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
