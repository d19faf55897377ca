"""A folder of images, one subfolder per class, as a data source.

Every file is opened and fully decoded once while scanning, so broken files are found and
listed before training starts instead of failing it halfway. Decoding for training runs in
Pillow through parallel ``tf.numpy_function`` calls (see `ImageFileLoader`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.dataset import CLASSIFICATION, IMAGE, Dataset, SkippedFile
from engine.data.imagefile import BadImage, ImageInfo, decode_image, inspect_image, is_image_name
from engine.data.labels import align_classes
from engine.data.loader import BaseLoader
from engine.data.split import stratified_split
from engine.errors import DataError
from engine.events import EventSink, Progress

MAX_DEFAULT_SIDE = 64  # default input size for from-scratch models; callers usually pass their own
_WINDOW = 256  # files in flight at once while scanning, so cancelling is quick


class ImageFileLoader(BaseLoader):
    """Decodes image files with Pillow (see engine/data/imagefile.py) in parallel tf.data calls."""

    image = True
    chunk = 32

    def __init__(self, paths: list[str], *, channels: int, image_size: tuple[int, int]) -> None:
        self.paths = np.asarray(paths, dtype=object)
        self.channels = int(channels)
        self.image_size = (int(image_size[0]), int(image_size[1]))

    def sample_shape(self, image_size: tuple[int, int] | None) -> tuple[int, ...]:
        height, width = image_size or self.image_size
        return (int(height), int(width), self.channels)

    def decode(self, path: str | bytes, image_size: tuple[int, int] | None = None) -> np.ndarray:
        return decode_image(path, self.channels, image_size or self.image_size)

    def _load(self, indices: np.ndarray) -> np.ndarray:
        return self.read(indices)

    def read(self, indices: np.ndarray, image_size: tuple[int, int] | None = None) -> np.ndarray:
        shape = self.sample_shape(image_size)
        out = np.empty((len(indices), *shape), dtype=np.float32)
        for row, index in enumerate(np.asarray(indices, dtype=np.int64)):
            out[row] = self.decode(self.paths[index], shape[:2])
        return out

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

        shape = self.sample_shape(image_size)
        paths = [os.fsencode(p) for p in self.paths[np.asarray(indices, dtype=np.int64)]]
        ds = tf.data.Dataset.from_tensor_slices((tf.constant(paths, dtype=tf.string), np.asarray(labels)))
        if shuffle:  # shuffle file names, not decoded pictures: the buffer costs bytes, not megabytes
            ds = ds.shuffle(max(1, len(paths)), seed=seed, reshuffle_each_iteration=True)

        def load(path, label):
            pixels = tf.numpy_function(lambda p: self.decode(p, shape[:2]), [path], tf.uint8, stateful=False)
            pixels.set_shape(shape)
            return tf.cast(pixels, tf.float32), label

        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)


def load_image_folder(
    root: Path,
    *,
    val_split: float,
    test_split: float,
    seed: int,
    progress: EventSink | None = None,
    cancel: threading.Event | None = None,
    fitted: dict[str, Any] | None = None,
) -> Dataset:
    """Scan ``root``; ``fitted`` (a trained model's stored preprocessing) fixes channels, size and class order."""
    fitted = fitted if fitted and fitted.get("kind") == IMAGE else None
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    problems: list[str] = []
    loose = [p for p in root.iterdir() if p.is_file() and is_image_name(p)]
    if loose:
        problems.append(
            f"{len(loose)} image(s) directly in {root.name}/ were ignored: only images inside a class subfolder count."
        )
    candidates: list[tuple[str, Path]] = []
    others = 0
    for class_dir in class_dirs:
        for path in _files_under(class_dir):
            if is_image_name(path):
                candidates.append((class_dir.name, path))
            else:
                others += 1
    if others:
        problems.append(f"{others} file(s) in the class folders are not images by their name and were ignored.")
    if not class_dirs or not candidates:
        raise DataError(
            f"The folder {root} has no class subfolders with images in them.",
            hint="Make one subfolder per class (for example cats/ and dogs/) and put that class's images inside.",
        )

    infos = scan_files([path for _, path in candidates], progress=progress, cancel=cancel)
    skipped = [
        SkippedFile(str(path), info.reason)
        for (_, path), info in zip(candidates, infos, strict=False)
        if isinstance(info, BadImage)
    ]
    good = [
        (name, path, info) for (name, path), info in zip(candidates, infos, strict=False) if isinstance(info, ImageInfo)
    ]
    class_names = sorted({name for name, _, _ in good})
    empty = [d.name for d in class_dirs if d.name not in class_names]
    if empty:
        problems.append(f"Folder(s) without a usable image were left out as classes: {', '.join(empty)}.")
    if skipped:
        problems.append(f"{len(skipped)} file(s) skipped: {_describe_skipped(skipped, root)}.")
    if not good:
        raise DataError(
            f"None of the {len(candidates)} image file(s) under {root} could be read.",
            hint="See the skipped files for the reason of each.",
        )
    if len(class_names) < 2 and not fitted:  # evaluating a trained model on one class is fine
        raise DataError(
            f"The folder {root} has one class only ('{class_names[0]}'); a classifier needs at least two.",
            hint="Add a subfolder of images for each other class.",
        )

    lookup = {name: i for i, name in enumerate(class_names)}
    labels = np.array([lookup[name] for name, _, _ in good], dtype=np.int64)
    channels = 1 if all(info.gray for _, _, info in good) else 3
    size = default_image_size([(info.height, info.width) for _, _, info in good])
    if fitted:
        channels = int(fitted.get("channels", channels))
        size = tuple(int(s) for s in fitted.get("image_size", size))
        if fitted.get("class_names"):
            labels = align_classes(labels, class_names, list(fitted["class_names"]))
            class_names = list(fitted["class_names"])
    paths = [str(path) for _, path, _ in good]
    return Dataset(
        source=str(root),
        source_kind="images",
        task=CLASSIFICATION,
        input_kind=IMAGE,
        input_shape=(size[0], size[1], channels),
        class_names=class_names,
        labels=labels,
        splits=stratified_split(labels, val_fraction=val_split, test_fraction=test_split, seed=seed),
        loader=ImageFileLoader(paths, channels=channels, image_size=size),
        skipped=skipped,
        problems=problems,
        paths=paths,
        preprocessing={
            "kind": IMAGE,
            "channels": channels,
            "image_size": list(size),
            "pixel_scale": 1.0,
            "pixel_offset": 0.0,
            "decoder": "pillow",
            "resize": "bilinear",
            "transparency": "white",
            "class_names": list(class_names),
        },
    )


def scan_files(
    paths: list[Path], *, progress: EventSink | None = None, cancel: threading.Event | None = None
) -> list[ImageInfo | BadImage]:
    """Inspect every file (in threads: Pillow decodes without holding the GIL), in order."""
    total = len(paths)
    results: list[ImageInfo | BadImage] = []
    last_report = 0.0
    _report(progress, 0, total)
    workers = max(2, min(8, 2 * (os.cpu_count() or 2)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kiln-scan") as pool:
        for start in range(0, total, _WINDOW):
            _check_cancel(cancel)
            futures = [pool.submit(_inspect, path) for path in paths[start : start + _WINDOW]]
            for future in futures:
                if cancel is not None and cancel.is_set():
                    for pending in futures:
                        pending.cancel()
                    _check_cancel(cancel)
                results.append(future.result())
                now = time.monotonic()
                if now - last_report > 0.1:  # about ten events a second, however fast the scan
                    last_report = now
                    _report(progress, len(results), total)
    _report(progress, total, total)
    return results


def default_image_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The median picture size, scaled down (keeping its shape) to at most 64 pixels a side."""
    height, width = (float(v) for v in np.median(np.asarray(sizes, dtype=np.float64), axis=0))
    scale = min(1.0, MAX_DEFAULT_SIDE / max(height, width))
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def _inspect(path: Path) -> ImageInfo | BadImage:
    try:
        return inspect_image(path)
    except BadImage as bad:
        return bad


def _files_under(folder: Path) -> Iterator[Path]:
    """Files in ``folder`` and its subfolders (nested folders belong to the same class), sorted."""
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(current) / name


def _describe_skipped(skipped: list[SkippedFile], root: Path, show: int = 3) -> str:
    parts = []
    for item in skipped[:show]:
        try:
            where = Path(item.path).relative_to(root).as_posix()
        except ValueError:
            where = item.path
        parts.append(f"{where} ({item.reason})")
    more = len(skipped) - show
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _report(progress: EventSink | None, done: int, total: int) -> None:
    if progress is not None:
        progress(Progress(task="scan", done=done, total=total, message=f"Checked {done} of {total} images"))


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DataError("Scanning was cancelled.")
