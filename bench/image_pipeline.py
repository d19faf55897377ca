"""Kiln's image-folder pipeline against ``keras.utils.image_dataset_from_directory``, timed from the call.

    python bench/image_pipeline.py [--images 3000] [--repeats 3] [--json OUT]
    python bench/image_pipeline.py --quick        # 1000 images, 2 rounds: about a minute
    python bench/image_pipeline.py --images 300 --sides 1200 2400 --repeats 2   # camera-sized photos

A folder of generated JPEG and PNG files of mixed sizes (80-400 pixels a side by default,
``--sides`` for others, 5 classes) is made once under ``$KILN_BENCH_DIR`` (default: the temp
folder) and reused. Every image is read at 64x64, batch 32, all files in training (no validation split).

**The clock starts at the call the person waits on** and every figure counts from there:

* ``kiln``: ``load_dataset`` (the scan) + ``make_pipelines(cache="memory")`` + the iterator
  over ``train_stream``, as `run_training` reads it: epoch 1 decodes, later epochs come from
  the cache.
* ``keras_default``: ``image_dataset_from_directory`` as documented (it decodes every epoch).
* ``keras_cache_prefetch``: the same with ``.cache().prefetch(AUTOTUNE)``, the tuned version
  and the target's baseline.

Each round runs every variant in **its own fresh subprocess** (TensorFlow, Keras and Kiln's data
modules imported first, not timed), in alternating order, so the variants see the same machine state: ``fresh`` is the
first call in that process (what ``kiln train`` waits for), ``warm`` a second call in the same
process (what the GUI's engine worker waits for on a second run). Reported: first batch and
epoch 1 in seconds from the call, later epochs in images/s, and the medians of the per-round
ratios kiln / keras (lower is better for seconds). Compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SIZE = (64, 64)
BATCH = 32
LATER_EPOCHS = 2


def make_image_folder(
    root: Path, count: int, seed: int = 0, classes: int = 5, sides: tuple[int, int] = (80, 400)
) -> Path:
    """``count`` JPEG/PNG files (two thirds JPEG), each side drawn from ``sides``, in ``classes``
    class folders; kept if present."""
    from PIL import Image

    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(seed)
    for i in range(count):
        k = i % classes
        height, width = (int(v) for v in rng.integers(sides[0], sides[1], 2))
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


def _timed_epochs(started: float, iterator, steps: int | None) -> dict[str, float]:
    """Seconds from ``started`` (the call) to the first batch and to the end of epoch 1, then later epochs."""
    first = None
    seen = 0
    for step, (x, _) in enumerate(iterator if steps is not None else iter(iterator)):
        if first is None:
            first = time.perf_counter() - started
        seen += int(x.shape[0])
        if steps is not None and step + 1 == steps:
            break
    epoch1 = time.perf_counter() - started
    later = []
    for _ in range(LATER_EPOCHS):
        begun = time.perf_counter()
        for step, _batch in enumerate(iterator if steps is not None else iter(iterator)):
            if steps is not None and step + 1 == steps:
                break
        later.append(time.perf_counter() - begun)
    return {
        "first_batch_s": first or 0.0,
        "epoch1_s": epoch1,
        "later_images_per_s": seen / statistics.median(later),
        "images": seen,
    }


def run_kiln(root: Path) -> dict[str, float]:
    from kiln_lab.engine.data import load_dataset, make_pipelines
    from kiln_lab.engine.data.config import DataConfig

    started = time.perf_counter()  # the call: scan, pipeline, iterator all count
    dataset = load_dataset(DataConfig(source=str(root), val_split=0.0))
    scanned = time.perf_counter() - started
    pipes = make_pipelines(dataset, batch_size=BATCH, image_size=SIZE, cache="memory", seed=1)
    built = time.perf_counter() - started
    row = _timed_epochs(started, iter(pipes.train_stream), pipes.steps_per_epoch)
    return {**row, "scan_s": scanned, "pipeline_built_s": built}


def run_keras(root: Path, tuned: bool) -> dict[str, float]:
    import keras
    import tensorflow as tf

    started = time.perf_counter()
    ds = keras.utils.image_dataset_from_directory(str(root), image_size=SIZE, batch_size=BATCH, verbose=False)
    scanned = time.perf_counter() - started
    if tuned:
        ds = ds.cache().prefetch(tf.data.AUTOTUNE)
    built = time.perf_counter() - started
    return {**_timed_epochs(started, ds, None), "scan_s": scanned, "pipeline_built_s": built}


VARIANTS = {
    "kiln": run_kiln,
    "keras_default": lambda root: run_keras(root, tuned=False),
    "keras_cache_prefetch": lambda root: run_keras(root, tuned=True),
}


def _child(name: str, root: Path) -> None:
    """One variant in this fresh process: the first call (fresh), then a second one (warm)."""
    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras  # noqa: F401 - imported before the clock, as TensorFlow is

    # Kiln's own modules too, as Keras's image_dataset_from_directory is with keras: the clock
    # times the call, not Python loading code (`kiln train` pays both in its start-up, which
    # bench/train_process.py compares whole).
    import kiln_lab.engine.data.images  # noqa: F401
    import kiln_lab.engine.data.pipeline  # noqa: F401

    fresh = VARIANTS[name](root)
    warm = VARIANTS[name](root)
    print("KILN_BENCH " + json.dumps({"fresh": fresh, "warm": warm}))


def run_in_subprocess(name: str, root: Path) -> dict[str, dict[str, float]]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, str(root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("KILN_BENCH ")]
    if done.returncode or not lines:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("KILN_BENCH ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1000 images, 2 rounds")
    parser.add_argument(
        "--sides", type=int, nargs=2, default=(80, 400), metavar=("LO", "HI"),
        help="picture sides drawn from LO..HI pixels (default 80 400; photos: 1200 2400 with --images 300)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    if args.quick:
        args.images, args.repeats = 1000, 2
    base = Path(os.environ.get("KILN_BENCH_DIR") or tempfile.gettempdir())
    sides = tuple(args.sides)
    name = f"kiln-bench-images-{args.images}" + ("" if sides == (80, 400) else f"-{sides[0]}-{sides[1]}")
    root = make_image_folder(base / name, args.images, sides=sides)
    run_in_subprocess("kiln", root)  # warm-up: the OS file cache, not kept
    names = list(VARIANTS)
    rounds: dict[str, list[dict]] = {name: [] for name in names}
    load = os.getloadavg()[0]
    for index in range(args.repeats):
        for name in names if index % 2 == 0 else names[::-1]:
            rounds[name].append(run_in_subprocess(name, root))
    print(
        f"{args.images} images ({sides[0]}-{sides[1]} px a side) at {SIZE[0]}x{SIZE[1]}, batch {BATCH}; "
        f"medians of {args.repeats} interleaved rounds, "
        f"each variant in a fresh process; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    report: dict[str, dict] = {"medians": {}, "ratios": {}, "rounds": rounds}
    for when in ("fresh", "warm"):
        print(f"\n{when} ({'first call in a new process' if when == 'fresh' else 'second call, same process'}):")
        print(f"{'':<22}{'scan s':>8}{'built s':>9}{'1st batch s':>12}{'epoch 1 s':>11}{'later img/s':>13}")
        for name in names:
            rows = [r[when] for r in rounds[name]]
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            report["medians"][f"{when}.{name}"] = med
            print(
                f"{name:<22}{med['scan_s']:>8.2f}{med['pipeline_built_s']:>9.2f}{med['first_batch_s']:>12.3f}"
                f"{med['epoch1_s']:>11.2f}{med['later_images_per_s']:>13.0f}"
            )

        def paired(metric: str, other: str, when: str = when) -> list[float]:
            return [k[when][metric] / o[when][metric] for k, o in zip(rounds["kiln"], rounds[other], strict=True)]

        print("  ratios kiln / keras, median (range) of the per-round pairs:")
        for other in ("keras_default", "keras_cache_prefetch"):
            for metric, goal in (
                ("first_batch_s", 2.0 if other == "keras_cache_prefetch" else None),
                ("epoch1_s", 1.0 if other == "keras_cache_prefetch" else None),
                ("later_images_per_s", None),
            ):
                values = paired(metric, other)
                med = statistics.median(values)
                report["ratios"][f"{when}.{metric}.vs_{other}"] = {
                    "median": round(med, 3), "low": round(min(values), 3), "high": round(max(values), 3)
                }
                verdict = ""
                if goal is not None:
                    verdict = "  met" if med <= goal else f"  NOT met (target <= {goal})"
                print(f"    {metric:<20} vs {other:<22} {med:6.2f} ({min(values):.2f}-{max(values):.2f}){verdict}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
