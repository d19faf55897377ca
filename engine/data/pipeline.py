"""tf.data pipelines over a `Dataset`: split, decode in parallel, resize, cache, shuffle, batch,
augment (training only), prefetch.

Order matters: shuffling happens on indices before decoding when nothing is cached (so the
shuffle buffer holds numbers, not pictures), and after the cache otherwise (a cache replays
its first pass in the same order). A source larger than the memory budget is cached on disk
or streamed, never held whole.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data.augment import augmentation_layers
from engine.data.config import CACHE_MODES
from engine.data.dataset import Dataset
from engine.errors import DataError

FALLBACK_MEMORY_BUDGET = 2**30  # when the free memory cannot be read
SHUFFLE_BUFFER_BYTES = 256 * 2**20  # decoded samples a shuffle after a disk cache may hold
_cache_dir: str | None = None
_cache_names = itertools.count()


@dataclass
class Pipelines:
    train: Any  # tf.data.Dataset of (x, y) batches
    val: Any | None
    test: Any | None
    steps_per_epoch: int
    image_size: tuple[int, int] | None
    cache: str = "none"  # where decoded samples are kept: memory | disk | none
    estimated_bytes: int = 0  # decoded size of all splits as float32


def make_pipelines(
    dataset: Dataset,
    *,
    batch_size: int,
    image_size: tuple[int, int] | None = None,
    augment: Any = None,
    seed: int = 42,
    cache: str = "auto",
) -> Pipelines:
    """Batched ``(x, y)`` pipelines for the train/val/test splits of ``dataset``.

    Args:
        batch_size: samples per batch.
        image_size: ``(height, width)`` images are resized to; None keeps the dataset's own size.
        augment: an `AugmentConfig` (or None); applied to training batches of images only.
        seed: seeds the shuffling and the augmentation.
        cache: "auto" (memory when it fits the memory budget, else disk when it fits half the free
            disk, else none), "memory", "disk" or "none".

    Images come out float32 in 0..255, vectors float32 already encoded; ``y`` is int64 class
    indices (classification) or float32 targets (regression).
    """
    import tensorflow as tf

    if batch_size < 1:
        raise DataError(f"The batch size must be at least 1, not {batch_size}.")
    if cache not in CACHE_MODES:
        raise DataError(f"Unknown cache setting '{cache}'.", hint=f"Use one of: {', '.join(CACHE_MODES)}.")
    image = dataset.input_kind == "image"
    size = tuple(int(s) for s in (image_size or dataset.input_shape[:2])) if image else None
    element_bytes = 4 * int(np.prod(_sample_shape(dataset, size)))
    total = sum(len(idx) for idx in dataset.splits.values())
    estimated = element_bytes * total
    mode = choose_cache(cache, estimated)
    augmenter = augmentation_layers(augment, seed=seed) if image else None
    label_dtype = np.int64 if dataset.is_classification else np.float32

    def build(split: str, training: bool):
        indices = dataset.splits.get(split)
        if indices is None or len(indices) == 0:
            return None
        labels = dataset.labels[indices].astype(label_dtype)
        ds = _pairs(dataset, indices, labels, size, shuffle=training and mode == "none", seed=seed)
        if mode == "memory":
            ds = ds.cache()
        elif mode == "disk":
            ds = ds.cache(_cache_file(split))
        if training and mode != "none":
            buffer = len(indices) if mode == "memory" else max(batch_size * 4, SHUFFLE_BUFFER_BYTES // element_bytes)
            ds = ds.shuffle(min(len(indices), buffer), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
        if training and augmenter is not None:
            ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    return Pipelines(
        train=build("train", True),
        val=build("val", False),
        test=build("test", False),
        steps_per_epoch=int(np.ceil(len(dataset.splits["train"]) / batch_size)),
        image_size=size,
        cache=mode,
        estimated_bytes=int(estimated),
    )


def choose_cache(requested: str, estimated_bytes: int) -> str:
    """Where to keep decoded samples: "auto" picks memory while they fit the memory budget, else
    disk while they fit half the free disk space, else nothing (decode again every epoch)."""
    if requested != "auto":
        return requested
    if estimated_bytes <= memory_budget():
        return "memory"
    return "disk" if estimated_bytes <= disk_budget() else "none"


def disk_budget() -> int:
    """Half the free space where disk caches go."""
    try:
        return shutil.disk_usage(os.environ.get("KILN_CACHE_DIR") or tempfile.gettempdir()).free // 2
    except OSError:
        return 0


def memory_budget() -> int:
    """A quarter of the memory available now (1 GiB when that cannot be read)."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        try:
            import psutil

            available = psutil.virtual_memory().available
        except Exception:
            return FALLBACK_MEMORY_BUDGET
    return int(available // 4) if available > 0 else FALLBACK_MEMORY_BUDGET


def cache_dir() -> str:
    """This process's folder for disk caches (``KILN_CACHE_DIR`` picks its parent); removed at exit."""
    global _cache_dir
    if _cache_dir is None:
        parent = os.environ.get("KILN_CACHE_DIR") or None
        if parent:
            os.makedirs(parent, exist_ok=True)
        _cache_dir = tempfile.mkdtemp(prefix="kiln-cache-", dir=parent)
        atexit.register(shutil.rmtree, _cache_dir, True)
    return _cache_dir


def _cache_file(split: str) -> str:
    # A fresh name per pipeline: two runs in one process never share a half-written cache.
    return os.path.join(cache_dir(), f"{split}-{next(_cache_names)}")


def _sample_shape(dataset: Dataset, size: tuple[int, int] | None) -> tuple[int, ...]:
    shape_of = getattr(dataset.loader, "sample_shape", None)
    if shape_of is not None:
        return tuple(shape_of(size))
    if size is not None:
        return (*size, *dataset.input_shape[2:])
    return tuple(dataset.input_shape)


def _pairs(dataset: Dataset, indices, labels, size, *, shuffle: bool, seed: int):
    import tensorflow as tf

    loader = dataset.loader
    if hasattr(loader, "tf_pairs"):
        ds = loader.tf_pairs(indices, labels, size, shuffle=shuffle, seed=seed)
    else:  # a loader with only the protocol's tf_dataset: zip, then shuffle decoded pairs
        ds = tf.data.Dataset.zip((loader.tf_dataset(indices, size), tf.data.Dataset.from_tensor_slices(labels)))
        if shuffle:
            ds = ds.shuffle(min(len(indices), 10_000), seed=seed, reshuffle_each_iteration=True)
    # Chunked reads (unbatch, generators) hide the length; Keras needs it for progress bars
    # and would otherwise warn that the input "ran out of data" at the end of every first epoch.
    return ds.apply(tf.data.experimental.assert_cardinality(len(indices)))
