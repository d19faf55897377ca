"""A folder of images, one subfolder per class, as a data source.

The scan reads every file's header, not its pixels: size, colour, and which decoder will
read it (see engine/data/imagefile.py). Files that are empty, not images, truncated, too
large or not regular files are listed as skipped before training starts; a file whose data
turns out to be corrupt while decoding is skipped then, and reported (`ImageFileLoader.late_skips`).
Decoding for training runs in tf.data (engine/data/imagedecode.py).
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

from kiln_lab.engine.data.dataset import CLASSIFICATION, IMAGE, Dataset, SkippedFile
from kiln_lab.engine.data.imagefile import BadImage, ImageInfo, inspect_image, is_image_name, jpeg_ratio
from kiln_lab.engine.data.labels import align_classes
from kiln_lab.engine.data.loader import BaseLoader
from kiln_lab.engine.data.split import stratified_split
from kiln_lab.engine.errors import DataError
from kiln_lab.engine.events import EventSink, Progress

MAX_DEFAULT_SIDE = 64  # default input size for from-scratch models; callers usually pass their own
_WINDOW = 256  # files read between progress reports (and in flight at once in threads)
_PROBE = 32  # the first files, read in one thread to see whether the reads wait on a disk
SLOW_FILE_S = 0.0005  # a header read slower than this on average waits on the disk or network
_HEADERS: dict[tuple, ImageInfo | BadImage] = {}  # header facts by (path, inode, size, times); see _inspect
_HEADERS_LIMIT = 500_000  # about 100 MB of entries
DECODER = "tensorflow"  # preprocessing["decoder"] of new runs; "pillow" = decoded and resized by Pillow


class ImageFileLoader(BaseLoader):
    """Decodes image files in parallel tf.data calls, each with the decoder its scan chose.

    ``tf_pairs(..., raw=True)`` yields uint8 pixels, which is what the pipeline caches.
    """

    image = True
    raw_pixels = True  # tf_pairs can yield uint8 (cache those, cast after)
    may_drop = True  # a file that fails to decode is left out, so the length is not promised

    def __init__(
        self,
        paths: list[str],
        *,
        channels: int,
        image_size: tuple[int, int],
        infos: list[ImageInfo] | None = None,
        legacy_pillow: bool = False,
    ) -> None:
        self.paths = np.asarray(paths, dtype=object)
        self.channels = int(channels)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        infos = infos if infos is not None else [inspect_image(p) for p in paths]
        self.decoders = np.array([info.decoder for info in infos], dtype=np.int32)
        self.heights = np.array([info.height for info in infos], dtype=np.int64)
        self.widths = np.array([info.width for info in infos], dtype=np.int64)
        self.legacy_pillow = legacy_pillow
        self.late_skips: list[SkippedFile] = []
        self._late_lock = threading.Lock()

    def sample_shape(self, image_size: tuple[int, int] | None) -> tuple[int, ...]:
        height, width = image_size or self.image_size
        return (int(height), int(width), self.channels)

    def record_skip(self, path: str, reason: str) -> None:
        """Called from decoding threads when a file fails; each file is reported once."""
        with self._late_lock:
            if all(item.path != path for item in self.late_skips):
                self.late_skips.append(SkippedFile(path, reason))

    def read(self, indices: np.ndarray, image_size: tuple[int, int] | None = None) -> np.ndarray:
        """The same pixels as the pipeline, as float32; a file that fails to decode reads as zeros."""
        indices = np.asarray(indices, dtype=np.int64)
        from kiln_lab.engine.runtime import tensorflow_backend

        if not tensorflow_backend():  # Keras on JAX / PyTorch without tf.data: Pillow decodes and resizes
            from kiln_lab.engine.data.imagefile import decode_image

            size = self.sample_shape(image_size)[:2]
            return np.stack([decode_image(self.paths[i], self.channels, size) for i in indices]).astype(np.float32)
        out = np.zeros((len(indices), *self.sample_shape(image_size)), dtype=np.float32)
        rows = np.arange(len(indices))
        for start in range(0, len(indices), 256):
            chunk = slice(start, start + 256)
            for pixels, row in self.tf_pairs(indices[chunk], rows[chunk], image_size, raw=True, block=64):
                out[row.numpy()] = pixels.numpy()
        return out

    def _load(self, indices: np.ndarray) -> np.ndarray:
        return self.read(indices)

    def tf_pairs(
        self,
        indices: np.ndarray,
        labels: np.ndarray,
        image_size: tuple[int, int] | None,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        raw: bool = False,
        block: int | None = None,
    ):
        """Decoded ``(x, y)`` in the order of ``indices`` (``shuffle``: a fresh order every iteration);
        float32, or uint8 with ``raw``. A file that fails to decode is left out and recorded.

        ``block``: ``(x, y)`` come in blocks of up to that many samples, and every pass ends with
        an empty block (see `decode_files`), which ``rebatch`` drops; None: single samples."""
        import tensorflow as tf

        from kiln_lab.engine.data.hostmap import host_map
        from kiln_lab.engine.data.imagedecode import decode_files, route_for

        size = self.sample_shape(image_size)[:2]
        indices = np.asarray(indices, dtype=np.int64)
        labels = np.asarray(labels)
        heights, widths = self.heights[indices], self.widths[indices]
        ratios = [jpeg_ratio(int(h), int(w), size) for h, w in zip(heights, widths, strict=True)]
        routes = [
            route_for(int(d), r, int(h), int(w), size, self.legacy_pillow)
            for d, r, h, w in zip(self.decoders[indices], ratios, heights, widths, strict=True)
        ]
        ds = decode_files(
            [os.fsdecode(p) if isinstance(p, bytes) else str(p) for p in self.paths[indices]],
            routes,
            np.asarray(ratios, np.int32),
            labels,
            channels=self.channels,
            size=size,
            on_skip=self.record_skip,
            block=block or 32,
            shuffle_seed=(0 if seed is None else seed) if shuffle else None,
            legacy_pillow=self.legacy_pillow,
        )
        if block is None:
            ds = ds.unbatch()
        to_float = tf.autograph.experimental.do_not_convert(lambda x, y: (tf.cast(x, tf.float32), y))
        return ds if raw else host_map(ds, to_float)


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
    real_root = root.resolve()
    candidates: list[tuple[str, str]] = []
    to_check: list[bool] = []  # True: the real file may lie outside the folder (a link on the way)
    others = 0
    for class_dir in class_dirs:
        dir_inside = _lies_inside(class_dir, real_root)
        for path, is_link in _files_under(class_dir):
            if is_image_name(path):
                candidates.append((class_dir.name, path))
                to_check.append(is_link or not dir_inside)
            else:
                others += 1
    if others:
        problems.append(f"{others} file(s) in the class folders are not images by their name and were ignored.")
    if not class_dirs or not candidates:
        raise DataError(
            f"The folder {root} has no class subfolders with images in them.",
            hint="Make one subfolder per class (for example cats/ and dogs/) and put that class's images inside.",
        )

    candidates, outside = _inside(real_root, candidates, to_check)
    infos = scan_files([path for _, path in candidates], progress=progress, cancel=cancel)
    skipped = outside + [
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
            items=tuple((item.path, item.reason) for item in skipped),
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
    # A model trained when Pillow decoded and resized everything is evaluated the same way.
    legacy = bool(fitted) and fitted.get("decoder", "pillow") == "pillow"
    loader = ImageFileLoader(
        paths, channels=channels, image_size=size, infos=[info for _, _, info in good], legacy_pillow=legacy
    )
    return Dataset(
        source=str(root),
        source_kind="images",
        task=CLASSIFICATION,
        input_kind=IMAGE,
        input_shape=(size[0], size[1], channels),
        class_names=class_names,
        labels=labels,
        splits=stratified_split(labels, val_fraction=val_split, test_fraction=test_split, seed=seed),
        loader=loader,
        skipped=skipped,
        problems=problems,
        paths=paths,
        preprocessing={
            "kind": IMAGE,
            "channels": channels,
            "image_size": list(size),
            "pixel_scale": 1.0,
            "pixel_offset": 0.0,
            "decoder": "pillow" if legacy else DECODER,
            "resize": "bilinear" if legacy else "bilinear-antialias",
            "transparency": "white",
            "class_names": list(class_names),
        },
    )


def scan_files(
    paths: list[str] | list[Path], *, progress: EventSink | None = None, cancel: threading.Event | None = None
) -> list[ImageInfo | BadImage]:
    """Read every file's header, in order.

    One thread reads while the files come from memory (the page cache: about 50 us a file,
    where a pool of threads only queues on the GIL and was slower); a window of files averaging
    over `SLOW_FILE_S` means the reads wait on a disk or a network share, and the rest go to a
    pool of threads, whose waits overlap.
    """
    total = len(paths)
    results: list[ImageInfo | BadImage] = []
    last_report = 0.0
    _report(progress, 0, total)
    pool: ThreadPoolExecutor | None = None
    window = _PROBE
    try:
        while len(results) < total:
            _check_cancel(cancel)
            chunk = paths[len(results) : len(results) + window]
            started = time.perf_counter()
            if pool is None:
                for path in chunk:
                    results.append(_inspect(path))
                    if cancel is not None and cancel.is_set():
                        _check_cancel(cancel)
                if (time.perf_counter() - started) / len(chunk) > SLOW_FILE_S:
                    workers = max(2, min(8, 2 * (os.cpu_count() or 2)))
                    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kiln-scan")
            else:
                futures = [pool.submit(_inspect, path) for path in chunk]
                for future in futures:
                    if cancel is not None and cancel.is_set():
                        for pending in futures:
                            pending.cancel()
                        _check_cancel(cancel)
                    results.append(future.result())
            window = _WINDOW
            now = time.monotonic()
            if now - last_report > 0.1:  # about ten events a second, however fast the scan
                last_report = now
                _report(progress, len(results), total)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    _report(progress, total, total)
    return results


def default_image_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The median picture size, scaled down (keeping its shape) to at most 64 pixels a side."""
    height, width = (float(v) for v in np.median(np.asarray(sizes, dtype=np.float64), axis=0))
    scale = min(1.0, MAX_DEFAULT_SIDE / max(height, width))
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def _inspect(path: str | Path) -> ImageInfo | BadImage:
    """The file's header facts, from this process's memo when the file is unchanged since it was
    read (same inode, size, change and modification times): the Data page's scan and the
    training run's scan of the same folder read each header once."""
    try:
        stat_now: os.stat_result | None = os.stat(path)
        key = (os.fspath(path), stat_now.st_dev, stat_now.st_ino, stat_now.st_size, stat_now.st_mtime_ns,
               stat_now.st_ctime_ns)
    except OSError:
        stat_now, key = None, None  # inspect_image reports it in its own words
    known = _HEADERS.get(key) if key is not None else None
    if known is not None:
        return known
    try:
        found: ImageInfo | BadImage = inspect_image(path, stat_now)
    except BadImage as bad:
        found = bad
    if key is not None:
        if len(_HEADERS) >= _HEADERS_LIMIT:
            _HEADERS.clear()  # a bound on memory; the next scans read their headers again
        _HEADERS[key] = found
    return found


