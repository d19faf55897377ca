"""The one gate every data file passes before Kiln reads it: a regular file, within a budget.

A path that names a named pipe would block a reader forever; one that names a device
(``/dev/zero``, often behind an innocent-looking symlink) never ends; a symlink loop never
resolves. `check_regular_file` turns each of these into a sentence before any byte is read,
and `read_limited` reads a file through a descriptor that is itself checked, so a file
swapped for a pipe between the check and the read cannot block either.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from pathlib import Path
from typing import BinaryIO

from kiln_lab.engine.errors import DataError

FALLBACK_MEMORY = 4 * 2**30  # assumed free memory when the system cannot say
# Characters that reorder the text around them ("Trojan Source"); shown escaped like controls.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: object, limit: int = 200) -> str:
    """``text`` safe to print on a terminal: control characters escaped, long text cut.

    Anything that came out of a file (a header, a class name, a file name) goes through this
    before it reaches a sentence or a report, so a file cannot move the cursor, recolour the
    terminal or hide text with escape sequences.
    """
    out = []
    for char in str(text):
        if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    result = "".join(out)
    return result if len(result) <= limit else result[: limit - 3] + "..."


def kind_of(mode: int) -> str:
    """Plain words for what a non-regular file is."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def check_regular_file(path: str | os.PathLike[str], *, budget: int | None = None, what: str = "file") -> int:
    """The size of ``path`` in bytes; raises `DataError` unless it is a regular file within ``budget``.

    Symlinks are followed (a link to a regular file is fine), but a loop, a dangling link or
    a link to a pipe or device is refused. Nothing is opened.
    """
    path = Path(path)
    name = printable(path.name or str(path))
    try:
        info = os.stat(path)  # follows symlinks
    except OSError as exc:
        raise _stat_error(path, name, exc) from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"{name} is {kind_of(info.st_mode)}, not a regular file, so Kiln will not read it.",
            hint=f"Choose a regular {what}.",
        )
    if budget is not None and info.st_size > budget:
        raise DataError(
            f"{name} is {human_bytes(info.st_size)}, more than the {human_bytes(budget)} Kiln can read "
            f"into memory for a {what} on this machine.",
            hint="Use a smaller file, or convert it to .npy or HDF5, which Kiln streams from disk.",
        )
    return int(info.st_size)


def read_limited(path: str | os.PathLike[str], budget: int, *, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``budget`` bytes (`DataError` otherwise).

    The descriptor is opened without blocking and checked again with ``fstat``, so a pipe
    put in the file's place after `check_regular_file` is refused rather than waited on.
    """
    path = Path(path)
    size = check_regular_file(path, budget=budget, what=what)
    name = printable(path.name)
    with open_regular(path) as handle:
        # Sized by the file, not the budget: read(n) sets aside n bytes before reading any.
        data = handle.read(min(size, budget) + 1)
        if len(data) > size:  # it grew since: never more than the budget
            data += handle.read(budget + 1 - len(data))
    if len(data) > budget:
        raise DataError(
            f"{name} grew past {human_bytes(budget)} while Kiln read it.", hint="Try again once it is written."
        )
    return data


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a file for reading only if it is a regular file, without ever blocking on a pipe."""
    path = Path(path)
    name = printable(path.name)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _stat_error(path, name, exc) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise DataError(f"{name} is {kind_of(mode)}, not a regular file, so Kiln will not read it.")
    return os.fdopen(fd, "rb")


def memory_budget() -> int:
    """A quarter of the memory available now: the most one data file may take when read whole."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        available = 0
    return int(available // 4) if available > 0 else FALLBACK_MEMORY // 4


def human_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(count) < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} PB"  # pragma: no cover - the loop always returns


def _stat_error(path: Path, name: str, exc: OSError) -> DataError:
    if exc.errno == errno.ELOOP:
        return DataError(f"{name} is a symbolic link that loops back on itself.", hint="Point it at a real file.")
    if exc.errno == errno.ENOENT and path.is_symlink():
        return DataError(f"{name} is a symbolic link to a file that does not exist.", hint="Point it at a real file.")
    if exc.errno == errno.ENOENT:
        return DataError(f"The file {name} does not exist.", hint="Check the path, or choose the file again.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DataError(f"Kiln may not read {name} (permission denied).", hint="Check the file's permissions.")
    return DataError(f"Cannot read {name}: {printable(exc.strerror or exc)}.")
