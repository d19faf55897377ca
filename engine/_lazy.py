"""Lazy package attributes (PEP 562): ``from engine.data import load_dataset`` still works, but
importing one module of a package (``engine.data.config``) no longer loads the whole package."""

from __future__ import annotations

import importlib
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Any, Any]:
    """``__getattr__`` and ``__dir__`` for a package whose names live in ``exports`` (name -> module)."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module-level hook's own name
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(exports)

    return __getattr__, __dir__
