"""Training throughput on the built-in demo, as ratios against a baseline in the same run.

    python bench/train_throughput.py [--epochs N] [--json OUT]

Runs the real training path (`run_training`: pipeline, callbacks, event sink) and reports
samples per second for each preset. The baseline is a bare ``model.fit`` of the same MLP
on the same in-memory arrays with the same validation each epoch, so for the MLP
``ratio`` is Kiln's overhead (1.0 = none); the other presets show what depth costs. Figures depend
on the machine; compare ratios, not absolute numbers, across machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.runtime import import_tensorflow_quietly  # noqa: E402


def bare_fit_samples_per_second(epochs: int) -> float:
    import keras

    from engine.data import load_dataset
    from engine.models.build import build_model
    from engine.training.config import ModelRecipe

    dataset = load_dataset("demo:digits")
    train, val = dataset.splits["train"], dataset.splits["val"]
    x, y = dataset.loader.read(train), dataset.labels[train]
    validation = (dataset.loader.read(val), dataset.labels[val])
    keras.utils.set_random_seed(0)
    model = build_model(ModelRecipe(arch="mlp"), dataset, epochs=epochs).model
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    model.fit(x, y, batch_size=32, epochs=1, validation_data=validation, verbose=0)  # warm-up: tracing
    started = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=epochs, validation_data=validation, verbose=0)
    return len(train) * epochs / (time.perf_counter() - started)


def kiln_samples_per_second(arch: str, epochs: int) -> float:
    from engine.events import EpochEnd, EventRecorder
    from engine.training.config import RunConfig
    from engine.training.job import run_training

    # The first epoch absorbs tracing, as the bare baseline's warm-up does; time the rest.
    config = RunConfig().replace(model={"arch": arch}, train={"epochs": epochs + 1, "batch_size": 32})
    recorder = EventRecorder()
    result = run_training(config, sink=recorder)
    seconds = sum(event.seconds for event in recorder.of_type(EpochEnd)[1:])
    return len(result.dataset.splits["train"]) * epochs / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import_tensorflow_quietly()
    baseline = bare_fit_samples_per_second(args.epochs)
    rows = {"bare_keras_fit_mlp": {"samples_per_second": round(baseline), "ratio": 1.0}}
    for arch in ("mlp", "cnn", "resnet"):
        sps = kiln_samples_per_second(arch, args.epochs)
        rows[f"kiln_{arch}"] = {"samples_per_second": round(sps), "ratio": round(sps / baseline, 3)}
    for name, row in rows.items():
        print(f"{name:<22} {row['samples_per_second']:>8} samples/s   ratio {row['ratio']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
