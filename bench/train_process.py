"""A whole ``kiln train`` process against the plain Keras script a person would write instead.

    python bench/train_process.py [--epochs 5] [--repeats 5] [--archs mlp,cnn] [--json OUT]
    python bench/train_process.py --quick        # MLP only, 3 rounds: about a minute

Each round starts two fresh processes, in alternating order, and times them from the start
of the process to its exit, as a person waits for them:

* ``kiln``: ``python main.py train --data demo:digits --arch ARCH --epochs N --out TMP``
  (checkpoints on, every run file written, the model saved).
* ``plain``: a plain Keras script (below, ``PLAIN_SCRIPT``) that loads the same digits,
  keeps the same 20 % for validation, builds the same layers (Kiln's MLP / CNN preset at its
  defaults: 2 x Dense(64, relu), or 2 x Conv(64, 128) + max-pool, global pool, then the
  softmax), trains it with Adam at the same rate and batch, validating every epoch, and saves
  ``model.keras``. Its input is NumPy arrays, what such a script feeds ``fit``.

Each process prints a line at every epoch's end; the parent stamps the lines as they arrive,
which splits the wall time into **before the first epoch ends** (start-up, data, model, the
first epoch and its tracing), **the later epochs**, and **the wrap-up** (after the last epoch
to the exit: final scores, run files, the saved model). Medians of the per-round ratios
kiln / plain (lower is better), with their range; the target is whole process <= 1.03x.
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

from bench._pairs import interleaved_rounds, paired_ratio  # noqa: E402

PLAIN_SCRIPT = r'''
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras

arch, epochs, out, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
keras.utils.set_random_seed(0)
with np.load(data) as d:
    x, y = d["x"][..., None], d["y"].astype("int64")
order = np.random.default_rng(42).permutation(len(x))
cut = int(round(len(x) * 0.8))
train, val = order[:cut], order[cut:]
layers = [keras.Input(x.shape[1:]), keras.layers.Rescaling(1 / 255)]
if arch == "cnn":
    for width in (64, 128):
        layers += [keras.layers.Conv2D(width, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D()]
    layers.append(keras.layers.GlobalAveragePooling2D())
else:
    layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(64, activation="relu") for _ in range(2)]
model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
say = keras.callbacks.LambdaCallback(
    on_epoch_end=lambda e, logs: print(f"epoch {e + 1}/{epochs}", file=sys.stderr, flush=True)
)
model.fit(x[train], y[train], batch_size=32, epochs=epochs, validation_data=(x[val], y[val]),
          callbacks=[say], verbose=0)
os.makedirs(out, exist_ok=True)
model.save(os.path.join(out, "model.keras"))
'''


def _child_environment() -> dict[str, str]:
    """The bench's environment for both processes, with Python's bytecode cache allowed.

    ``PYTHONDONTWRITEBYTECODE`` (set on some shared machines) made every ``kiln train`` compile
    Kiln's ~80 modules again (about 0.07 s a process) while Keras and TensorFlow load from the
    caches their install wrote; an installed Kiln has its cache too. The plain script is a
    ``__main__`` file, compiled every run either way, as a person's script is.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _stamped(argv: list[str]) -> dict[str, float]:
    """Run ``argv``; seconds from start to the first and last ``epoch N/M`` lines and to the exit."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=_child_environment(),
    )
    epochs: list[float] = []
    tail: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("epoch ") and "/" in line.split()[1]:
            epochs.append(time.perf_counter() - started)
        tail = (tail + [line])[-30:]
    code = process.wait()
    total = time.perf_counter() - started
    if code or not epochs:
        raise SystemExit(f"{argv[:4]} failed ({code}):\n{''.join(tail)}")
    return {
        "total_s": total,
        "to_epoch1_s": epochs[0],
        "later_epochs_s": epochs[-1] - epochs[0],
        "wrap_up_s": total - epochs[-1],
    }


def run_kiln(arch: str, epochs: int, folder: Path) -> dict[str, float]:
    out = folder / "kiln-run"
    return _stamped([sys.executable, "main.py", "train", "--data", "demo:digits", "--arch", arch,
                     "--epochs", str(epochs), "--out", str(out), "--overwrite"])


def run_plain(arch: str, epochs: int, folder: Path) -> dict[str, float]:
    script = folder / "plain_keras.py"
    script.write_text(PLAIN_SCRIPT)
    data = ROOT / "resources" / "demo" / "digits.npz"
    return _stamped([sys.executable, str(script), arch, str(epochs), str(folder / "plain-run"), str(data)])


VARIANTS = {"kiln": run_kiln, "plain": run_plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--archs", default="mlp,cnn")
    parser.add_argument("--quick", action="store_true", help="MLP only, 3 rounds")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.archs, args.repeats = "mlp", 3
    load = os.getloadavg()[0]
    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="kiln-bench-process-") as tmp:
        folder = Path(tmp)
        for arch in args.archs.split(","):
            run_kiln(arch, 1, folder)  # warm-up: the OS file cache, Python's bytecode cache
            run_plain(arch, 1, folder)
            rows = interleaved_rounds(
                list(VARIANTS), [arch], args.repeats, lambda group, name: VARIANTS[name](group, args.epochs, folder)
            )[arch]
            print(f"\n{arch}, {args.epochs} epochs: seconds, medians of {args.repeats} interleaved rounds")
            print(f"{'':<8}{'total':>8}{'to epoch 1':>12}{'later epochs':>14}{'wrap-up':>9}")
            for name, runs in rows.items():
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                print(f"{name:<8}{med['total_s']:>8.2f}{med['to_epoch1_s']:>12.2f}"
                      f"{med['later_epochs_s']:>14.2f}{med['wrap_up_s']:>9.2f}")
                report[f"{arch}.{name}"] = med
            print("  ratio kiln / plain, median (range) of the per-round pairs:")
            for metric in ("total_s", "to_epoch1_s", "later_epochs_s", "wrap_up_s"):
                ratio = paired_ratio([k[metric] for k in rows["kiln"]], [p[metric] for p in rows["plain"]])
                report[f"{arch}.ratio.{metric}"] = {"median": round(ratio.median, 3), "low": round(ratio.low, 3),
                                                    "high": round(ratio.high, 3)}
                met = ratio.median <= 1.03
                goal = "  (target <= 1.03: " + ("met)" if met else "NOT met)") if metric == "total_s" else ""
                print(f"    {metric:<16}{ratio.median:6.2f} ({ratio.low:.2f}-{ratio.high:.2f}){goal}")
    print(f"\nload average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
