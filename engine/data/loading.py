"""`load_dataset`: pick the source reader for a path or ``demo:NAME``."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

from kiln_lab.engine.data.config import DataConfig
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.errors import DataError
from kiln_lab.engine.events import EventSink


def load_dataset(
    config: DataConfig | str,
    *,
    progress: EventSink | None = None,
    cancel: threading.Event | None = None,
    preprocessing: dict[str, Any] | None = None,
) -> Dataset:
    """Scan a data source and describe it. Raises `DataError` with a sentence when unusable.

    Sources: ``demo:NAME``; a folder with one subfolder of images per class; a folder with
    ``x.npy`` and ``y.npy``; a CSV file; ``.npz``; ``.npy`` (labels in a sibling file); HDF5.
    ``progress`` receives `Progress` events while a folder is scanned; setting ``cancel``
    aborts the scan (raising `DataError`). ``preprocessing`` is a trained model's stored
    ``Dataset.preprocessing`` (run.json ``dataset.preprocessing``): pass it to evaluate new
    data the way the model's training data was encoded (same encoder, scaling, class order).
    """
    if isinstance(config, str):
        config = DataConfig(source=config)
    dataset = _load(config, progress, cancel, preprocessing)
    if config.task not in ("auto", dataset.task) and not preprocessing:
        # Only a table's target column can be read either way; other labels say what they are.
        raise DataError(
            f"This data's labels are {'classes' if dataset.is_classification else 'numbers'}, so it cannot be "
            f"used for {config.task}; only a table's target column can be read either way.",
            hint="Set the task to automatic.",
        )
    return dataset


def _load(
    config: DataConfig, progress: EventSink | None, cancel: threading.Event | None, preprocessing: dict[str, Any] | None
) -> Dataset:
    if cancel is not None and cancel.is_set():
        raise DataError("Scanning was cancelled.")
    source = config.source.strip()
    split = {
        "val_split": config.val_split,
        "test_split": config.test_split,
        "seed": config.seed,
        "fitted": preprocessing or None,
    }
    if not source:
        raise DataError(
            "No data source was given.", hint="Choose a folder of images, a CSV file, an array file or a demo."
        )
    if source.startswith("demo:"):
        from kiln_lab.engine.data.demo import load_demo

        return load_demo(source[5:].strip(), target=config.target, task=config.task, **split)

    from kiln_lab.engine.data.files import check_regular_file, printable

    path = Path(source).expanduser()
    try:
        os.lstat(path)  # the link itself: a looping or dangling link gets its own sentence below
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        missing = isinstance(exc, ValueError) or exc.errno in (errno.ENOENT, errno.ENOTDIR)
        raise DataError(
            f"The data source {printable(path, limit=300)} "
            + ("does not exist." if missing else f"cannot be opened ({printable(exc.strerror)})."),
            hint="Check the path, or choose the folder or file again.",
        ) from None
    if path.is_dir():
        return _load_folder(path, config, split, progress, cancel)
    check_regular_file(path, what="data file")  # pipes, devices, link loops: refused before any read
    suffix = path.suffix.lower()

    from kiln_lab.engine.data.csvread import CSV_SUFFIXES
    from kiln_lab.engine.data.hdf5 import HDF5_SUFFIXES

    if suffix in CSV_SUFFIXES:
        from kiln_lab.engine.data.tabular import load_csv

        return load_csv(path, target=config.target, task=config.task, **split)
    if suffix == ".npz":
        from kiln_lab.engine.data.arrays import dataset_from_arrays
        from kiln_lab.engine.data.numpyfiles import load_npz

        x, y, keys = load_npz(path, x_key=config.x_key, y_key=config.y_key)
        return dataset_from_arrays(
            x, y, source=str(path), source_kind="arrays", extra={"x_key": keys[0], "y_key": keys[1]}, **split
        )
    if suffix == ".npy":
        return _load_npy(path, config, split)
    if suffix in HDF5_SUFFIXES:
        from kiln_lab.engine.data.hdf5 import load_hdf5

        return load_hdf5(path, x_key=config.x_key, y_key=config.y_key, **split)
    from kiln_lab.engine.data.imagefile import is_image_name

    if is_image_name(path):
        raise _single_image_error(path)
    raise DataError(
        f"Kiln cannot read {printable(path.name)}: '{printable(suffix) or 'no extension'}' is not a data file "
        "type it knows.",
        hint="Use a folder of class subfolders with images, a .csv, .npz, .npy or .h5 file, or a demo.",
    )


def _single_image_error(path: Path) -> DataError:
    """One image file opened as data: say whether it is broken, and what a dataset of images looks like."""
    from kiln_lab.engine.data.files import printable
    from kiln_lab.engine.data.imagefile import BadImage, inspect_image

    folder_hint = "A dataset of images is a folder with one subfolder of images per class; open that folder."
    try:
        inspect_image(path)
    except BadImage as bad:
        return DataError(
            f"{printable(path.name)} is a broken image: {bad.reason}.",
            hint=folder_hint,
            items=((str(path), bad.reason),),
        )
    return DataError(f"{printable(path.name)} is a single image, not a dataset.", hint=folder_hint)


def _load_folder(path: Path, config: DataConfig, split: dict, progress: EventSink | None, cancel) -> Dataset:
    has_subfolders = any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())
    if not has_subfolders and (path / f"{config.x_key}.npy").exists():
        return _load_npy(path, config, split)
    from kiln_lab.engine.data.images import load_image_folder

    return load_image_folder(path, progress=progress, cancel=cancel, **split)


def _load_npy(path: Path, config: DataConfig, split: dict) -> Dataset:
    from kiln_lab.engine.data.arrays import dataset_from_arrays, npy_pair
    from kiln_lab.engine.data.numpyfiles import open_npy

    x_path, y_path = npy_pair(path, x_key=config.x_key, y_key=config.y_key)
    x = open_npy(x_path)
    y = open_npy(y_path, in_memory=True)  # labels are one value per sample: held, within the memory budget
    return dataset_from_arrays(
        x, y, source=str(path), source_kind="arrays", extra={"x_file": x_path.name, "y_file": y_path.name}, **split
    )
