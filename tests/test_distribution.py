"""Scale-out: the same run config trains under MultiWorkerMirroredStrategy across two processes.

Both workers run on this machine and talk over loopback only; the chief writes the run
folder, the other worker writes into its own private subfolder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
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


def _start_workers(out: Path, epochs: int) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "train", "--data", "demo:digits", "--out", str(out),
             "--epochs", str(epochs), "--width", "16", "--depth", "1", "--distribution", "multiworker"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    return workers


@pytest.mark.stress  # ~80 s of four worker processes: `pytest -m stress`
def test_a_killed_worker_run_restarts_from_its_backup_and_completes(tmp_path: Path) -> None:
    """Kill worker 1 mid-run; the chief's collective ops then fail or stall, so the whole job is
    started again with the same command (what a cluster scheduler does), and BackupAndRestore
    continues it from the last epoch backed up instead of epoch 1."""
    from kiln_lab.engine.training.checkpoint import read_checkpoint

    out, epochs = tmp_path / "run", 12
    workers = _start_workers(out, epochs)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        checkpoint = read_checkpoint(out / "checkpoint") if (out / "checkpoint").exists() else None
        if checkpoint is not None and checkpoint.completed_epochs >= 2 or workers[0].poll() is not None:
            break
        time.sleep(0.2)
    assert workers[0].poll() is None, "ended before the kill: " + workers[0].stderr.read()[-2000:]
    assert (out / "backup").is_dir()
    workers[1].send_signal(signal.SIGKILL)
    try:
        workers[0].wait(timeout=30)  # the chief fails once its peer is gone...
    except subprocess.TimeoutExpired:
        workers[0].kill()  # ...or waits on it for good: the scheduler stops it either way
    for worker in workers:
        worker.communicate()

    restarted = _start_workers(out, epochs)
    results = [w.communicate(timeout=300) for w in restarted]
    for worker, (_stdout, stderr) in zip(restarted, results):
        assert worker.returncode == 0, stderr[-3000:]
    first_epoch_shown = int(re.search(r"epoch (\d+)/", results[0][0] + results[0][1]).group(1))  # progress: stderr
    assert first_epoch_shown >= 3  # continued after the backed-up epochs, not from epoch 1
    record = json.loads((out / "run.json").read_text())
    assert record["reason"] == "completed"
    assert len(record["history"]["loss"]) == epochs  # the epochs before the kill are kept too
    assert record["history"]["loss"][-1] < record["history"]["loss"][0]
    assert not (out / "backup").exists()  # removed once training finished
