"""Training throughput in the app's engine worker process against the CLI's in-process call.

    python bench/worker_throughput.py [--epochs 8] [--rounds 3] [--arch mlp]

Both train the same config on ``demo:digits`` through the same front door (`engine.api.train`):
once called in this process with the CLI's own progress printer as the sink (to a null device),
as ``kiln train`` does, and once sent to an engine worker process
(`engine.worker.client.EngineProcess`, as the app does; the worker runs at its own niceness).
Rounds are interleaved and the medians compared; the worker's clock starts when the task is
sent and stops when its result arrives, so the pipe, the pickling and the events count. The
worker is started and warmed (TensorFlow imported, one short run) before the clocks start, as
the in-process side is. Target: the worker within 3 % of the CLI (ratio >= 0.97).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class WorkerSide:
    def __init__(self) -> None:
        from kiln_lab.engine.worker.client import EngineProcess

        self.messages: dict[int, dict] = {}
        self.ready = threading.Event()
        self.done: dict[int, threading.Event] = {}
        self.process = EngineProcess(self._on_message, lambda code: None)
        self.process.start()
        self.next_id = 1

    def _on_message(self, message: dict) -> None:
        if message["op"] == "ready":
            self.ready.set()
        elif message["op"] in ("result", "error"):
            self.messages[message["id"]] = message
        elif message["op"] == "done":
            self.done[message["id"]].set()

    def train(self, config) -> tuple[float, float]:
        call_id, self.next_id = self.next_id, self.next_id + 1
        self.done[call_id] = threading.Event()
        started = time.perf_counter()
        self.process.send({"op": "call", "id": call_id, "task": "train", "kwargs": {"config": config}})
        self.done[call_id].wait(900)
        seconds = time.perf_counter() - started
        message = self.messages[call_id]
        if message["op"] == "error":
            raise RuntimeError(message["error"].sentence)
        return seconds, float(message["value"].samples_per_second)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from kiln_lab.engine import api
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.progress import TerminalProgress

    config = RunConfig().replace(model={"kind": "scratch", "arch": args.arch},
                                 train={"epochs": args.epochs, "batch_size": 32, "checkpoint": False})
    warm = config.replace(train={"epochs": 1})
    worker = WorkerSide()
    worker.ready.wait(600)
    worker.train(warm)
    null = open(os.devnull, "w")  # noqa: SIM115 - open for the whole benchmark
    api.train(warm, sink=TerminalProgress(null))
    cli_times, cli_rates, worker_times, worker_rates = [], [], [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        outcome = api.train(config, sink=TerminalProgress(null))
        cli_times.append(time.perf_counter() - started)
        cli_rates.append(outcome.samples_per_second)
        seconds, rate = worker.train(config)
        worker_times.append(seconds)
        worker_rates.append(rate)
    worker.process.shutdown()
    results = {
        "arch": args.arch, "epochs": args.epochs, "rounds": args.rounds,
        "cli_seconds": [round(t, 2) for t in cli_times], "worker_seconds": [round(t, 2) for t in worker_times],
        "cli_samples_per_s": [round(r) for r in cli_rates], "worker_samples_per_s": [round(r) for r in worker_rates],
        # > 1: the worker is faster. Time of the whole call (what the person waits), and the job's own rate.
        "ratio_time": round(statistics.median(cli_times) / statistics.median(worker_times), 3),
        "ratio_rate": round(statistics.median(worker_rates) / statistics.median(cli_rates), 3),
    }
    results["target_met"] = results["ratio_time"] >= 0.97
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
