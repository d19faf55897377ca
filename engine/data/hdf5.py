"""HDF5 files as a data source, streamed from disk in index chunks (never read whole).

Labels (one value per sample) are read into memory; inputs stay in the file and a
``tf.data`` generator reads them ``chunk`` samples at a time. Training order is shuffled by
chunk and within each chunk, which keeps reads close to sequential.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data.array_names import pick_keys
from kiln_lab.engine.data.arrays import ArrayLoader, dataset_from_arrays
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.files import check_regular_file, human_bytes, memory_budget, printable
from kiln_lab.engine.errors import DataError

HDF5_SUFFIXES = frozenset({".h5", ".hdf5", ".hdf", ".he5"})
# Compression rarely packs real data more than ~1000:1 (deflate's limit is about 1032:1); a
# dataset declaring 10,000 times what the file stores is mostly never-written fill values.
_MAX_PACKING = 10_000
_UNWRITTEN_ALLOWANCE = 64 * 2**20  # small datasets may be unwritten fill values: harmless
# What h5py raises for a damaged file: its C library's errors arrive as these.
_DAMAGED = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError)


class H5Array:
    """A lazily opened HDF5 dataset with NumPy-style row indexing (the file opens on first read)."""

    def __init__(self, path: str | Path, key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path = str(path)
        self.key = key
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._file: Any = None

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        import h5py

        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file[self.key][index]

    def __getstate__(self) -> dict[str, Any]:  # open handles do not pickle; reopen on the other side
        return {**self.__dict__, "_file": None}


class HDF5Loader(ArrayLoader):
    """`ArrayLoader` over an `H5Array`, streaming through a chunked ``tf.data`` generator."""

    chunk = 256

    def tf_pairs(
        self,
        indices: np.ndarray,
        labels: np.ndarray,
        image_size: tuple[int, int] | None,
        *,
        shuffle: bool = False,
        seed: int | None = None,
    ):
        import tensorflow as tf

        from kiln_lab.engine.data.loader import resize_batch

        indices = np.asarray(indices, dtype=np.int64)
        labels = np.asarray(labels)
        starts = list(range(0, len(indices), self.chunk))
        epochs = itertools.count()
        shape = self.sample_shape(None)
        out_shape = self.sample_shape(image_size)

        def generate():
            rng = np.random.default_rng(None if seed is None else seed + next(epochs))
            order = rng.permutation(len(starts)) if shuffle else range(len(starts))
            for position in order:
                chunk_indices = indices[starts[position] : starts[position] + self.chunk]
                chunk_labels = labels[starts[position] : starts[position] + self.chunk]
                if shuffle:
                    mix = rng.permutation(len(chunk_indices))
                    chunk_indices, chunk_labels = chunk_indices[mix], chunk_labels[mix]
                yield self._load(chunk_indices), chunk_labels

        signature = (
            tf.TensorSpec((None, *shape), tf.float32),
            tf.TensorSpec((None,), tf.as_dtype(labels.dtype)),
        )
        ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
        if self.image and tuple(out_shape[:2]) != tuple(shape[:2]):
            ds = ds.map(lambda x, y: (resize_batch(x, out_shape[:2]), y), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.unbatch()
        if shuffle:  # mixes neighbouring chunks too, at the memory cost of two chunks
            ds = ds.shuffle(2 * self.chunk, seed=seed, reshuffle_each_iteration=True)
        return ds


def load_hdf5(
    path: Path,
    *,
    x_key: str,
    y_key: str,
    val_split: float,
    test_split: float,
    seed: int,
    fitted: dict[str, Any] | None = None,
) -> Dataset:
    """Describe an HDF5 file's inputs and labels, reading only this file and only what fits.

    Refused with a sentence, before any data is read: links to other files, datasets stored
    in external raw files or mapped from other files (virtual datasets), labels larger than
    the memory budget, and datasets that declare far more data than the file stores (most of
    it never written). A damaged file is refused too, whatever HDF5 error it causes.
    """
    name = printable(path.name)
    check_regular_file(path, what="HDF5 file")
    try:
        return _load_checked(path, name, x_key, y_key, val_split, test_split, seed, fitted)
    except DataError:
        raise
    except _DAMAGED as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{name} is damaged and cannot be read ({printable(detail)}).", hint="Copy or save the file again."
        ) from None


def _load_checked(
    path: Path,
    name: str,
    x_key: str,
    y_key: str,
    val_split: float,
    test_split: float,
    seed: int,
    fitted: dict[str, Any] | None,
) -> Dataset:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(
            f"{name} is not a readable HDF5 file ({printable(exc)}).", hint="Check that the file is complete."
        ) from None
    with handle:
        names = _local_dataset_names(handle, name)
        x_name, y_name = pick_keys(names, x_key, y_key, name)
        x_data, y_data = handle[x_name], handle[y_name]
        for key, data in ((x_name, x_data), (y_name, y_data)):
            _check_stored_here(data, key, name)
        budget = memory_budget()
        y_bytes = int(np.prod(y_data.shape, dtype=object)) * y_data.dtype.itemsize
        if y_bytes > budget:
            raise DataError(
                f"The labels '{printable(y_name)}' in {name} declare shape {tuple(y_data.shape)} "
                f"({human_bytes(y_bytes)}), more than the {human_bytes(budget)} Kiln can hold in memory here.",
                hint="Check the file: labels are one value per sample.",
            )
        for key, data in ((y_name, y_data), (x_name, x_data)):
            _check_written(data, key, name)
        if len(y_data.shape) and len(x_data.shape) and y_data.shape[0] != x_data.shape[0]:
            raise DataError(
                f"The inputs in {name} have {x_data.shape[0]} samples but the labels have {y_data.shape[0]}.",
                hint="Each sample needs exactly one label: make both datasets the same length.",
            )
        try:
            y = np.asarray(y_data[()])  # labels are one value per sample: small enough to hold
        except (OSError, ValueError, TypeError) as exc:
            raise DataError(
                f"The labels '{printable(y_name)}' in {name} cannot be read ({printable(exc)}).",
                hint="Check that the file is complete.",
            ) from None
        x = H5Array(path, x_name, x_data.shape, x_data.dtype)
    return dataset_from_arrays(
        x,
        y,
        source=str(path),
        source_kind="hdf5",
        val_split=val_split,
        test_split=test_split,
        seed=seed,
        loader_type=HDF5Loader,
        extra={"x_key": x_name, "y_key": y_name},
        fitted=fitted,
    )


def _local_dataset_names(handle: Any, name: str) -> list[str]:
    """Datasets reached through hard or soft links; refuses a file that links to another file.

    Like Keras for weight files, Kiln follows no external link: one anywhere in the file is
    refused before any dataset is opened, so a soft link cannot lead through one either.
    """
    import h5py

    names: list[str] = []

    def visit(member: str, link: Any) -> Any:
        if isinstance(link, h5py.ExternalLink):
            return member, link.filename  # stops the walk; raising inside h5py's callback is not safe
        # A soft link names a path inside this same file (no external link exists, see above).
        if isinstance(link, (h5py.HardLink, h5py.SoftLink)) and isinstance(handle.get(member), h5py.Dataset):
            names.append(member)
        return None

    external = handle.visititems_links(visit)
    if external is not None:
        member, filename = external
        raise DataError(
            f"{name} links '{printable(member)}' to another file ({printable(filename)}); "
            "Kiln reads only the file you chose.",
            hint="Copy the data into this file (h5py: f.copy), or choose the other file itself.",
        )
    return names


def _check_stored_here(data: Any, key: str, name: str) -> None:
    """Refuse a group, a virtual dataset, or one whose bytes live in external raw files."""
    import h5py

    if not isinstance(data, h5py.Dataset):
        raise DataError(f"'{printable(key)}' in {name} is a group, not a dataset.", hint="Name a dataset.")
    if data.is_virtual:
        raise DataError(
            f"'{printable(key)}' in {name} is a virtual dataset mapped from other files; "
            "Kiln reads only the file you chose.",
            hint="Save the data itself into the file (read the virtual dataset and write a plain copy).",
        )
    if data.external:
        raise DataError(
            f"'{printable(key)}' in {name} keeps its values in external raw files "
            f"({printable(', '.join(str(entry[0]) for entry in data.external))}); Kiln reads only the file you chose.",
            hint="Save the data itself into the HDF5 file.",
        )


def _check_written(data: Any, key: str, name: str) -> None:
    """Refuse a dataset that declares far more data than the file stores (never written)."""
    declared = int(np.prod(data.shape, dtype=object)) * data.dtype.itemsize if data.shape else data.dtype.itemsize
    stored = int(data.id.get_storage_size())
    if declared > _UNWRITTEN_ALLOWANCE and declared > _MAX_PACKING * max(stored, 1):
        raise DataError(
            f"'{printable(key)}' in {name} declares shape {tuple(data.shape)} ({human_bytes(declared)}) but the "
            f"file stores only {human_bytes(stored)} of it: most of it was never written.",
            hint="Check that the file was written completely.",
        )
