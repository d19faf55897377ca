"""New inputs for a saved model: image files or table rows, encoded the way its training data was.

A model's run record (run.json) keeps ``Dataset.summary()``; its ``preprocessing`` section
holds what is needed here (channels, image size and pixel scaling for images; the fitted
encoder for tables; means and deviations for feature arrays).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data.imagefile import BadImage, inspect_image, is_image_name
from kiln_lab.engine.errors import DataError


def load_inputs_for_prediction(
    paths_or_rows: Any, dataset_summary: dict[str, Any], image_size: tuple[int, int] | None = None
) -> np.ndarray:
    """A float32 batch ready for ``model.predict``.

    Args:
        paths_or_rows: for image models, image paths (a folder means every image in it) or
            image arrays; for table models, rows (dicts or lists), rows typed as one line of
            text ("5.1,red"), or the path of a CSV file.
        dataset_summary: the training data's ``Dataset.summary()`` (run.json's ``dataset``).
        image_size: the model's input ``(height, width)``; default: the size stored at training.
    """
    preprocessing = dataset_summary.get("preprocessing") or {}
    kind = dataset_summary.get("input_kind") or preprocessing.get("kind")
    items = [paths_or_rows] if isinstance(paths_or_rows, (str, os.PathLike, dict)) else list(paths_or_rows)
    if not items:
        raise DataError("There is nothing to predict on.", hint="Give at least one image file or row.")
    if kind == "image":
        return _images(items, dataset_summary, preprocessing, image_size)
    from kiln_lab.engine.data.tabular import encode_rows

    rows: list[Any] = []
    for item in items:
        if isinstance(item, (str, os.PathLike)) and Path(item).suffix.lower() in (".csv", ".tsv", ".txt"):
            rows.extend(_csv_rows(Path(item), preprocessing))
        elif isinstance(item, str):
            rows.append(_typed_row(item, preprocessing))
        else:
            rows.append(item)
    return encode_rows(preprocessing, rows)


def _typed_row(text: str, prep: dict[str, Any]) -> list[str]:
    """One row typed as text, split on the training file's delimiter (or the one it uses)."""
    import csv

    from kiln_lab.engine.data.csvread import sniff_delimiter

    delimiter = prep.get("delimiter") or ","
    if delimiter not in text:
        delimiter = sniff_delimiter(text)
    return [field.strip() for field in next(csv.reader([text], delimiter=delimiter), [])]


def _images(items: list[Any], summary: dict[str, Any], prep: dict[str, Any], image_size) -> np.ndarray:
    from kiln_lab.engine.data.loader import resize_batch

    shape = list(summary.get("input_shape") or [])
    channels = int(prep.get("channels") or (shape[-1] if len(shape) == 3 else 3))
    size = tuple(int(s) for s in (image_size or prep.get("image_size") or shape[:2]))
    scale, offset = float(prep.get("pixel_scale", 1.0)), float(prep.get("pixel_offset", 0.0))
    out: list[Any] = []
    files: dict[int, tuple[Path, Any]] = {}  # position in ``out`` -> file and its header
    for item in expand_folders(items):
        if isinstance(item, np.ndarray):  # a raw sample, stored the way the training arrays were
            array = np.asarray(item, dtype=np.float32)
            array = array[..., None] if array.ndim == 2 else array
            array = np.clip(array * scale + offset, 0, 255)
            out.append(np.asarray(resize_batch(array[None], size))[0])
            continue
        path = Path(item)
        try:
            files[len(out)] = (path, inspect_image(path))  # the plain reason (truncated ...) if broken
            out.append(None)
        except BadImage as bad:
            raise DataError(f"{path.name} cannot be used: {bad.reason}.", hint="Choose another image file.") from None
        except FileNotFoundError:
            raise DataError(f"The image {path} does not exist.") from None
    if files:  # decoded together, by the same code as the training pipeline (engine/data/images.py)
        from kiln_lab.engine.data.images import ImageFileLoader

        loader = ImageFileLoader(
            [str(path) for path, _ in files.values()], channels=channels, image_size=size,
            infos=[info for _, info in files.values()], legacy_pillow=prep.get("decoder", "pillow") == "pillow",
        )
        pixels = loader.read(np.arange(len(files)))
        if loader.late_skips:
            bad = loader.late_skips[0]
            raise DataError(f"{Path(bad.path).name} cannot be used: {bad.reason}.", hint="Choose another image file.")
        for row, position in enumerate(files):
            out[position] = pixels[row]
    if not out:
        raise DataError("There is nothing to predict on.", hint="The folder holds no image files.")
    return np.stack(out).astype(np.float32)


def expand_folders(items: list[Any]) -> list[Any]:
    expanded: list[Any] = []
    for item in items:
        if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
            expanded.extend(sorted(p for p in Path(item).rglob("*") if p.is_file() and is_image_name(p)))
        else:
            expanded.append(item)
    return expanded


def _csv_rows(path: Path, prep: dict[str, Any]) -> list[dict[str, str]]:
    from kiln_lab.engine.data.csvread import read_csv

    if not path.exists():
        raise DataError(f"The file {path} does not exist.")
    table = read_csv(path)
    header = table.header
    known = set(prep.get("header") or [])
    if known and not known.intersection(header):  # no header row: the first line was data
        header = list(prep["header"])
        if len(table.header) == len(header) - 1:
            header = [c["name"] for c in prep.get("columns", [])]
        return [dict(zip(header, row, strict=False)) for row in [table.header, *table.rows]]
    return [dict(zip(header, row, strict=False)) for row in table.rows]
