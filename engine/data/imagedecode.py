"""Image files -> decoded, resized uint8 tensors inside tf.data, in parallel.

Each file's route was settled from its header at scan time (`engine.data.imagefile`):
TensorFlow's own JPEG/PNG decoders for plain 8-bit files (JPEGs at a reduced DCT scale when
the target is much smaller), Pillow inside ``tf.numpy_function`` for the rest. Every route
ends in the same resize (area average when shrinking, bilinear when enlarging), so training,
previews and predict see the same pixels for the same file.

**One decode map per route.** Files are grouped by what their decode needs (decoder, JPEG
scale, shrink or enlarge), each group gets a straight-line map with no per-file branching,
and ``choose_from_datasets`` takes the groups' outputs back in the files' order. A per-file
``tf.switch_case`` / ``tf.cond`` would trace and instantiate every branch before the first
batch: on a 2-core machine that was most of Kiln's pipeline build (0.12 s of graph building
and 0.12 s of instantiation for a folder of JPEGs and PNGs, against 0.04 s for Keras's single
map); see docs/PERFORMANCE.md.

A file that passed the scan but fails to decode (corrupt data in the middle) is dropped
from the stream and recorded through ``on_skip``; the run goes on without it. A decode that
succeeds sets the file's mark in a boolean variable; an empty block made after the last file
of every pass reads the marks, names the files left unmarked (Python runs once a pass, not
once a file) and clears them for the next pass. This replaced a per-file ``scan`` with a
``tf.cond`` and a filter and map after it: four functions fewer to trace and instantiate
before the first batch (docs/PERFORMANCE.md, round 7).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln_lab.engine.data.imagefile import PILLOW, TF_JPEG, TF_PNG, TF_PNG_ALPHA, BadImage, pillow_pixels, reason_for

SkipRecorder = Callable[[str, str], None]  # (path, reason)


@dataclass(frozen=True, order=True)
class Route:
    """How one group of files is decoded: the decoder, the JPEG scale (TF_JPEG only) and the
    resize (``shrink``: area average; False: antialiased bilinear; None: decided per file, for
    Pillow, whose output size the header cannot promise)."""

    decoder: int
    ratio: int = 1
    shrink: bool | None = None


def route_for(decoder: int, ratio: int, height: int, width: int, size: tuple[int, int], legacy_pillow: bool) -> Route:
    """The route of one file from its header: decoder, JPEG scale and size (after EXIF orientation)."""
    if legacy_pillow or decoder == PILLOW:
        return Route(PILLOW)
    scale = int(ratio) if decoder == TF_JPEG else 1
    # libjpeg's scaled output is ceil(side / scale); PNGs decode at their full size.
    out_h, out_w = -(-int(height) // scale), -(-int(width) // scale)
    return Route(int(decoder), scale, bool(out_h >= size[0] and out_w >= size[1]))


def decode_files(
    paths: list[str],
    routes: list[Route],
    ratios: np.ndarray,
    labels: np.ndarray,
    *,
    channels: int,
    size: tuple[int, int],
    on_skip: SkipRecorder,
    block: int = 1,
    shuffle_seed: int | None = None,
    legacy_pillow: bool = False,
):
    """Blocks of up to ``block`` files, ``(uint8 images (n, H, W, C), labels (n,))``, in order,
    or shuffled afresh every iteration by ``shuffle_seed`` (file names are shuffled, so nothing
    big is buffered). Every pass ends with one empty block: its making names the files that
    failed in that pass (``rebatch`` or ``unbatch`` after it drops it). ``routes`` holds each
    file's `Route` (see `route_for`), ``ratios`` its JPEG scale (which Pillow's route reads per file).

    The marks are shared by the dataset's iterators: one pass at a time (as Keras and Kiln read
    a pipeline), or a pass ending during another would clear marks the other still needs. A pass
    cut short leaves success marks set, which a later pass of the same files sets again."""
    import tensorflow as tf

    from kiln_lab.engine.data.hostmap import host_map

    count = len(paths)
    kinds = sorted(set(routes)) or [Route(PILLOW)]
    group_of = np.array([kinds.index(r) for r in routes], dtype=np.int64)
    labels = np.asarray(labels)
    label_dtype = tf.as_dtype(labels.dtype)
    columns = (  # what a group's files carry into their decode: path, JPEG scale, label, file index
        np.array([os.fsencode(p) for p in paths], dtype=object).reshape(-1),
        np.asarray(ratios, np.int32).reshape(-1),
        labels.reshape(-1),
        np.arange(count, dtype=np.int64),
    )
    with tf.init_scope(), tf.device("/cpu:0"):
        # One mark per file, set by a decode that succeeded; the end of a pass reads and clears them.
        decoded = tf.Variable(tf.zeros([max(count, 1)], tf.bool), trainable=False, name="kiln_decoded")
    loads = [_route_load(route, channels, size, on_skip, legacy_pillow, decoded) for route in kinds]
    groups = len(kinds)
    plain = tf.autograph.experimental.do_not_convert  # graph code already; AutoGraph would only re-parse it

    def merged(group_streams, selector):
        streams = [host_map(s, loads[g]) for g, s in enumerate(group_streams)]
        if groups == 1:
            return streams[0].ignore_errors()
        # A decode that raises reaches the merge as an error in its place, which ignore_errors
        # drops; the group's next file fills its next place.
        return tf.data.Dataset.choose_from_datasets(streams, selector).ignore_errors()

    if shuffle_seed is not None:  # a new permutation per iteration, reproducible from the seed
        table = tuple(tf.constant(c) for c in columns[:3])
        group_of_file = tf.constant(group_of)

        @plain
        def shuffled_pass(seed):
            order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), [seed, 7])
            places = tf.gather(group_of_file, order)
            group_streams = []
            for g in range(groups):
                files = tf.boolean_mask(order, tf.equal(places, g))
                group_streams.append(
                    tf.data.Dataset.from_tensor_slices((*(tf.gather(c, files) for c in table), files))
                )
            return merged(group_streams, tf.data.Dataset.from_tensor_slices(places))

        seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).take(1)
        files = seeds.flat_map(shuffled_pass)
    else:  # a fixed order: built once, with no function to instantiate at the first element
        group_streams = [
            tf.data.Dataset.from_tensor_slices(tuple(c[group_of == g] for c in columns)) for g in range(groups)
        ]
        files = merged(group_streams, tf.data.Dataset.from_tensor_slices(group_of))

    @plain
    def end_of_pass(_):
        def record(marks):
            missing = np.flatnonzero(~np.asarray(marks)[:count])
            if missing.size:
                _record_tf_failures(missing, paths, on_skip)
            return np.int32(missing.size)

        named = tf.numpy_function(record, [decoded.read_value()], tf.int32, stateful=True)
        with tf.control_dependencies([named]):
            cleared = decoded.assign(tf.zeros_like(decoded))
        with tf.control_dependencies([cleared]):
            return tf.zeros((0, *size, channels), tf.uint8), tf.zeros((0,), label_dtype)

    # The end block is made after the last file's decode has finished (concatenate reads it
    # only then), so every mark of the pass is in. padded_batch, not batch: the same blocks (the
    # pictures all have one size), but its shapes come from its own arguments; batch takes them
    # from choose_from_datasets, whose shapes TensorFlow 2.21 misreports to a later concatenate
    # ("Incompatible shapes at component 0 ... got []" when the iterator is made).
    return files.padded_batch(block).concatenate(host_map(tf.data.Dataset.range(1), end_of_pass))


def _route_load(
    route: Route, channels: int, size: tuple[int, int], on_skip: SkipRecorder, legacy_pillow: bool, decoded
):
    """``(path, JPEG scale, label, index) -> (uint8 (H, W, C), label)`` for one route's files,
    as straight-line graph code (TensorFlow's JPEG decoder takes its scale from the route: it
    must be fixed in the graph). A file that decodes sets its mark in ``decoded``; one that
    fails raises, and the stream drops it (see `decode_files`)."""
    import tensorflow as tf

    decode = _route_graph(route, channels, size, on_skip, legacy_pillow)

    @tf.autograph.experimental.do_not_convert
    def load(path, ratio, label, index):
        image = decode(path, ratio)
        with tf.control_dependencies([image]):  # marked only once the decode has succeeded
            marked = decoded.scatter_nd_update(tf.reshape(index, (1, 1)), tf.constant([True]))
        with tf.control_dependencies([marked]):
            return tf.identity(image), label

    return load


def _route_graph(route: Route, channels: int, size: tuple[int, int], on_skip: SkipRecorder, legacy_pillow: bool):
    """``(path, JPEG scale) -> uint8 (H, W, C)`` for one route, as straight-line graph code
    (TensorFlow's JPEG decoder takes its scale from the route: it must be fixed in the graph).
    A file that fails raises, and the stream drops it (see `decode_files`)."""
    import tensorflow as tf

    height, width = int(size[0]), int(size[1])

    def finish(pixels):
        pixels.set_shape((None, None, channels))
        return _resize(pixels, height, width, shrink=route.shrink)

    def pillow(path, ratio):
        def read(raw_path, raw_ratio):
            where = os.fsdecode(raw_path)
            try:
                return pillow_pixels(where, channels, int(raw_ratio), (height, width) if legacy_pillow else None)
            except BadImage as bad:
                on_skip(where, bad.reason)
                raise
            except Exception as exc:  # noqa: BLE001 - any broken file is a skip, never a failed run
                on_skip(where, reason_for(exc))
                raise

        return finish(tf.numpy_function(read, [path, ratio], tf.uint8, stateful=False))

    def jpeg(path, _ratio):
        return finish(tf.io.decode_jpeg(tf.io.read_file(path), channels=channels, ratio=route.ratio))

    def png(path, _ratio):
        return finish(tf.io.decode_png(tf.io.read_file(path), channels=channels))

    def png_alpha(path, _ratio):
        rgba = tf.cast(tf.io.decode_png(tf.io.read_file(path), channels=4), tf.int32)
        alpha = rgba[..., 3:]
        # Composite on white, rounded as integers: transparent -> 255, opaque -> unchanged.
        rgb = (rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
        if channels == 1:  # ITU-R 601-2 luma, the weights Pillow's convert("L") uses
            rgb = (rgb[..., 0:1] * 299 + rgb[..., 1:2] * 587 + rgb[..., 2:3] * 114 + 500) // 1000
        return finish(tf.cast(rgb, tf.uint8))

    return {PILLOW: pillow, TF_JPEG: jpeg, TF_PNG: png, TF_PNG_ALPHA: png_alpha}[route.decoder]


def _resize(pixels: Any, height: int, width: int, *, shrink: bool | None = None):
    """To (height, width) as uint8 (what the cache holds): an area average when shrinking (a box
    filter: no aliasing, cheaper than an antialiased bilinear, and a same-size image comes back
    unchanged), antialiased bilinear when enlarging. ``shrink`` None: decided from the pixels'
    shape at run time (Pillow's output, whose size the header cannot promise)."""
    import tensorflow as tf

    def area():
        return tf.image.resize(pixels, (height, width), method="area")

    def bilinear():
        return tf.image.resize(pixels, (height, width), method="bilinear", antialias=True)

    if shrink is None:
        shape = tf.shape(pixels)
        scaled = tf.cond(tf.logical_and(shape[0] >= height, shape[1] >= width), area, bilinear)
    else:
        scaled = area() if shrink else bilinear()
    out = tf.cast(tf.round(tf.clip_by_value(scaled, 0.0, 255.0)), tf.uint8)
    out.set_shape((height, width, pixels.shape[-1]))
    return out


def _record_tf_failures(indices: np.ndarray, paths: list[str], on_skip: SkipRecorder) -> np.int32:
    """TensorFlow's decoder refused files the scan let through: ask Pillow for a plain reason."""
    from PIL import Image

    for index in np.asarray(indices).reshape(-1):
        where = paths[int(index)]
        try:
            with Image.open(where) as img:
                img.load()
            reason = "unreadable (TensorFlow's decoder rejects its data)"
        except Exception as exc:  # noqa: BLE001 - we only want the words
            reason = reason_for(exc)
        on_skip(where, reason)
    return np.int32(len(indices))
