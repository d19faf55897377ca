"""Image files -> decoded, resized uint8 tensors inside tf.data, in parallel.

Each file's decoder was chosen from its header at scan time (`engine.data.imagefile`):
TensorFlow's own JPEG/PNG decoders for plain 8-bit files (JPEGs at a reduced DCT scale when
the target is much smaller), Pillow inside ``tf.numpy_function`` for the rest. Every route
ends in the same resize (area average when shrinking, bilinear when enlarging), so training,
previews and predict see the same pixels for the same file.

A file that passed the scan but fails to decode (corrupt data in the middle) is dropped
from the stream and recorded through ``on_skip``; the run goes on without it. Files are read
by position in a known order, so a gap in the positions names the file that failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from kiln_lab.engine.data.imagefile import PILLOW, TF_JPEG, TF_PNG, TF_PNG_ALPHA, BadImage, pillow_pixels, reason_for

OK, FAILED_RECORDED, FAILED_IN_TF = 0, 1, 2
_RATIOS = (1, 2, 4, 8)

SkipRecorder = Callable[[str, str], None]  # (path, reason)


def decode_files(
    paths: list[str],
    decoders: np.ndarray,
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
    iteration by ``shuffle_seed`` (file names are shuffled, so nothing big is buffered)."""
    import tensorflow as tf

    count = len(paths)
    table = (
        tf.constant([os.fsencode(p) for p in paths] or [b""], dtype=tf.string),
        tf.constant(np.asarray(decoders, np.int32).reshape(-1) if count else np.zeros(1, np.int32)),
        tf.constant(np.asarray(ratios, np.int32).reshape(-1) if count else np.ones(1, np.int32)),
        tf.constant(np.asarray(labels) if count else np.zeros(1, np.asarray(labels).dtype)),
    )
    decoders = np.asarray(decoders, np.int32).reshape(-1)
    ratios = np.asarray(ratios, np.int32).reshape(-1)
    decode = _decoder_graph(
        channels,
        size,
        on_skip,
        legacy_pillow,
        kinds={int(k) for k in decoders},
        jpeg_ratios={int(r) for r in ratios[decoders == TF_JPEG]},
    )
    blank = tf.zeros((*size, channels), tf.uint8)
    # Plain graph code (tf.cond, tf.switch_case): AutoGraph would only re-parse it, which cost
    # 1-2 s of the first batch (most of the pipeline build) on a 2-core machine.
    plain = tf.autograph.experimental.do_not_convert

    def one_pass(order):
        @plain
        def load(position):
            index = tf.gather(order, tf.minimum(position, count - 1))
            label = tf.gather(table[3], index)

            def real():
                return decode(tf.gather(table[0], index), tf.gather(table[1], index), tf.gather(table[2], index))

            # Position ``count`` is an end marker, so a failure among the last files is noticed too.
            image, status = tf.cond(tf.equal(position, count), lambda: (blank, tf.constant(OK)), real)
            return image, label, position, status

        @plain
        def notice_gaps(expected, element):
            image, label, position, status = element

            def record():
                missing = tf.gather(order, tf.range(expected, position))
                done = tf.numpy_function(lambda idx: _record_tf_failures(idx, paths, on_skip), [missing], tf.int32)
                return tf.reshape(done, ())

            # A position missing from the sequence is a file whose TensorFlow decode raised (and
            # was dropped by ignore_errors). Only then does Python run.
            recorded = tf.cond(tf.greater(position, expected), record, lambda: tf.constant(0))
            with tf.control_dependencies([recorded]):
                keep = tf.logical_and(tf.less(position, count), tf.equal(status, OK))
                return position + 1, (image, label, keep)

        positions = tf.data.Dataset.range(count + 1)
        ds = positions.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).ignore_errors()
        ds = ds.scan(tf.constant(0, tf.int64), notice_gaps)
        return ds.filter(plain(_kept)).map(plain(_without_flag))

    if shuffle_seed is not None:  # a new permutation per iteration, reproducible from the seed
        seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).take(1)
        orders = seeds.map(
            plain(lambda s: tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), [s, 7]))
        )
        return orders.flat_map(plain(one_pass))
    # A fixed order needs no flat_map: the pipeline is built once, with no function to instantiate
    # at the first element (which delays the first batch).
    fixed = np.arange(count) if order_seed is None else np.random.default_rng(order_seed).permutation(count)
    return one_pass(tf.constant(fixed, dtype=tf.int64))


def _kept(image, label, keep):
    return keep


def _without_flag(image, label, keep):
    return image, label


