"""The run record beside a saved model, and what a loaded model says about its input.

Kiln writes a run record (config, dataset report with its preprocessing, metrics) as
``NAME.run.json`` beside an exported model, or ``run.json`` in a run folder. The CLI's
evaluate / predict / export and the GUI's "Open model" read it back through here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def find_run_record(model_path: str | Path) -> dict[str, Any]:
    """The run record saved beside ``model_path`` (``NAME.run.json``, else the folder's ``run.json``), or {}.

    An unreadable or malformed candidate is passed over: a model without its record still opens.
    """
    model_path = Path(model_path)
    for candidate in (model_path.with_name(model_path.stem + ".run.json"), model_path.parent / "run.json"):
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
