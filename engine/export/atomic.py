"""Atomic writes: write beside the target, then rename over it.

A crash or a full disk mid-write leaves the previous file (or folder) intact, because the
target is only ever replaced by ``os.replace``, which is atomic on one filesystem. A process
killed mid-write leaves its hidden temporary (``.<name>.tmp-<pid>-…``) behind; the next write
to the same target removes those whose process no longer runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary file path beside ``target``; on success it replaces ``target``.

    ``suffix`` defaults to the target's own (Keras picks the format from it).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.tmp-{os.getpid()}-",
        suffix=(target.suffix if suffix is None else suffix),
        dir=target.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers (Keras, h5py) want to create the file themselves
    try:
        yield tmp
        if not tmp.exists():
            raise OSError(f"nothing was written to {tmp}")
        _fsync(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    Folders cannot be swapped in one step, so the old one is first renamed aside and only
    deleted once the new one is in place.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    shutil.rmtree(tmp)  # writers (SavedModel export) want to create it themselves
    old = None
    try:
        yield tmp
        if not tmp.exists():
            raise OSError(f"nothing was written to {tmp}")
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove hidden temporaries of ``target`` that an interrupted save left; returns what went.

    Ours are named ``.<name>.tmp-<pid>-…`` (or ``.<name>.old-<pid>`` for a folder swap) and
    are removed when that process no longer runs. Older Kiln versions named them
    ``.<name>.<random>``; those go once they are an hour old.
    """
    target = Path(target)
    removed: list[Path] = []
    ours = re.compile(rf"^\.{re.escape(target.name)}\.(?:tmp|old)-(\d+)(?:-.*)?$")
    legacy = re.compile(rf"^\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{re.escape(target.suffix)}$")
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return removed
    for path in siblings:
        match = ours.match(path.name)
        stale = match is not None and not process_running(int(match.group(1)))
        if not stale and legacy.match(path.name):
            with contextlib.suppress(OSError):
                stale = time.time() - path.lstat().st_mtime > 3600
        if not stale:
            continue
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def process_running(pid: int) -> bool:
    """Whether process ``pid`` still runs (its temp files are not stale); True when we cannot tell."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or no permission to ask: assume it runs
        return True
    return True


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb") as handle:
        os.fsync(handle.fileno())
