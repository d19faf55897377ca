"""Kiln's training overhead, against plain ``model.fit`` on the very same tf.data pipeline.

    python bench/train_throughput.py [--epochs 5] [--repeats 4] [--json OUT]

For each preset (MLP and CNN on the digits demo) and each round, in alternating order:

* ``kiln``: `run_training` with checkpoints on, into a temporary run folder. Timed: the
  seconds of its ``model.fit`` calls (``RunResult.seconds``: every callback, validation and
  checkpoint inside them).
* ``fit_same_pipeline``: the same model, built and compiled by Kiln's own code, trained by a
  bare ``model.fit(pipelines.train, validation_data=pipelines.val)`` on the pipelines Kiln's
  `make_pipelines` builds: the honest baseline. Ratio = kiln / this.
* ``fit_numpy``: a bare ``model.fit`` on NumPy arrays (the same samples), a second baseline
  that is much slower for small models (Keras feeds arrays through a Python generator), kept
  and labelled so nobody mistakes it for the first.
* ``kiln_no_checkpoint``: Kiln with checkpoints off, to show what checkpoints cost.

Each figure is samples/s over the whole fit (first epoch and its tracing included, as a
person waits for it); medians over rounds, with the range of the per-round ratios. Compare
ratios, not absolute numbers, across machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.runtime import import_tensorflow_quietly  # noqa: E402

BATCH = 32


def _config(arch: str, epochs: int, checkpoint: bool = True):
    from engine.training.config import RunConfig

    return RunConfig().replace(
        model={"arch": arch}, train={"epochs": epochs, "batch_size": BATCH, "checkpoint": checkpoint}
    )


def run_kiln(arch: str, epochs: int, checkpoint: bool = True) -> float:
    from engine.training.job import run_training

    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as folder:
        result = run_training(_config(arch, epochs, checkpoint), out_dir=Path(folder) / "run")
    return len(result.dataset.splits["train"]) * epochs / result.seconds


def _built_and_pipelines(arch: str, epochs: int):
    import keras

    from engine.data import load_dataset, make_pipelines
    from engine.models.build import build_model
    from engine.training.compile import compile_for_phase

    config = _config(arch, epochs)
    keras.utils.set_random_seed(config.train.seed)
    dataset = load_dataset(config.data)
    built = build_model(config.model, dataset, epochs=epochs, image_size=config.data.image_size)
    compile_for_phase(built, built.phases[0], config, task=dataset.task, num_classes=dataset.num_classes)
    pipes = make_pipelines(dataset, batch_size=BATCH, image_size=built.image_size, seed=config.data.seed)
    return dataset, built, pipes


def run_fit_same_pipeline(arch: str, epochs: int) -> float:
    dataset, built, pipes = _built_and_pipelines(arch, epochs)
    started = time.perf_counter()
    built.model.fit(pipes.train, validation_data=pipes.val, epochs=epochs, verbose=0)
    return len(dataset.splits["train"]) * epochs / (time.perf_counter() - started)


def run_fit_numpy(arch: str, epochs: int) -> float:
    dataset, built, pipes = _built_and_pipelines(arch, epochs)
    train, val = dataset.splits["train"], dataset.splits["val"]
    x, y = dataset.loader.read(train, pipes.image_size), dataset.labels[train]
    validation = (dataset.loader.read(val, pipes.image_size), dataset.labels[val])
    started = time.perf_counter()
    built.model.fit(x, y, batch_size=BATCH, validation_data=validation, epochs=epochs, verbose=0)
    return len(train) * epochs / (time.perf_counter() - started)


VARIANTS = {
    "kiln": run_kiln,
    "fit_same_pipeline": run_fit_same_pipeline,
    "fit_numpy": run_fit_numpy,
    "kiln_no_checkpoint": lambda arch, epochs: run_kiln(arch, epochs, checkpoint=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--archs", default="mlp,cnn")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import_tensorflow_quietly()
    for arch in args.archs.split(","):  # warm-up: first imports and graph caches, not timed
        run_kiln(arch, 1)
        run_fit_same_pipeline(arch, 1)
    results: dict[str, dict[str, list[float]]] = {}
    names = list(VARIANTS)
    for round_index in range(args.repeats):
        order = names if round_index % 2 == 0 else names[::-1]  # interleaved, alternating order
        for arch in args.archs.split(","):
            for name in order:
                results.setdefault(arch, {}).setdefault(name, []).append(VARIANTS[name](arch, args.epochs))
    report: dict[str, dict[str, float]] = {}
    for arch, rows in results.items():
        base = rows["fit_same_pipeline"]
        print(f"\n{arch}: samples/s, median of {args.repeats} interleaved rounds ({args.epochs} epochs each)")
        for name, values in rows.items():
            ratios = [v / b for v, b in zip(values, base, strict=True)]
            median = statistics.median(values)
            report[f"{arch}.{name}"] = {
                "samples_per_second": round(median),
                "ratio_to_fit_same_pipeline": round(statistics.median(ratios), 3),
                "ratio_low": round(min(ratios), 3),
                "ratio_high": round(max(ratios), 3),
            }
            print(
                f"  {name:<20} {median:>8.0f}   ratio {statistics.median(ratios):.3f} "
                f"({min(ratios):.2f}-{max(ratios):.2f})"
            )
    kiln_ok = all(report[f"{a}.kiln"]["ratio_to_fit_same_pipeline"] >= 0.97 for a in results)
    print(f"\ntarget: kiln >= 0.97x plain fit on the same pipeline, checkpoints on: {'met' if kiln_ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
