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

from engine.data.arrays import ArrayLoader, dataset_from_arrays, pick_keys
from engine.data.dataset import Dataset
from engine.errors import DataError

HDF5_SUFFIXES = frozenset({".h5", ".hdf5", ".hdf", ".he5"})


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

        from engine.data.loader import resize_batch

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
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(
            f"{path.name} is not a readable HDF5 file ({exc}).", hint="Check that the file is complete."
        ) from None
    with handle:
        names = _dataset_names(handle)
        x_name, y_name = pick_keys(names, x_key, y_key, path.name)
        x_data = handle[x_name]
        y = np.asarray(handle[y_name][()])  # labels are one value per sample: small enough to hold
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


def _dataset_names(handle: Any) -> list[str]:
    import h5py

    names: list[str] = []
    handle.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    return names
