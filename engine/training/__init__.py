"""The run config and the training job. Names load on first use (PEP 562)."""

from __future__ import annotations

from kiln_lab.engine._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("AugmentConfig", "DataConfig", "LayerSpec", "ModelRecipe", "RunConfig", "TrainConfig"),
                    "kiln_lab.engine.training.config"),
    "RunControl": "kiln_lab.engine.training.control",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