def _decoder_graph(
    channels: int,
    size: tuple[int, int],
    on_skip: SkipRecorder,
    legacy_pillow: bool,
    *,
    kinds: set[int] | None = None,
    jpeg_ratios: set[int] | None = None,
):
    """The per-file decode as graph code; only the decoders (``kinds``) and JPEG scales
    (``jpeg_ratios``) the files need are built: each branch is traced before the first batch
    and switched per file, so a folder of plain JPEGs gets one straight decode."""
    import tensorflow as tf

    height, width = int(size[0]), int(size[1])

    def pillow(path, ratio):
        def read(raw_path, raw_ratio):
            where = os.fsdecode(raw_path)
            try:
                pixels = pillow_pixels(where, channels, int(raw_ratio), (height, width) if legacy_pillow else None)
                return pixels, np.int32(OK)
            except BadImage as bad:
                on_skip(where, bad.reason)
            except Exception as exc:  # noqa: BLE001 - any broken file is a skip, never a failed run
                on_skip(where, reason_for(exc))
            return np.zeros((1, 1, channels), np.uint8), np.int32(FAILED_RECORDED)

        pixels, status = tf.numpy_function(read, [path, ratio], [tf.uint8, tf.int32], stateful=False)
        pixels.set_shape((None, None, channels))
        status.set_shape(())
        return pixels, status

    scales = sorted(r for r in (jpeg_ratios or _RATIOS) if r in _RATIOS) or [1]

    def jpeg(path, ratio):
        data = tf.io.read_file(path)
        if len(scales) == 1:
            return tf.io.decode_jpeg(data, channels=channels, ratio=scales[0]), tf.constant(OK)
        branches = [lambda r=r: tf.io.decode_jpeg(data, channels=channels, ratio=r) for r in scales]
        # ratio 1, 2, 4, 8 -> its place among the scales built
        places = tf.constant([scales.index(r) if r in scales else 0 for r in _RATIOS], tf.int32)
        log2 = tf.cast(tf.math.log(tf.cast(ratio, tf.float32)) / np.log(2.0) + 0.5, tf.int32)
        return tf.switch_case(tf.gather(places, log2), branches), tf.constant(OK)

    def png(path, ratio):
        return tf.io.decode_png(tf.io.read_file(path), channels=channels), tf.constant(OK)

    def png_alpha(path, ratio):
        rgba = tf.cast(tf.io.decode_png(tf.io.read_file(path), channels=4), tf.int32)
        alpha = rgba[..., 3:]
        # Composite on white, rounded as integers: transparent -> 255, opaque -> unchanged.
        rgb = (rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
        if channels == 1:  # ITU-R 601-2 luma, the weights Pillow's convert("L") uses
            rgb = (rgb[..., 0:1] * 299 + rgb[..., 1:2] * 587 + rgb[..., 2:3] * 114 + 500) // 1000
        return tf.cast(rgb, tf.uint8), tf.constant(OK)

    routes = {PILLOW: pillow, TF_JPEG: jpeg, TF_PNG: png, TF_PNG_ALPHA: png_alpha}
    used = [k for k in routes if kinds is None or k in kinds] or [PILLOW]

    def decode(path, decoder, ratio):
        if legacy_pillow:
            pixels, status = pillow(path, ratio)
        elif len(used) == 1:
            pixels, status = routes[used[0]](path, ratio)
        else:
            places = tf.constant([used.index(k) if k in used else 0 for k in range(len(routes))], tf.int32)
            pixels, status = tf.switch_case(
                tf.gather(places, decoder), [lambda f=routes[k]: f(path, ratio) for k in used]
            )
        pixels.set_shape((None, None, channels))
        return _resize(pixels, height, width), status

    return decode


def _resize(pixels: Any, height: int, width: int):
    """To (height, width) as uint8 (what the cache holds): an area average when shrinking (a box
    filter: no aliasing, and cheaper than an antialiased bilinear), bilinear when enlarging."""
    import tensorflow as tf

    shape = tf.shape(pixels)
    same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    shrink = tf.logical_and(tf.greater_equal(shape[0], height), tf.greater_equal(shape[1], width))

    def resize():
        scaled = tf.cond(
            shrink,
            lambda: tf.image.resize(pixels, (height, width), method="area"),
            lambda: tf.image.resize(pixels, (height, width), method="bilinear", antialias=True),
        )
        return tf.cast(tf.round(tf.clip_by_value(scaled, 0.0, 255.0)), tf.uint8)

    out = tf.cond(same, lambda: tf.identity(pixels), resize)
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
    return np.int32(FAILED_RECORDED)
