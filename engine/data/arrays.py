"""NumPy arrays (``.npz``, ``.npy``, a folder with ``x.npy``/``y.npy``) as a data source.

``.npy`` files are memory-mapped, so a file larger than memory streams from disk chunk by
chunk; ``.npz`` members are compressed zip entries that NumPy can only read whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import IMAGE, VECTOR, Dataset
from kiln_lab.engine.data.files import printable
from kiln_lab.engine.data.labels import align_classes, interpret_labels, target_stats
from kiln_lab.engine.data.loader import BaseLoader, sorted_read
from kiln_lab.engine.data.split import stratified_split
from kiln_lab.engine.errors import DataError

_STATS_ROWS = 20_000  # enough rows for stable means without a full pass over a huge file
_STATS_BYTES = 64 * 2**20


class ArrayLoader(BaseLoader):
    """Samples held in an array-like (NumPy array, memory map or HDF5 dataset), never read whole.

    Images come out as float32 in 0..255 (``x * pixel_scale + pixel_offset``), vectors as
    float32 standardised with ``mean``/``std`` (missing values take the mean, i.e. 0 after).
    """

    def __init__(
        self,
        x: Any,
        *,
        image: bool,
        pixel_scale: float = 1.0,
        pixel_offset: float = 0.0,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
    ) -> None:
        self.x = x
        self.image = image
        self.pixel_scale = float(pixel_scale)
        self.pixel_offset = float(pixel_offset)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)

    def sample_shape(self, image_size: tuple[int, int] | None) -> tuple[int, ...]:
        shape = tuple(int(s) for s in self.x.shape[1:])
        if not self.image:
            return (int(np.prod(shape)) if shape else 1,)
        channels = shape[2] if len(shape) == 3 else 1
        height, width = image_size or shape[:2]
        return (int(height), int(width), channels)

    def _read_sorted(self, indices: np.ndarray) -> np.ndarray:
        if len(indices) == 0:
            return np.asarray(self.x[0:0])
        first, last = int(indices[0]), int(indices[-1])
        if last - first + 1 == len(indices):
            return np.asarray(self.x[first : last + 1])
        if len(indices) * 4 >= last - first + 1:  # dense enough: one sequential read beats many seeks
            return np.asarray(self.x[first : last + 1])[indices - first]
        return np.asarray(self.x[indices])

    def raw(self, indices: np.ndarray) -> np.ndarray:
        """Rows as stored, in the requested order (no scaling or standardising)."""
        return sorted_read(indices, self._read_sorted)

    def _load(self, indices: np.ndarray) -> np.ndarray:
        return self.finish(self.raw(indices))

    def finish(self, raw: np.ndarray) -> np.ndarray:
        stored_as_float = np.asarray(raw).dtype.kind == "f"
        batch = np.asarray(raw, dtype=np.float32)
        if self.image:
            if batch.ndim == 3:
                batch = batch[..., None]
            scaled = self.pixel_scale != 1.0 or self.pixel_offset != 0.0
            if scaled:
                batch = batch * self.pixel_scale + self.pixel_offset
            if stored_as_float:  # NaN and +-inf pixels become 0 (integers cannot hold them)
                batch = np.nan_to_num(batch, nan=0.0, posinf=0.0, neginf=0.0)
            return np.clip(batch, 0.0, 255.0) if scaled or stored_as_float else batch
        batch = batch.reshape(len(batch), -1)
        if self.mean is not None:
            # Missing (NaN) and infinite values take the feature mean, i.e. 0 after standardising.
            batch = np.where(np.isfinite(batch), batch, self.mean)
            batch = (batch - self.mean) / self.std
        return batch.astype(np.float32, copy=False)


# -- reading the files ---------------------------------------------------------------------


def npy_pair(path: Path, *, x_key: str = "x", y_key: str = "y") -> tuple[Path, Path]:
    """The inputs file and the labels file for a ``.npy`` path or a folder holding both."""
    if path.is_dir():
        x_path, y_path = path / f"{x_key}.npy", path / f"{y_key}.npy"
        if not x_path.exists() or not y_path.exists():
            raise DataError(
                f"The folder {printable(path)} has neither class subfolders nor {printable(x_key)}.npy and "
                f"{printable(y_key)}.npy.",
                hint="Make one subfolder per class with its images, or save inputs and labels as x.npy and y.npy.",
            )
        return x_path, y_path
    stem = path.stem
    for suffix in ("_y", "_labels", "_targets"):
        if stem.endswith(suffix) and (path.parent / f"{stem[: -len(suffix)]}.npy").exists():
            return path.parent / f"{stem[: -len(suffix)]}.npy", path  # the user picked the labels file
    if stem in ("y", "labels") and (path.parent / "x.npy").exists():
        return path.parent / "x.npy", path
    candidates = [f"{stem}_y.npy", f"{stem}_labels.npy", f"{stem}_targets.npy", "y.npy", "labels.npy"]
    for name in candidates:
        if (path.parent / name).exists() and name != path.name:
            return path, path.parent / name
    raise DataError(
        f"No labels found for {printable(path.name)}.",
        hint=f"Save the labels beside it as {printable(stem)}_y.npy, {printable(stem)}_labels.npy or y.npy.",
    )


# -- arrays -> Dataset ----------------------------------------------------------------------


def dataset_from_arrays(
    x: Any,
    y: np.ndarray,
    *,
    source: str,
    source_kind: str,
    val_split: float,
    test_split: float,
    seed: int,
    loader_type: type[ArrayLoader] = ArrayLoader,
    loader_kwargs: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    fitted: dict[str, Any] | None = None,
) -> Dataset:
    """Describe arrays: inputs ``x`` (array-like, possibly on disk) and labels ``y`` (in memory).

    ``fitted`` is a trained model's stored preprocessing: its pixel scaling or feature
    statistics and class order are reused instead of measured on this data.
    """
    shape = tuple(int(s) for s in x.shape)
    check_inputs(shape, str(getattr(x, "dtype", "")), source)
    y = np.asarray(y)
    if y.ndim == 0:
        raise DataError(
            f"The labels in {printable(source)} are a single value, not one per sample.",
            hint="Save one label per sample, in the same order as the inputs.",
        )
    if len(y) != shape[0]:
        raise DataError(
            f"The inputs have {shape[0]} samples but the labels have {len(y)}.",
            hint="Each sample needs exactly one label: make both arrays the same length.",
        )
    labels = interpret_labels(np.asarray(y), what="The labels", min_classes=1 if fitted else 2)
    image = len(shape) in (3, 4)
    problems = [labels.note] if labels.note else []
    fitted = fitted if fitted and fitted.get("kind") == (IMAGE if image else VECTOR) else None
    if fitted and labels.task == "classification" and fitted.get("class_names"):
        labels.values = align_classes(labels.values, labels.class_names, list(fitted["class_names"]))
        labels.class_names = list(fitted["class_names"])
    splits = stratified_split(
        labels.values,
        val_fraction=val_split,
        test_fraction=test_split,
        seed=seed,
        stratify=labels.task == "classification",
    )
    probe = ArrayLoader(x, image=image)
    row_bytes = int(np.prod(shape[1:])) * np.dtype(getattr(x, "dtype", np.float32)).itemsize
    sample_rows = _sample_rows(splits["train"], seed, row_bytes, image=image)
    if image:
        if fitted:
            scale, offset = float(fitted.get("pixel_scale", 1.0)), float(fitted.get("pixel_offset", 0.0))
        else:
            pixels = probe.raw(sample_rows)
            scale, offset, note = pixel_transform(pixels)
            if note:
                problems.append(note)
            bad = int(pixels.size - np.count_nonzero(np.isfinite(pixels))) if pixels.dtype.kind == "f" else 0
            if bad:
                problems.append(
                    f"The images have {bad} missing pixel value(s) (NaN or inf) in the images measured; "
                    "they were set to 0."
                )
        transform = {"pixel_scale": scale, "pixel_offset": offset}
        channels = shape[3] if len(shape) == 4 else 1
        input_shape: tuple[int, ...] = (shape[1], shape[2], channels)
        preprocessing = {
            "kind": IMAGE,
            "channels": channels,
            "image_size": [shape[1], shape[2]],
            "pixel_scale": scale,
            "pixel_offset": offset,
        }
    else:
        mean, std, missing = feature_stats(probe.raw(sample_rows))
        if fitted:
            mean, std = np.asarray(fitted["mean"], np.float32), np.asarray(fitted["std"], np.float32)
            if len(mean) != int(np.prod(shape[1:])):
                raise DataError(
                    f"This data has {int(np.prod(shape[1:]))} features per sample; the model expects {len(mean)}.",
                    hint="Use data with the same columns as the training data.",
                )
        if missing:
            problems.append(
                f"The inputs have {missing} missing value(s) (NaN or inf) in the rows measured; "
                "they were filled with the feature mean."
            )
        transform = {"mean": mean, "std": std}
        input_shape = (int(np.prod(shape[1:])) if len(shape) > 1 else 1,)
        preprocessing = {"kind": VECTOR, "mean": mean.tolist(), "std": std.tolist(), "num_features": input_shape[0]}
    preprocessing["class_names"] = list(labels.class_names)
    preprocessing.update(target_stats(labels.values, splits["train"], labels.task))
    preprocessing.update(extra or {})
    loader = loader_type(x, image=image, **transform, **(loader_kwargs or {}))
    return Dataset(
        source=source,
        source_kind=source_kind,
        task=labels.task,
        input_kind=IMAGE if image else VECTOR,
        input_shape=input_shape,
        class_names=labels.class_names,
        labels=labels.values,
        splits=splits,
        loader=loader,
        problems=problems,
        feature_names=[] if image else [f"x{i}" for i in range(input_shape[0])],
        preprocessing=preprocessing,
    )


def check_inputs(shape: tuple[int, ...], dtype: str, source: str) -> None:
    if len(shape) == 0 or shape[0] == 0:
        raise DataError(
            f"The inputs in {printable(source)} are empty.", hint="Check that the right array was saved."
        )
    if dtype and np.dtype(dtype).kind not in "biuf":
        raise DataError(
            f"The inputs in {printable(source)} have data type {dtype}; Kiln needs numbers.",
            hint="Encode text inputs as numbers, or use a CSV file.",
        )
    if len(shape) > 4 or (len(shape) == 4 and shape[3] not in (1, 3, 4)):
        raise DataError(
            f"The inputs in {printable(source)} have shape {shape}, which is neither images nor feature rows.",
            hint="Use (samples, features), (samples, height, width) or (samples, height, width, 1|3|4 channels).",
        )


def _sample_rows(train: np.ndarray, seed: int, row_bytes: int, *, image: bool) -> np.ndarray:
    """Training rows to measure pixel range or feature statistics on, within a small read budget."""
    limit = 512 if image else _STATS_ROWS
    limit = max(1, min(limit, _STATS_BYTES // max(1, row_bytes)))
    if len(train) <= limit:
        return train
    return np.sort(np.random.default_rng(seed).choice(train, limit, replace=False))


def pixel_transform(sample: np.ndarray) -> tuple[float, float, str | None]:
    """``scale, offset`` that bring stored pixels to 0..255, and a note when they were changed."""
    kind = sample.dtype.kind
    if kind == "b":
        return 255.0, 0.0, "The images are stored as true/false pixels; they were scaled to 0..255."
    values = sample.astype(np.float64, copy=False)
    values = values[np.isfinite(values)] if kind == "f" else values  # NaN/inf pixels do not set the range
    low = float(np.min(values)) if values.size else 0.0
    high = float(np.max(values)) if values.size else 0.0
    if kind in "iu" and high > 255:
        return 255.0 / 65535.0, 0.0, "The images hold 16-bit pixels; they were scaled to 0..255."
    if kind == "f" and low >= -1.0 - 1e-6 and low < 0 and high <= 1.0 + 1e-6:
        return 127.5, 127.5, "The images hold pixels in -1..1; they were scaled to 0..255."
    if kind == "f" and high <= 1.0 + 1e-6:
        return 255.0, 0.0, "The images hold pixels in 0..1; they were scaled to 0..255."
    if high > 255:
        return 255.0 / high, 0.0, f"The images hold pixels up to {high:g}; they were scaled to 0..255."
    return 1.0, 0.0, None


def feature_stats(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-feature mean and standard deviation (1 where constant) and the count of missing values."""
    values = np.asarray(sample, dtype=np.float64).reshape(len(sample), -1)
    finite = np.isfinite(values)
    missing = int(values.size - np.count_nonzero(finite))
    if missing:  # infinite values are treated like missing ones
        values = np.where(finite, values, np.nan)
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(values, axis=0)) if len(values) else np.zeros(values.shape[1])
        std = np.nan_to_num(np.nanstd(values, axis=0)) if len(values) else np.ones(values.shape[1])
    std = np.where(std < 1e-12, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32), missing
