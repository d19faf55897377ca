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
from the stream and recorded through ``on_skip``; the run goes on without it. Each group's
files are read by rank in a known order, so a gap in a group's ranks names the file that
failed; a marker after the last file names the failures no later file revealed.
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
    order_seed: int | None = None,
    shuffle_seed: int | None = None,
    legacy_pillow: bool = False,
):
    """Unbatched ``(uint8 image (H, W, C), label)`` for the files, in order; shuffled once by
    ``order_seed`` (the same order every iteration, as a cache wants), or afresh every
    iteration by ``shuffle_seed`` (file names are shuffled, so nothing big is buffered).
    ``routes`` holds each file's `Route` (see `route_for`), ``ratios`` its JPEG scale (which
    Pillow's route reads per file)."""
    import tensorflow as tf

    count = len(paths)
    kinds = sorted(set(routes)) or [Route(PILLOW)]
    group_of = np.array([kinds.index(r) for r in routes], dtype=np.int64)
    sizes = np.bincount(group_of, minlength=len(kinds)).tolist() if count else [0]
    labels = np.asarray(labels)
    table = (
        tf.constant([os.fsencode(p) for p in paths] or [b""], dtype=tf.string),
        tf.constant(labels if count else np.zeros(1, labels.dtype)),
        tf.constant(np.asarray(ratios, np.int32).reshape(-1) if count else np.ones(1, np.int32)),
    )
    decoders = [_route_graph(route, channels, size, on_skip, legacy_pillow) for route in kinds]
    groups = len(kinds)
    group_of_file = tf.constant(group_of)
    # Plain graph code: AutoGraph would only re-parse it, which cost 1-2 s of the first batch
    # (most of the pipeline build) on a 2-core machine.
    plain = tf.autograph.experimental.do_not_convert
    # After the last file: a marker at place ``count``, so failures among the last files are noticed too.
    end = tf.data.Dataset.from_tensors(
        (tf.zeros((*size, channels), tf.uint8), tf.zeros((), tf.as_dtype(labels.dtype)), tf.constant(count, tf.int64))
    )

    def one_pass(order, group_places):
        """The files ``order`` (indices) in that order; ``group_places[g]``: the places in it of
        group g's files."""
        streams = []
        for g in range(groups):

            @plain
            def load(rank, places=group_places[g], decode=decoders[g]):
                place = tf.gather(places, rank)
                index = tf.gather(order, place)
                image = decode(tf.gather(table[0], index), tf.gather(table[2], index))
                return image, tf.gather(table[1], index), place

            streams.append(
                tf.data.Dataset.range(sizes[g]).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            )
        if groups == 1:
            merged = streams[0]
        else:
            # A decode that raises reaches the merge as an error in its place, which the
            # ignore_errors below drops; the group's next file fills its next place.
            places = tf.data.Dataset.from_tensor_slices(tf.gather(group_of_file, order))
            merged = tf.data.Dataset.choose_from_datasets(streams, places)

        def record(missing):
            return _record_tf_failures(missing, paths, on_skip)

        @plain
        def notice_gaps(expected, element):
            image, label, place = element
            # A place missing from the sequence is a file whose decode raised (dropped by
            # ignore_errors). Only then does Python run, to name it.
            recorded = tf.cond(
                tf.greater(place, expected),
                lambda: tf.reshape(tf.numpy_function(record, [order[expected:place]], tf.int32), ()),
                lambda: tf.constant(0),
            )
            with tf.control_dependencies([recorded]):
                return place + 1, (image, label, tf.less(place, count))

        checked = merged.ignore_errors().concatenate(end).scan(tf.constant(0, tf.int64), notice_gaps)
        return checked.filter(plain(_kept)).map(plain(_without_flag))

    if shuffle_seed is not None:  # a new permutation per iteration, reproducible from the seed

        @plain
        def shuffled_pass(seed):
            order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), [seed, 7])
            places = tf.gather(group_of_file, order)
            return one_pass(order, [tf.where(tf.equal(places, g))[:, 0] for g in range(groups)])

        seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).take(1)
        return seeds.flat_map(shuffled_pass)
    # A fixed order needs no flat_map: the pipeline is built once, with no function to instantiate
    # at the first element (which delays the first batch).
    fixed = np.arange(count) if order_seed is None else np.random.default_rng(order_seed).permutation(count)
    placed = group_of[fixed]
    return one_pass(tf.constant(fixed), [tf.constant(np.flatnonzero(placed == g)) for g in range(groups)])


def _kept(image, label, keep):
    return keep


def _without_flag(image, label, keep):
    return image, label


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
