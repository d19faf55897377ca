"""Shared plumbing for sample loaders: index bookkeeping, resizing and the tf.data pairing.

Each source's loader implements ``_load(indices)`` (raw samples in the requested order, as
float32, already scaled/encoded but not resized) and picks how ``tf_pairs`` streams. The
pipeline calls ``tf_pairs`` so that shuffling happens on indices (cheap) before any sample is
decoded, and ``x`` and ``y`` can never drift apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def resize_batch(batch: Any, image_size: tuple[int, int] | None) -> Any:
    """Resize an ``(N, H, W, C)`` tensor/array with antialiasing (area-correct when shrinking)."""
    if image_size is None:
        return batch
    from kiln_lab.engine.runtime import tensorflow_backend

    if not tensorflow_backend():  # NumPy batches under JAX / PyTorch: Keras's own resize, back to NumPy
        import keras

        resized = keras.ops.image.resize(batch, tuple(int(s) for s in image_size), antialias=True)
        return np.asarray(keras.ops.convert_to_numpy(resized), dtype=np.float32)
    import tensorflow as tf

    return tf.image.resize(batch, tuple(int(s) for s in image_size), method="bilinear", antialias=True)


def sorted_read(indices: np.ndarray, read_sorted: Any) -> np.ndarray:
    """Read rows in any order (with repeats) through a reader that wants increasing unique indices.

    Memory maps and HDF5 read fastest (HDF5 only works) with sorted, unique indices.
    """
    indices = np.asarray(indices, dtype=np.int64)
    unique, inverse = np.unique(indices, return_inverse=True)
    return read_sorted(unique)[inverse]


class BaseLoader:
    """Common `SampleLoader` behaviour in terms of ``_load``; see engine/data/dataset.py."""

    image: bool = False
    chunk: int = 256  # samples per read when streaming in chunks

    def _load(self, indices: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def sample_shape(self, image_size: tuple[int, int] | None) -> tuple[int, ...]:
        """Shape of one element that ``tf_dataset`` yields for ``image_size``."""
        raise NotImplementedError

    def read(self, indices: np.ndarray, image_size: tuple[int, int] | None = None) -> np.ndarray:
        batch = self._load(np.asarray(indices, dtype=np.int64))
        if self.image and image_size is not None and tuple(batch.shape[1:3]) != tuple(image_size):
            batch = np.asarray(resize_batch(batch, image_size), dtype=np.float32)
        return batch

    def tf_dataset(self, indices: np.ndarray, image_size: tuple[int, int] | None):
        import tensorflow as tf

        labels = np.zeros(len(indices), dtype=np.int64)
        ds = self.tf_pairs(indices, labels, image_size).map(tf.autograph.experimental.do_not_convert(lambda x, y: x))
        # Chunked reads hide the length; Keras wants it (progress, no "ran out of data" warning).
        return ds.apply(tf.data.experimental.assert_cardinality(len(indices)))

    def tf_pairs(
        self,
        indices: np.ndarray,
        labels: np.ndarray,
        image_size: tuple[int, int] | None,
        *,
        shuffle: bool = False,
        seed: int | None = None,
    ):
        """Unbatched ``(x, y)`` for ``indices``; with ``shuffle`` a fresh order every iteration.

        The default reads chunks of indices with parallel ``numpy_function`` calls, which
        suits arrays in memory and memory maps.
        """
        import tensorflow as tf

        shape = self.sample_shape(None)
        out_shape = self.sample_shape(image_size)
        ds = tf.data.Dataset.from_tensor_slices((np.asarray(indices, np.int64), labels))
        if shuffle:
            ds = ds.shuffle(max(1, len(indices)), seed=seed, reshuffle_each_iteration=True)

        @tf.autograph.experimental.do_not_convert  # plain graph code: AutoGraph would only re-parse it (slow)
        def load(index_chunk, label_chunk):
            x = tf.numpy_function(self._load, [index_chunk], tf.float32, stateful=False)
            x.set_shape((None, *shape))
            if self.image and tuple(out_shape[:2]) != tuple(shape[:2]):
                x = resize_batch(x, out_shape[:2])
            return x, label_chunk

        ds = ds.batch(self.chunk).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.unbatch()
