"""NumPy batches for Keras's JAX and PyTorch backends, where tf.data does not apply.

`make_pipelines` comes here when Keras does not run on TensorFlow (TensorFlow may not even be
installed). Each split becomes a `keras.utils.PyDataset` that reads its batches through the
source's own `loader.read(indices, image_size)`: arrays, CSV and the demos are in memory
already; image folders decode with Pillow batch by batch (no decoded cache, so every epoch
decodes again: slower than the TensorFlow pipeline, but it needs no TensorFlow). Training
order is reshuffled every epoch from the seed; augmentation runs the same Keras layers as
the TensorFlow pipeline, on each training batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln_lab.engine.data.augment import augmentation_layers
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.pipeline_types import Pipelines
from kiln_lab.engine.errors import DataError


def numpy_pipelines(
    dataset: Dataset,
    *,
    batch_size: int,
    image_size: tuple[int, int] | None = None,
    augment: Any = None,
    seed: int = 42,
) -> Pipelines:
    """`Pipelines` whose splits are `keras.utils.PyDataset`s of NumPy batches."""
    if batch_size < 1:
        raise DataError(f"The batch size must be at least 1, not {batch_size}.")
    image = dataset.input_kind == "image"
    size = tuple(int(s) for s in (image_size or dataset.input_shape[:2])) if image else None
    augmenter = augmentation_layers(augment, seed=seed) if image else None
    label_dtype = np.int64 if dataset.is_classification else np.float32

    def build(split: str, training: bool) -> Any:
        indices = dataset.splits.get(split)
        if indices is None or len(indices) == 0:
            return None
        return numpy_batches(
            dataset.loader,
            np.asarray(indices, dtype=np.int64),
            dataset.labels[indices].astype(label_dtype),
            batch_size=batch_size,
            image_size=size,
            shuffle=training,
            seed=seed,
            augmenter=augmenter if training else None,
        )

    sample = int(np.prod(dataset.input_shape if size is None else (*size, *dataset.input_shape[2:])))
    return Pipelines(
        train=build("train", True),
        val=build("val", False),
        test=build("test", False),
        steps_per_epoch=int(np.ceil(len(dataset.splits["train"]) / batch_size)),
        image_size=size,
        cache="none",
        estimated_bytes=4 * sample * sum(len(idx) for idx in dataset.splits.values()),
    )


def numpy_batches(
    loader: Any,
    indices: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    image_size: tuple[int, int] | None,
    shuffle: bool,
    seed: int,
    augmenter: Any = None,
) -> Any:
    """One split as a `keras.utils.PyDataset` of ``(x, y)`` NumPy batches (x float32)."""
    import keras

    class NumpyBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()  # one worker: reads from memory are faster than a thread hand-off
            self._rng = np.random.default_rng(seed)
            self._order = self._rng.permutation(len(indices)) if shuffle else np.arange(len(indices))

        def __len__(self) -> int:
            return int(np.ceil(len(indices) / batch_size))

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            rows = self._order[index * batch_size : (index + 1) * batch_size]
            x = np.asarray(loader.read(indices[rows], image_size), dtype=np.float32)
            if augmenter is not None:
                x = np.asarray(keras.ops.convert_to_numpy(augmenter(x, training=True)), dtype=np.float32)
            return x, labels[rows]

        def on_epoch_end(self) -> None:
            if shuffle:
                self._order = self._rng.permutation(len(indices))

    return NumpyBatches()


def input_batches(loader: Any, indices: np.ndarray, image_size: tuple[int, int] | None, batch_size: int) -> Any:
    """Batches of inputs only (no labels) for ``model.predict``, on any Keras backend.

    TensorFlow: the loader's tf.data pipeline. JAX / PyTorch: a `keras.utils.PyDataset` of
    NumPy batches read through ``loader.read``, in the order of ``indices``.
    """
    from kiln_lab.engine.runtime import tensorflow_backend

    if tensorflow_backend():
        return loader.tf_dataset(indices, image_size).batch(batch_size)
    import keras

    indices = np.asarray(indices, dtype=np.int64)

    class InputBatches(keras.utils.PyDataset):
        def __len__(self) -> int:
            return int(np.ceil(len(indices) / batch_size))

        def __getitem__(self, index: int) -> tuple[np.ndarray]:
            rows = indices[index * batch_size : (index + 1) * batch_size]
            return (np.asarray(loader.read(rows, image_size), dtype=np.float32),)

    return InputBatches()
