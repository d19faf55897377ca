"""Kiln's image-folder pipeline against ``keras.utils.image_dataset_from_directory``, both ways.

    python bench/image_pipeline.py [--images 3000] [--repeats 3] [--json OUT]

A folder of generated JPEG and PNG files of mixed sizes (80-400 pixels a side, 5 classes) is
made once under ``$KILN_BENCH_DIR`` (default: the temp folder) and reused. Every image is
read at 64x64, batch 32, all files in training (no validation split), in interleaved rounds:

* ``kiln``: `load_dataset` (the scan) then `make_pipelines(cache="memory")`, read through
  ``train_stream`` as `run_training` does: epoch 1 decodes, epochs 2-3 come from the cache.
* ``keras_default``: ``image_dataset_from_directory`` as documented (it decodes every epoch).
* ``keras_cache_prefetch``: the same with ``.cache().prefetch(AUTOTUNE)``, the tuned version.

Reported per variant: the scan (the call that lists the files), the first batch, epoch 1
and later epochs in images/s, and ratios against each Keras variant. Wall-clock figures on a
shared machine are noisy; rounds are interleaved and the medians reported, with the CPU
seconds per image (process time, which other programs' load disturbs less) beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.runtime import import_tensorflow_quietly  # noqa: E402

SIZE = (64, 64)
BATCH = 32
LATER_EPOCHS = 2


def make_image_folder(root: Path, count: int, seed: int = 0, classes: int = 5) -> Path:
    """``count`` JPEG/PNG files (two thirds JPEG) of mixed sizes in ``classes`` class folders; kept if present."""
    from PIL import Image

    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(seed)
    for i in range(count):
        k = i % classes
        height, width = (int(v) for v in rng.integers(80, 400, 2))
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * (k + 1) * 255 // width, y * 255 // height, np.full((height, width), 40 * k)], -1)
        pixels = (base + rng.integers(0, 24, (height, width, 3))).clip(0, 255).astype(np.uint8)
        folder = root / f"class_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 3 == 2:
            Image.fromarray(pixels).save(folder / f"{i}.png", compress_level=1)
        else:
            Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)
    done.write_text("ok")
    return root


def _clock():
    return time.perf_counter(), time.process_time()


def _epoch(iterator, steps: int | None) -> tuple[float, float, int]:
    """Seconds to the first batch, seconds for the epoch, images seen."""
    start, _ = _clock()
    first = None
    seen = 0
    for step, (x, _) in enumerate(iterator):
        if first is None:
            first = time.perf_counter() - start
        seen += int(x.shape[0])
        if steps is not None and step + 1 == steps:
            break
    return first or 0.0, time.perf_counter() - start, seen


def run_kiln(root: Path) -> dict[str, float]:
    from engine.data import load_dataset, make_pipelines
    from engine.data.config import DataConfig

    wall, cpu = _clock()
    dataset = load_dataset(DataConfig(source=str(root), val_split=0.0))
    scan = time.perf_counter() - wall
    pipes = make_pipelines(dataset, batch_size=BATCH, image_size=SIZE, cache="memory", seed=1)
    stream = iter(pipes.train_stream)
    first, epoch1, n = _epoch(stream, pipes.steps_per_epoch)
    cpu1 = time.process_time() - cpu
    later = [_epoch(stream, pipes.steps_per_epoch)[1] for _ in range(LATER_EPOCHS)]
    return _row(scan, first, epoch1, later, n, cpu1)


def run_keras(root: Path, tuned: bool) -> dict[str, float]:
    import keras
    import tensorflow as tf

    wall, cpu = _clock()
    ds = keras.utils.image_dataset_from_directory(str(root), image_size=SIZE, batch_size=BATCH, verbose=False)
    scan = time.perf_counter() - wall
    if tuned:
        ds = ds.cache().prefetch(tf.data.AUTOTUNE)
    first, epoch1, n = _epoch(ds, None)
    cpu1 = time.process_time() - cpu
    later = [_epoch(ds, None)[1] for _ in range(LATER_EPOCHS)]
    return _row(scan, first, epoch1, later, n, cpu1)


def _row(scan: float, first: float, epoch1: float, later: list[float], n: int, cpu1: float) -> dict[str, float]:
    return {
        "scan_s": scan,
        "first_batch_s": first,  # after the scan
        "epoch1_images_per_s": n / epoch1,
        "scan_plus_epoch1_images_per_s": n / (scan + epoch1),
        "later_images_per_s": n / statistics.median(later),
        "epoch1_cpu_ms_per_image": 1000 * cpu1 / n,
        "images": n,
    }


VARIANTS = {
    "kiln": run_kiln,
    "keras_default": lambda root: run_keras(root, tuned=False),
    "keras_cache_prefetch": lambda root: run_keras(root, tuned=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = Path(os.environ.get("KILN_BENCH_DIR") or tempfile.gettempdir())
    root = make_image_folder(base / f"kiln-bench-images-{args.images}", args.images)
    import_tensorflow_quietly()
    run_kiln(root)  # warm-up: imports, graph tracing and the OS file cache, not timed
    run_keras(root, tuned=False)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    for index in range(args.repeats):
        for name in names if index % 2 == 0 else names[::-1]:
            rounds[name].append(VARIANTS[name](root))
    medians = {name: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for name, rows in rounds.items()}
    print(f"{args.images} images at {SIZE[0]}x{SIZE[1]}, batch {BATCH}; medians of {args.repeats} interleaved rounds")
    header = f"{'':<22}{'scan s':>8}{'1st batch s':>12}{'epoch1 img/s':>14}{'later img/s':>13}{'cpu ms/img':>11}"
    print(header)
    for name, row in medians.items():
        print(
            f"{name:<22}{row['scan_s']:>8.2f}{row['first_batch_s']:>12.3f}{row['epoch1_images_per_s']:>14.0f}"
            f"{row['later_images_per_s']:>13.0f}{row['epoch1_cpu_ms_per_image']:>11.2f}"
        )
    kiln, default, tuned = medians["kiln"], medians["keras_default"], medians["keras_cache_prefetch"]

    def paired(metric: str, other: str) -> float:  # median of per-round ratios
        return statistics.median(k[metric] / o[metric] for k, o in zip(rounds["kiln"], rounds[other], strict=True))

    ratios = {
        "epoch1_vs_default": paired("epoch1_images_per_s", "keras_default"),
        "scan_plus_epoch1_vs_default": paired("scan_plus_epoch1_images_per_s", "keras_default"),
        "later_vs_default": paired("later_images_per_s", "keras_default"),
        "later_vs_cache_prefetch": paired("later_images_per_s", "keras_cache_prefetch"),
        "first_batch_vs_default": paired("first_batch_s", "keras_default"),
        "epoch1_cpu_vs_default": paired("epoch1_cpu_ms_per_image", "keras_default"),
    }
    targets = {
        "epoch1_vs_default": 1.0,
        "later_vs_default": 2.0,
        "later_vs_cache_prefetch": 1.0,
    }
    print("\nratios (kiln / keras; for first batch and cpu, lower is better):")
    for key, value in ratios.items():
        goal = targets.get(key)
        verdict = "" if goal is None else ("  met" if value >= goal else f"  NOT met (target >= {goal})")
        if key == "first_batch_vs_default":
            verdict = "  met" if value <= 2.0 else "  NOT met (target <= 2)"
        print(f"  {key:<30} {value:6.2f}{verdict}")
    if args.json:
        args.json.write_text(json.dumps({"medians": medians, "ratios": ratios, "default": default, "tuned": tuned,
                                         "kiln": kiln}, indent=2))


if __name__ == "__main__":
    main()
