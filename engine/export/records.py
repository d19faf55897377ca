"""The run record beside a saved model, and what a loaded model says about its input.

Kiln writes a run record (config, dataset report with its preprocessing, metrics) as
``FILE.run.json`` beside an exported model file (``m.keras.run.json``), ``kiln.run.json``
inside an exported SavedModel folder, or ``run.json`` in a run folder. The CLI's
evaluate / predict / export and the GUI's "Open model" read it back through here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def record_path_for(model_path: Path, format: str) -> Path:
    """Where an export's run record goes: inside a SavedModel folder, else ``<file name>.run.json`` beside it."""
    if format == "savedmodel":
        return model_path / "kiln.run.json"
    return model_path.with_name(model_path.name + ".run.json")


def find_run_record(model_path: str | Path) -> dict[str, Any]:
    """The run record saved with ``model_path``, or {}.

    Looked for as ``FILE.run.json`` beside it, ``kiln.run.json`` inside a SavedModel folder,
    ``STEM.run.json`` (exports by Kiln before 2026-12) and the run folder's ``run.json``.
    An unreadable or malformed candidate is passed over: a model without its record still opens.
    """
    model_path = Path(model_path)
    candidates = (
        model_path.with_name(model_path.name + ".run.json"),
        model_path / "kiln.run.json",
        model_path.with_name(model_path.stem + ".run.json"),
        model_path.parent / "run.json",
    )
    for candidate in candidates:
        if candidate.is_file():
            try:
                record = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                return record
    return {}


def model_image_size(model: Any) -> tuple[int, int] | None:
    """``(height, width)`` of an image model's fixed input, or None (tables, or any size accepted)."""
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if len(shape) == 4 and shape[1] and shape[2]:
        return int(shape[1]), int(shape[2])
    return None


def record_image_size(record: dict[str, Any], model: Any) -> tuple[int, int] | None:
    """The image size a model was trained at: its run record's, else its input's."""
    size = (record.get("model") or {}).get("image_size")
    return tuple(int(s) for s in size) if size else model_image_size(model)
