"""One process at a time per run folder: an operating-system lock, released when the process ends.

Two ``kiln train --out H`` started together would both pass the "folder holds another run"
check and then write the same files. The lock is taken before that check and held until the
run is saved. It is the OS's own lock (``fcntl.flock`` on Linux and macOS,
``msvcrt.locking`` on Windows) on a small file in Kiln's data folder, named by the run
folder's full path: the kernel drops it when its process ends, however it ends (kill -9
included), so a stale lock never blocks a later run; and a refused run leaves its folder as
it was (the lock file is not in it). The file holds the holder's process id, so the refusal
names the other process.

A process re-entering the lock for the same folder (the CLI's command, then the training
job it calls) gets it at once. Multi-worker jobs lock per worker (``TF_CONFIG``'s task), since
each worker writes its own part of the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from kiln_lab.engine.errors import ConfigError

_PID_OFFSET = 16  # the pid is written past the locked byte (Windows locks are mandatory: unreadable)
_held: dict[str, list[int]] = {}  # lock name -> [descriptor, depth] held by this process
_guard = threading.Lock()


def lock_path(out_dir: Path) -> Path:
    """The lock file for ``out_dir`` (in Kiln's data folder, named by the folder's full path)."""
    from kiln_lab.engine.paths import user_data_dir

    key = str(Path(out_dir).expanduser().resolve()) + _worker_suffix()
    return user_data_dir() / "locks" / f"{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}.lock"


@contextlib.contextmanager
def run_folder_lock(out_dir: Path) -> Iterator[None]:
    """Hold the run folder ``out_dir`` for this process; `ConfigError` naming the holder if another has it."""
    path = lock_path(out_dir)
    name = str(path)
    with _guard:
        if name in _held:
            _held[name][1] += 1
            fd = None
        else:
            fd = _acquire(path, out_dir)
            _held[name] = [fd, 1]
    try:
        yield
    finally:
        with _guard:
            _held[name][1] -= 1
            if _held[name][1] == 0:
                _release(_held.pop(name)[0])


def _acquire(path: Path, out_dir: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock(fd)
    except OSError:
        holder = _holder(fd)
        os.close(fd)
        who = f"process {holder}" if holder else "another process"
        raise ConfigError(
            f"Another Kiln run ({who}) is writing the run folder {out_dir} right now.",
            hint="Wait for that run to end, or pick another folder for --out.",
        ) from None
    os.ftruncate(fd, _PID_OFFSET)
    os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _holder(fd: int) -> int | None:
    try:
        os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def _release(fd: int) -> None:
    try:
        _unlock(fd)
    finally:
        os.close(fd)  # never unlinked: another process may already hold the file open, waiting


def _worker_suffix() -> str:
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task") or {}
    except (ValueError, AttributeError):
        return ""
    return f"#{task.get('type')}-{task.get('index')}" if isinstance(task, dict) and task else ""


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
