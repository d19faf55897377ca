"""Scale-out: the same run config trains under MultiWorkerMirroredStrategy across two processes.

Both workers run on this machine and talk over loopback only; the chief writes the run
folder, the other worker writes into its own private subfolder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_model_and_only_the_chief_writes_the_run_folder(tmp_path: Path) -> None:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    out = tmp_path / "run"
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "train", "--data", "demo:digits", "--out", str(out),
             "--epochs", "2", "--width", "16", "--depth", "1", "--distribution", "multiworker"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    results = [w.communicate(timeout=240) for w in workers]
    for worker, (_stdout, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr[-3000:]
    chief = json.loads((out / "run.json").read_text())
    other = json.loads((out / ".worker-worker-1" / "run.json").read_text())
    assert len(chief["history"]["loss"]) == 2
    assert chief["history"]["loss"] == other["history"]["loss"]  # one model, trained in lockstep
    assert chief["history"]["loss"][1] < chief["history"]["loss"][0]
    assert chief["config"]["train"]["distribution"] == "multiworker"
