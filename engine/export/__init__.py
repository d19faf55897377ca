"""Atomic saves and exports, the one trust gate, run records and model cards.

Names load on first use (PEP 562): ``engine.export.formats`` or ``engine.export.runs``
alone do not load the saving code.
"""

from __future__ import annotations

from kiln_lab.engine._lazy import lazy_exports

_EXPORTS = {name: "kiln_lab.engine.export.save" for name in ("EXPORT_FORMATS", "load_model", "save_model", "save_run")}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
