"""Resident memory at every epoch end of one training run: where peak memory grows.

    python bench/memory_by_epoch.py FOLDER [--epochs 8] [--arenas N]

Trains the MLP preset (64x64 images, batch 32, no checkpoints) on an image folder, with the
cache budget from the environment (``KILN_CACHE_MEMORY_MB=1`` sends the cache to disk), and
prints one line per stage: current resident memory, the peak so far, and its anonymous and
file-backed parts from ``/proc/self/status`` (Linux). ``--arenas N`` limits glibc's malloc to
N arenas before TensorFlow starts (the same as ``MALLOC_ARENA_MAX=N``), to see how much of
the growth is the allocator's. ``bench/memory.py`` makes the folders (``kiln-bench-subsets``
in the temporary folder).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def memory_mb() -> dict[str, float]:
    """Resident memory now, its peak, and (on Linux) its anonymous and file-backed parts."""
    row = {"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(("VmRSS", "RssAnon", "RssFile")):
                    row[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return {key: round(value, 1) for key, value in row.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--arenas", type=int, help="limit glibc malloc to this many arenas (Linux)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.arenas:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, args.arenas)  # before any thread allocates

    from kiln_lab.engine import events as ev
    from kiln_lab.engine.runtime import import_tensorflow_quietly

    stages: list[dict] = []
    started = time.perf_counter()

    def mark(stage: str) -> None:
        stages.append({"stage": stage, "s": round(time.perf_counter() - started, 2), **memory_mb()})
        print(json.dumps(stages[-1]), flush=True)

    mark("start")
    import_tensorflow_quietly()
    mark("tensorflow")
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    config = RunConfig().replace(
        data={"source": str(args.folder), "image_size": (64, 64)},
        model={"arch": "mlp"},
        train={"epochs": args.epochs, "batch_size": 32, "checkpoint": False},
    )

    def sink(event: object) -> None:
        if isinstance(event, ev.EpochEnd):
            mark(f"epoch {event.epoch + 1}")
        elif isinstance(event, (ev.RunStarted, ev.Finished)):
            mark(type(event).__name__)

    result = run_training(config, sink=sink)
    mark("end")
    if args.json:
        args.json.write_text(json.dumps({"samples": result.dataset.num_samples, "stages": stages}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