def _inside(
    real_root: Path, candidates: list[tuple[str, str]], to_check: list[bool]
) -> tuple[list[tuple[str, str]], list[SkippedFile]]:
    """The candidates whose real file lies inside ``real_root``, and the others as skipped files.

    A symbolic link in the folder may point anywhere (``~/.ssh/id_rsa.png``); Kiln reads only
    what lies in the folder the person named. Links that stay inside it are followed. Only the
    candidates ``to_check`` (a link, or under a class folder that is a link) are resolved: a
    plain file in a plain folder inside the root lies inside it, and resolving every file cost
    more than reading its header.
    """
    kept: list[tuple[str, str]] = []
    outside: list[SkippedFile] = []
    for (name, path), check in zip(candidates, to_check, strict=True):
        if not check or _lies_inside(Path(path), real_root):
            kept.append((name, path))
        else:
            outside.append(SkippedFile(str(path), "a link to a file outside the data folder, not read"))
    return kept, outside


def _lies_inside(path: Path, real_root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):  # a link loop: the scan reports it in its own words
        return True


def _files_under(folder: Path | str) -> Iterator[tuple[str, bool]]:
    """Files in ``folder`` and its subfolders (nested folders belong to the same class), sorted,
    each with whether it is a symbolic link. Linked subfolders are not entered (as ``os.walk``).
    Paths as strings: a Path object per file cost the scan more than a plain header read."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            yield entry.path, entry.is_symlink()
        elif not entry.is_symlink():
            subfolders.append(entry.path)
    for sub in subfolders:
        yield from _files_under(sub)


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
