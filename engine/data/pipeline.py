"""tf.data pipelines over a `Dataset`: split, decode in parallel, resize, cache, shuffle, batch,
augment (training only), prefetch.

Order matters. Without a cache, indices are shuffled afresh every epoch before decoding
(the shuffle buffer holds numbers, not pictures). With a cache, the training indices are
shuffled once before decoding, so the cache (memory or disk) is filled in a random order and
every window of it mixes the classes; after the cache a shuffle with a bounded buffer
(`SHUFFLE_BUFFER_BYTES`) reshuffles each later epoch. The first epoch streams straight from
the decoders in that random order (`Pipelines.train_stream`), so the first batch comes at
once. Training samples are cached in blocks of batch_size / 8, which a later epoch
shuffles and regroups into batches (fewer elements to move). Image files are cached as
uint8 (a quarter of float32) and cast after the cache. A source larger than the memory
budget (a quarter of the memory available now) is cached on disk or streamed, never held whole.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from kiln_lab.engine.data.augment import augmentation_layers
from kiln_lab.engine.data.config import CACHE_MODES
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.numpy_batches import numpy_pipelines
from kiln_lab.engine.data.pipeline_types import Pipelines
from kiln_lab.engine.errors import DataError

FALLBACK_MEMORY_BUDGET = 2**30  # when the available memory cannot be read
SHUFFLE_BUFFER_BYTES = 64 * 2**20  # decoded samples the shuffle after a cache may hold (at most the budget)
_cache_dir: str | None = None
_cache_names = itertools.count()


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
        cache: "auto" (memory when it fits the memory budget, a quarter of the available memory,
            else disk when it fits half the free disk, else none), "memory", "disk" or "none".

    Images come out float32 in 0..255, vectors float32 already encoded; ``y`` is int64 class
    indices (classification) or float32 targets (regression).
    """
    from kiln_lab.engine.runtime import tensorflow_backend

    if not tensorflow_backend():  # Keras on JAX / PyTorch: NumPy batches, no tf.data (engine/data/numpy_batches.py)
        return numpy_pipelines(dataset, batch_size=batch_size, image_size=image_size, augment=augment, seed=seed)
    import tensorflow as tf

    if batch_size < 1:
        raise DataError(f"The batch size must be at least 1, not {batch_size}.")
    if cache not in CACHE_MODES:
        raise DataError(f"Unknown cache setting '{cache}'.", hint=f"Use one of: {', '.join(CACHE_MODES)}.")
    image = dataset.input_kind == "image"
    size = tuple(int(s) for s in (image_size or dataset.input_shape[:2])) if image else None
    raw = bool(getattr(dataset.loader, "raw_pixels", False))  # uint8 pixels: cache those, cast after
    element_bytes = (1 if raw else 4) * int(np.prod(_sample_shape(dataset, size)))
    total = sum(len(idx) for idx in dataset.splits.values())
    estimated = element_bytes * total
    mode = choose_cache(cache, estimated)
    augmenter = augmentation_layers(augment, seed=seed) if image else None
    label_dtype = np.int64 if dataset.is_classification else np.float32
    # AutoGraph parses a lambda's whole source file to convert it (0.3 s each on a 2-core machine,
    # paid before the first batch); these are plain graph code and need no converting.
    plain = tf.autograph.experimental.do_not_convert

    # Image files: tf.data's default graph rewrites cost ~20 ms of CPU each time an iterator is
    # made (before the first batch) and bought no throughput here: the decode maps are parallel
    # and prefetched already (docs/PERFORMANCE.md, round 6).
    lean = tf.data.Options()
    lean.experimental_optimization.apply_default_optimizations = False

    def as_float(ds):
        if not raw:
            return ds
        from kiln_lab.engine.data.hostmap import host_map

        # A cast on the host: its map starts without the multi-device set-up (engine/data/hostmap.py).
        return host_map(ds, plain(lambda x, y: (tf.cast(x, tf.float32), y)))

    def finish(ds, training: bool, blocks: bool = False, count: int = 0):
        if blocks:
            ds = ds.rebatch(batch_size)
            if not getattr(dataset.loader, "may_drop", False):  # rebatch hides the length; Keras wants it
                ds = ds.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
        else:
            ds = ds.batch(batch_size)
        ds = as_float(ds)
        if training and augmenter is not None:
            ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        return ds.with_options(lean) if raw else ds

    streams: dict[str, Any] = {}

    def build(split: str, training: bool):
        indices = dataset.splits.get(split)
        if indices is None or len(indices) == 0:
            return None
        indices = np.asarray(indices)
        if training and mode != "none":  # fill the cache in a random order: any window of it mixes classes
            indices = indices[np.random.default_rng(seed).permutation(len(indices))]
        labels = dataset.labels[indices].astype(label_dtype)
        # Training caches small blocks of samples: a later epoch shuffles and regroups blocks, a
        # few times fewer elements than samples to move, and each batch still draws on
        # batch_size / block places of the cache. Image files come in blocks anyway (whole
        # batches where nothing is reshuffled), each pass ending in an empty one (its end check).
        block = max(1, batch_size // 8) if training and mode != "none" else (batch_size if raw else 1)
        shuffle = training and mode == "none"
        if raw:
            ds = dataset.loader.tf_pairs(indices, labels, size, shuffle=shuffle, seed=seed, raw=True, block=block)
        else:
            ds = _pairs(dataset, indices, labels, size, shuffle=shuffle, seed=seed)
            if block > 1:
                ds = ds.batch(block)
        regroup = raw or block > 1
        n = len(indices)
        if mode == "memory":
            ds = ds.cache()
        elif mode == "disk":
            ds = ds.cache(_cache_file(split))
        if not training:
            return finish(ds, False, regroup, n)
        if mode == "none":
            streams[split] = finish(ds, True, regroup, n).repeat()
            return finish(ds, True, regroup, n)
        # The buffer counts against the memory budget too (past it, memory stays flat in the data size).
        buffer_bytes = min(SHUFFLE_BUFFER_BYTES, memory_budget())
        buffer = min(len(indices), max(batch_size * 4, buffer_bytes // element_bytes))
        later = ds.shuffle(max(1, buffer // block), seed=seed, reshuffle_each_iteration=True)
        # Epoch 1 reads the decoders in the (already random) fill order; later epochs, from the
        # cache, reshuffle through the bounded buffer, which refills quickly from the cache.
        later_epochs = finish(later, True, regroup, n)  # one graph for both: each map is traced anew
        streams[split] = finish(ds, True, regroup, n).concatenate(later_epochs.repeat())
        return later_epochs

    return Pipelines(
        train=build("train", True),
        val=build("val", False),
        test=build("test", False),
        steps_per_epoch=int(np.ceil(len(dataset.splits["train"]) / batch_size)),
        image_size=size,
        cache=mode,
        estimated_bytes=int(estimated),
        train_stream=streams.get("train"),
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
    """A quarter of the memory available now (``KILN_CACHE_MEMORY_MB`` sets it instead; 1 GiB when
    the available memory cannot be read). Available, not free: the page cache counts as usable."""
    stated = os.environ.get("KILN_CACHE_MEMORY_MB")
    if stated:
        try:
            return max(0, int(float(stated) * 2**20))
        except ValueError:
            pass
    available = available_memory()
    return int(available // 4) if available > 0 else FALLBACK_MEMORY_BUDGET


def available_memory() -> int:
    """Bytes the system can give without swapping (MemAvailable), or 0 when it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil is optional; any failure means "unknown"
        return 0


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
    if getattr(loader, "may_drop", False):  # a file that fails to decode is left out: no length to promise
        return ds
    # Chunked reads (unbatch, generators) hide the length; Keras needs it for progress bars
    # and would otherwise warn that the input "ran out of data" at the end of every first epoch.
    return ds.apply(tf.data.experimental.assert_cardinality(len(indices)))
