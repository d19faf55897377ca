"""GPU throughput of a ResNet-sized model built by Kiln: fp32, mixed precision, mixed + XLA; Kiln's job vs plain fit.

    python bench/gpu.py                  # the real run: a few minutes on one GPU
    KERAS_BACKEND=jax python bench/gpu.py  # the same on JAX (or torch); TensorFlow is the default
    python bench/gpu.py --tiny           # a seconds-long check of the script itself, on a CPU

Needs only keras, numpy and one Keras backend (no TensorFlow on JAX / PyTorch).

The model: Kiln's ``resnet`` preset (a 3x3 conv stem, then ``depth`` residual blocks of two
3x3 convs with batch norm, filters doubling and 2x max pooling between blocks, global
pooling, a dense head), at width 128 and depth 4 (filters 128-256-512-1024) on 64x64x3
inputs, 10 classes: 19.6 M parameters, 24.2 GFLOP per training sample (3x the forward
FLOPs of the convolutions and the dense layer, counted from the layers). Synthetic data
(random pixels, random labels): throughput does not depend on what the pixels show.
Images reach the model as float32, as in every Kiln run.

For each precision mode, in this order, twice the same settings:

* ``plain``: the model built and compiled by Kiln's own code, trained by a bare
  ``model.fit`` on the pipeline Kiln's `make_pipelines` builds (the honest baseline);
* ``kiln``: `run_training` with the same config and dataset, checkpoints on (the default),
  into a temporary run folder.

samples/s = training samples / median time between consecutive epoch ends after the first
(the first epoch compiles); the time between epoch ends includes Kiln's checkpoint write.
Achieved TFLOP/s = samples/s x FLOP per training sample; the share is against the card's
dense FP16/BF16 tensor-core peak (table below). Targets (issue 13): mixed + XLA >= 2x
fp32; Kiln >= 0.95x plain.

Modes per backend: TensorFlow ``fp32`` runs without XLA (a tf.function); JAX always
compiles with XLA (``jit_compile=False`` would run eagerly), so its fp32 is already XLA;
PyTorch's XLA switch is ``torch.compile``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiln_lab.engine.runtime import import_tensorflow_quietly, keras_backend  # noqa: E402

# Dense (no sparsity) tensor-core peaks in TFLOP/s, from NVIDIA's datasheets: H100
# (SXM5 / PCIe / NVL), H200 (SXM / NVL), A100 (80 GB), L4, T4. First match on the device name wins.
PEAKS: list[tuple[str, dict[str, float]]] = [
    ("H200 NVL", {"fp16": 835.0, "tf32": 417.0, "fp32": 60.0}),
    ("H200", {"fp16": 989.4, "tf32": 494.7, "fp32": 66.9}),
    ("H100 NVL", {"fp16": 835.0, "tf32": 417.0, "fp32": 60.0}),
    ("H100 PCIe", {"fp16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    ("H100", {"fp16": 989.4, "tf32": 494.7, "fp32": 66.9}),  # SXM5 (e.g. "NVIDIA H100 80GB HBM3")
    ("A100", {"fp16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    ("L4", {"fp16": 121.0, "tf32": 60.0, "fp32": 30.3}),
    ("T4", {"fp16": 65.0, "tf32": 0.0, "fp32": 8.1}),
]
MODES = {  # name -> (mixed_precision, xla)
    "fp32": (False, False),
    "mixed": (True, False),
    "mixed+xla": (True, True),
}


def card_peak(device: str) -> tuple[str, dict[str, float]] | None:
    for key, peak in PEAKS:
        if key.lower() in device.lower():
            return key, peak
    return None


def training_flops_per_sample(model) -> float:
    """3x the forward multiply-adds x 2 of every Conv2D and Dense layer (backward ~ 2x forward)."""
    import keras

    forward = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            _, h, w, cout = layer.output.shape
            forward += 2.0 * kh * kw * cin * cout * h * w
        elif isinstance(layer, keras.layers.Dense):
            forward += 2.0 * layer.input.shape[-1] * layer.units
    return 3.0 * forward


def make_dataset(folder: Path, samples: int, side: int, seed: int = 0):
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.data.config import DataConfig

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(samples, side, side, 3), dtype=np.uint8)
    y = np.arange(samples) % 10
    path = folder / "synthetic.npz"
    np.savez(path, x=x, y=y)
    return load_dataset(DataConfig(source=str(path), val_split=0.0)), str(path)


def run_config(source: str, args, mixed: bool, xla: bool):
    from kiln_lab.engine.data.config import DataConfig
    from kiln_lab.engine.models.recipe import ModelRecipe
    from kiln_lab.engine.training.config import RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(source=source, val_split=0.0, cache="memory"),
        model=ModelRecipe(arch="resnet", width=args.width, depth=args.depth, batch_norm=True),
        train=TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, mixed_precision=mixed, xla=xla,
            distribution="none", learning_rate=1e-3,
        ),
    )


def steady_seconds(epoch_ends: list[float], started: float) -> float:
    """Median time between consecutive epoch ends, the first epoch (compilation) left out."""
    gaps = np.diff([started, *epoch_ends])[1:]
    return float(statistics.median(gaps)) if len(gaps) else float("nan")


def time_plain(config, dataset) -> tuple[float, float]:
    import keras

    from kiln_lab.engine.data import make_pipelines
    from kiln_lab.engine.models.build import build_model
    from kiln_lab.engine.training.compile import compile_for_phase

    keras.backend.clear_session()
    keras.utils.set_random_seed(config.train.seed)
    from kiln_lab.engine.runtime import accelerators

    # Kiln's rule (engine/training/job.py): mixed precision only where there is a GPU.
    mixed = config.train.mixed_precision and bool(accelerators())
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    built = build_model(config.model, dataset, epochs=config.train.epochs)
    compile_for_phase(built, built.phases[0], config, task=dataset.task, num_classes=dataset.num_classes)
    pipelines = make_pipelines(dataset, batch_size=config.train.batch_size, seed=config.data.seed, cache="memory")
    ends: list[float] = []

    class EpochEnds(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    started = time.perf_counter()
    built.model.fit(pipelines.train, epochs=config.train.epochs, callbacks=[EpochEnds()], shuffle=False, verbose=0)
    return steady_seconds(ends, started), training_flops_per_sample(built.model)


def time_kiln(config, dataset) -> float:
    import keras

    from kiln_lab.engine.events import EpochEnd
    from kiln_lab.engine.training.job import run_training

    keras.backend.clear_session()
    ends: list[float] = []

    def sink(event) -> None:
        if isinstance(event, EpochEnd):
            ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_training(config, sink=sink, dataset=dataset, out_dir=Path(out) / "run")
    return steady_seconds(ends, started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="16x16, width 8, depth 2: checks the script on a CPU")
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--side", type=int, default=64, help="input height = width")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.tiny:
        args.samples, args.side, args.width, args.depth, args.batch_size, args.epochs = 256, 16, 8, 2, 64, 3
    import_tensorflow_quietly()
    import keras

    from kiln_lab.engine.runtime import accelerators

    devices = accelerators()
    device = devices[0]["name"] if devices else "CPU"
    peak = card_peak(device)
    print(f"backend {keras_backend()}, keras {keras.__version__}, device {device}"
          + (f" ({len(devices)} GPUs; this uses one)" if len(devices) > 1 else ""))
    if peak:
        print(f"peak (dense, {peak[0]} datasheet): fp16/bf16 {peak[1]['fp16']:.0f}, tf32 {peak[1]['tf32']:.0f}, "
              f"fp32 {peak[1]['fp32']:.1f} TFLOP/s")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        dataset, source = make_dataset(Path(folder), args.samples, args.side)
        for mode in args.modes.split(","):
            mixed, xla = MODES[mode]
            config = run_config(source, args, mixed, xla)
            plain_s, flops = time_plain(config, dataset)
            kiln_s = time_kiln(config, dataset)
            n = len(dataset.splits["train"])
            row = {
                "mode": mode, "plain_samples_s": n / plain_s, "kiln_samples_s": n / kiln_s,
                "kiln_vs_plain": plain_s / kiln_s, "gflop_per_sample": flops / 1e9,
                "plain_tflops": n / plain_s * flops / 1e12,
            }
            if peak:
                row["share_of_fp16_peak"] = row["plain_tflops"] / peak[1]["fp16"]
            rows.append(row)
            print(f"{mode:>10}: plain {row['plain_samples_s']:9.0f} samples/s, kiln {row['kiln_samples_s']:9.0f} "
                  f"samples/s (kiln/plain {row['kiln_vs_plain']:.2f}x), {row['plain_tflops']:.3g} TFLOP/s"
                  + (f" = {100 * row['share_of_fp16_peak']:.1f}% of fp16 peak" if peak else ""))
    keras.mixed_precision.set_global_policy("float32")
    fp32 = next((r for r in rows if r["mode"] == "fp32"), None)
    fast = next((r for r in rows if r["mode"] == "mixed+xla"), None)
    if fp32 and fast:
        print(f"mixed+xla vs fp32 (plain fit): {fast['plain_samples_s'] / fp32['plain_samples_s']:.2f}x (target >= 2x)")
    print(f"model: resnet width {args.width} depth {args.depth} on {args.side}x{args.side}x3, "
          f"{rows[0]['gflop_per_sample']:.3g} GFLOP per training sample; "
          f"{args.samples} samples, batch {args.batch_size}")
    if args.json:
        report = {"backend": keras_backend(), "device": device, "args": {**vars(args), "json": None}, "rows": rows}
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
