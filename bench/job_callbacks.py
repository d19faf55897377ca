"""What the training job's own callbacks cost inside its fit, hook by hook.

    python bench/job_callbacks.py [--arch mlp] [--epochs 3] [--runs 7]

Runs `run_training` (checkpoints on, as ``bench/train_throughput.py``'s ``kiln``) ``--runs``
times after one warm-up, timing every hook of every callback Keras calls during the fit
(Kiln's and Keras's own), and prints the fit's seconds and each hook's total per fit: medians
over the runs, with the smallest. The whole-fit ratio in ``train_throughput.py`` swings by
10-30 % between rounds on a shared 2-core machine; these sums move far less, so a change to a
callback shows here first. Keras's TensorFlow backend calls every hook on the training thread
(it never dispatches them to its background thread), so each millisecond here is one the fit
waits for.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
    "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
)


def _time_every_hook(cost: collections.Counter) -> None:
    """Wrap each callback's hooks as Keras's CallbackList is made, adding their seconds to ``cost``."""
    from keras.src.callbacks import callback_list

    made = callback_list.CallbackList.__init__

    def wrap(callback: Any) -> None:
        for hook in HOOKS:
            original = getattr(callback, hook)

            def timed(*args: Any, _original: Any = original, _key: str = f"{type(callback).__name__}.{hook}",
                      **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    cost[_key] += time.perf_counter() - started

            setattr(callback, hook, timed)

    def init(self: Any, callbacks: Any = None, *args: Any, **kwargs: Any) -> None:
        for callback in callbacks or []:
            wrap(callback)
        made(self, callbacks, *args, **kwargs)

    callback_list.CallbackList.__init__ = init


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import train_throughput

    cost: collections.Counter = collections.Counter()
    _time_every_hook(cost)
    train_throughput.run_kiln(args.arch, 1)  # warm-up: first imports and graph caches
    runs: list[tuple[float, dict[str, float]]] = []
    for _ in range(args.runs):
        cost.clear()
        runs.append((train_throughput.run_kiln(args.arch, args.epochs)["fit"], dict(cost)))
    totals = [sum(seconds for key, seconds in hooks.items() if not key.startswith("History.")) for _, hooks in runs]
    fit = statistics.median(seconds for seconds, _ in runs)
    print(f"{args.arch}, {args.epochs} epochs, {args.runs} runs: fit {fit * 1000:.0f} ms (median); "
          f"the job's callbacks {statistics.median(totals) * 1000:.1f} ms per fit "
          f"({min(totals) * 1000:.1f}-{max(totals) * 1000:.1f}), {statistics.median(totals) / fit:.1%} of it")
    keys = {key for _, hooks in runs for key in hooks}
    ranked = sorted(keys, key=lambda key: -statistics.median(hooks.get(key, 0.0) for _, hooks in runs))
    for key in ranked[: args.top]:
        values = [hooks.get(key, 0.0) for _, hooks in runs]
        print(f"  {key:<42}{statistics.median(values) * 1000:7.2f} ms  (least {min(values) * 1000:.2f})")


if __name__ == "__main__":
    main()
