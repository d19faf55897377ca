"""What the forgetting monitor costs a tiny fine-tune: off, time-budgeted (the default), and
measuring every epoch (the old behaviour), in one process on the same data.

Tiny data is the worst case: an epoch is two optimizer steps, while one measurement runs the
backbone over a few hundred reference and source-task images and writes a weights file.
Reported as wall and CPU seconds and as a ratio to the run without the monitor. Run from the
repo root:

    python bench/forgetting_cost.py [--epochs 30] [--samples 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()

    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from kiln_lab.engine.monitors import forgetting_callback
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    with np.load(ROOT / "resources" / "demo" / "digits.npz") as data:
        x, y = data["x"], data["y"]
    keep = np.flatnonzero(y >= 5)[: args.samples]
    folder = Path(tempfile.mkdtemp(prefix="kiln-forgetting-cost-"))
    source = folder / "digits_5_9.npz"
    np.savez(source, x=x[keep], y=y[keep])
    base = RunConfig().replace(
        data={"source": str(source)},
        model={"kind": "finetune", "backbone": "demo", "freeze": "none"},
        train={"epochs": args.epochs, "batch_size": 32, "checkpoint": False, "early_stopping": 0},
    )
    run_training(base.replace(train={"forgetting_monitor": False, "epochs": 1}))  # warm-up: TF start, tracing
    results = {}
    for label, monitor, share in (("off", False, None), ("budgeted", True, 0.2), ("every epoch", True, None)):
        forgetting_callback.MONITOR_SHARE = share
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_training(base.replace(train={"forgetting_monitor": monitor}), out_dir=folder / label)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        measured = len((result.record.get("forgetting") or {}).get("measured_epochs") or []) if monitor else 0
        results[label] = (wall, cpu, measured)
    off_wall, off_cpu, _ = results["off"]
    print(f"tiny fine-tune: {args.samples} images, {args.epochs} epochs of 2 steps, demo backbone unfrozen")
    print("| monitor | wall s | CPU s | CPU vs off | epochs measured |")
    print("|---|---:|---:|---:|---:|")
    for label, (wall, cpu, measured) in results.items():
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {cpu / off_cpu:.2f}x | {measured} |")


if __name__ == "__main__":
    main()
