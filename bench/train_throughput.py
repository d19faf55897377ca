"""Kiln's training job against bare ``model.fit`` on the very same input stream.

    python bench/train_throughput.py [--epochs 5] [--repeats 5] [--json OUT]
    python bench/train_throughput.py --quick       # MLP only, 3 rounds, 3 epochs: about a minute

For each preset (MLP and CNN on the digits demo) and each round, in alternating order:

* ``kiln``: `run_training` with checkpoints on, into a temporary run folder. Two clocks:
  ``fit`` = its ``model.fit`` calls (``RunResult.seconds``: every callback, validation and
  checkpoint inside them) and ``call`` = the whole `run_training` call, from the call to its
  return (data, model, fit, final scores, run files, the saved model).
* ``bare_fit``: the same model, built and compiled by Kiln's own code, trained by a bare
  ``model.fit(pipelines.train_stream, steps_per_epoch=..., validation_data=pipelines.val)``:
  **the same endless stream the job reads** (an earlier version of this script fed the
  baseline the finite, re-iterated ``pipelines.train``, about 16 % slower than the stream, and
  so hid the job's own cost). ``fit`` = that call; ``call`` = from loading the data to the end
  of the fit (no run files, nothing saved).
* ``kiln_no_checkpoint``: the job with checkpoints off, to show what checkpoints cost.
* ``fit_numpy``: a bare ``model.fit`` on NumPy arrays (the same samples), the hand-written
  script's input, kept and labelled as a second, different baseline.

Reported: seconds, medians over rounds, and the medians of the per-round ratios of each
variant's ``fit`` seconds to ``bare_fit``'s (lower is better), with their range. The target
is the job's fit <= 1.03x the bare fit. Compare ratios, not seconds, across machines.
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

from bench._pairs import interleaved_rounds, paired_ratio  # noqa: E402
from kiln_lab.engine.runtime import import_tensorflow_quietly  # noqa: E402

BATCH = 32


def _config(arch: str, epochs: int, checkpoint: bool = True):
    from kiln_lab.engine.training.config import RunConfig

    return RunConfig().replace(
        model={"arch": arch}, train={"epochs": epochs, "batch_size": BATCH, "checkpoint": checkpoint}
    )


def run_kiln(arch: str, epochs: int, checkpoint: bool = True) -> dict[str, float]:
    from kiln_lab.engine.training.job import run_training

    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as folder:
        started = time.perf_counter()
        result = run_training(_config(arch, epochs, checkpoint), out_dir=Path(folder) / "run")
        call = time.perf_counter() - started
    return {"fit": result.seconds, "call": call}


def _built_and_pipelines(arch: str, epochs: int):
    import keras

    from kiln_lab.engine.data import load_dataset, make_pipelines
    from kiln_lab.engine.models.build import build_model
    from kiln_lab.engine.training.compile import compile_for_phase

    config = _config(arch, epochs)
    keras.utils.set_random_seed(config.train.seed)
    dataset = load_dataset(config.data)
    built = build_model(config.model, dataset, epochs=epochs, image_size=config.data.image_size)
    compile_for_phase(built, built.phases[0], config, task=dataset.task, num_classes=dataset.num_classes)
    pipes = make_pipelines(dataset, batch_size=BATCH, image_size=built.image_size, seed=config.data.seed)
    return dataset, built, pipes


def run_bare_fit(arch: str, epochs: int) -> dict[str, float]:
    started = time.perf_counter()
    _dataset, built, pipes = _built_and_pipelines(arch, epochs)
    fit_started = time.perf_counter()
    built.model.fit(
        pipes.train_stream,
        steps_per_epoch=pipes.steps_per_epoch,
        validation_data=pipes.val,
        epochs=epochs,
        shuffle=False,
        verbose=0,
    )
    ended = time.perf_counter()
    return {"fit": ended - fit_started, "call": ended - started}


def run_fit_numpy(arch: str, epochs: int) -> dict[str, float]:
    started = time.perf_counter()
    dataset, built, pipes = _built_and_pipelines(arch, epochs)
    train, val = dataset.splits["train"], dataset.splits["val"]
    x, y = dataset.loader.read(train, pipes.image_size), dataset.labels[train]
    validation = (dataset.loader.read(val, pipes.image_size), dataset.labels[val])
    fit_started = time.perf_counter()
    built.model.fit(x, y, batch_size=BATCH, validation_data=validation, epochs=epochs, verbose=0)
    ended = time.perf_counter()
    return {"fit": ended - fit_started, "call": ended - started}


VARIANTS = {
    "kiln": run_kiln,
    "bare_fit": run_bare_fit,
    "kiln_no_checkpoint": lambda arch, epochs: run_kiln(arch, epochs, checkpoint=False),
    "fit_numpy": run_fit_numpy,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--archs", default="mlp,cnn")
    parser.add_argument("--quick", action="store_true", help="MLP only, 3 rounds of 3 epochs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.archs, args.repeats, args.epochs = "mlp", 3, 3
    load = os.getloadavg()[0]
    import_tensorflow_quietly()
    for arch in args.archs.split(","):  # warm-up: first imports and graph caches, not timed
        run_kiln(arch, 1)
        run_bare_fit(arch, 1)
    results = interleaved_rounds(
        list(VARIANTS), args.archs.split(","), args.repeats, lambda arch, name: VARIANTS[name](arch, args.epochs)
    )
    report: dict[str, dict[str, float]] = {}
    for arch, rows in results.items():
        base = [b["fit"] for b in rows["bare_fit"]]
        print(f"\n{arch}: seconds, medians of {args.repeats} interleaved rounds ({args.epochs} epochs each)")
        print(f"  {'':<20}{'fit s':>8}{'call s':>8}   fit / bare fit, median (range)")
        for name, values in rows.items():
            ratio = paired_ratio([v["fit"] for v in values], base)
            fit = statistics.median(v["fit"] for v in values)
            call = statistics.median(v["call"] for v in values)
            report[f"{arch}.{name}"] = {
                "fit_seconds": round(fit, 3),
                "call_seconds": round(call, 3),
                "fit_ratio_to_bare_fit": round(ratio.median, 3),
                "ratio_low": round(ratio.low, 3),
                "ratio_high": round(ratio.high, 3),
            }
            print(f"  {name:<20}{fit:>8.2f}{call:>8.2f}   {ratio.median:.3f} ({ratio.low:.2f}-{ratio.high:.2f})")
    met = all(report[f"{a}.kiln"]["fit_ratio_to_bare_fit"] <= 1.03 for a in results)
    verdict = "met" if met else "NOT met"
    print(f"\ntarget: the job's fit <= 1.03x a bare fit on the same stream, checkpoints on: {verdict}")
    print(f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
