"""What the live preview adds to each epoch on demo:digits (the default recipe, and a small MLP).

Each round trains the same config twice, with the preview and without (its callback list made
empty), in alternating order; reports the preview's own seconds per epoch (its event says) and
the ratio of the runs' fit times. Run from the repo root:

    python bench/live_preview_cost.py [--rounds 3] [--epochs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    from kiln_lab.engine.events import EpochEnd, EventRecorder, PreviewPredictions
    from kiln_lab.engine.training import preview
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    real = preview.live_preview
    configs = {
        "default recipe": RunConfig().replace(train={"epochs": args.epochs}),
        "mlp 1x16": RunConfig().replace(model={"arch": "mlp", "depth": 1, "width": 16},
                                        train={"epochs": args.epochs}),
    }
    for label, config in configs.items():
        ratios, preview_s, epoch_s, first_s = [], [], [], []
        run_training(config)  # warm-up: TensorFlow's first graphs and the data cache
        for round_ in range(args.rounds):
            times = {}
            for on in ((True, False) if round_ % 2 == 0 else (False, True)):
                preview.live_preview = real if on else (lambda plan, reporter: [])
                recorder = EventRecorder()
                started = time.perf_counter()
                run_training(config, sink=recorder)
                times[on] = time.perf_counter() - started
                if on:
                    # The first epoch traces the predict function once; the rest is the steady cost.
                    seconds = [p.seconds for p in recorder.of_type(PreviewPredictions)]
                    first_s.append(seconds[0])
                    preview_s += seconds[1:]
                    epoch_s += [e.seconds for e in recorder.of_type(EpochEnd)][1:]
            ratios.append(times[True] / times[False])
        preview.live_preview = real
        print(
            f"{label}: preview {statistics.median(preview_s) * 1000:.1f} ms per epoch (median, after the first), "
            f"epoch {statistics.median(epoch_s) * 1000:.0f} ms -> "
            f"{statistics.median(preview_s) / statistics.median(epoch_s):.1%} of an epoch; first epoch's (traces the "
            f"predict function) {statistics.median(first_s) * 1000:.0f} ms; "
            f"whole run with/without preview: {statistics.median(ratios):.3f}x (median of {args.rounds})"
        )


if __name__ == "__main__":
    main()
