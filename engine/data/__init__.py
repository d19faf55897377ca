"""Data sources -> one `Dataset` description + tf.data pipelines.

Importing this package is cheap: its names load on first use (PEP 562), and TensorFlow
loads inside the functions that need it, so ``engine.data.config`` alone stays plain.
"""

from __future__ import annotations

from kiln_lab.engine._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("CLASSIFICATION", "IMAGE", "REGRESSION", "VECTOR", "Dataset", "SampleLoader", "SkippedFile"),
                    "kiln_lab.engine.data.dataset"),
    "DEMOS": "kiln_lab.engine.data.demo_names",
    "load_inputs_for_prediction": "kiln_lab.engine.data.inputs",
    "load_dataset": "kiln_lab.engine.data.loading",
    "Pipelines": "kiln_lab.engine.data.pipeline",
    "make_pipelines": "kiln_lab.engine.data.pipeline",
    "encode_rows": "kiln_lab.engine.data.tabular",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
