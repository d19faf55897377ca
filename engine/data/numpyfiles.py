"""Reading ``.npy`` and ``.npz`` files safely: headers are checked before any array is loaded.

A NumPy file says its shape and data type in a short header. Kiln reads that header first
and refuses, with a sentence, a file that stores Python objects (loading them would need
pickle, which can run code), declares more data than it holds (truncated), or declares more
than fits the memory budget, so a tiny file cannot make Kiln allocate gigabytes.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from kiln_lab.engine.data.array_names import pick_keys
from kiln_lab.engine.data.files import check_regular_file, human_bytes, memory_budget, open_regular, printable
from kiln_lab.engine.errors import DataError

_NPY_MAGIC = b"\x93NUMPY"
# What a damaged file can raise from zipfile, zlib and NumPy's readers (an unknown compression
# method, a member flagged as encrypted, a cut header ...).
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    struct.error,
    OSError,
    ValueError,
    KeyError,
    NotImplementedError,
    RuntimeError,
)


class Declared:
    """What a NumPy header promises: shape, data type and the bytes that follow it."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=object)) * self.dtype.itemsize


def read_header(handle: IO[bytes], name: str) -> tuple[Declared, int]:
    """The declared array of an open ``.npy`` stream and the header's length in bytes."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(handle)
        if version == (1, 0):
            shape, _fortran, dtype = npformat.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _fortran, dtype = npformat.read_array_header_2_0(handle)
        else:  # 3.0 (UTF-8 field names) has no public reader
            shape, _fortran, dtype = npformat._read_array_header(handle, version)
    except _DAMAGED as exc:
        raise DataError(
            f"{name} is not a readable NumPy array ({printable(exc)}).", hint="Save it again with numpy.save."
        ) from None
    return Declared(shape, dtype), int(handle.tell())


def check_declared(declared: Declared, name: str, *, payload: int, budget: int | None) -> None:
    """Refuse object arrays, truncated data (``payload`` bytes present) and arrays over ``budget``."""
    if declared.dtype.hasobject:
        raise DataError(
            f"{name} stores Python objects (dtype=object), which Kiln does not load: reading them could run code.",
            hint="Save plain numeric or string arrays instead.",
        )
    if declared.nbytes > payload:
        raise DataError(
            f"{name} is truncated: its header declares shape {declared.shape} ({human_bytes(declared.nbytes)}) "
            f"but only {human_bytes(payload)} follow it.",
            hint="Copy or save the file again.",
        )
    if budget is not None and declared.nbytes > budget:
        raise DataError(
            f"{name} declares shape {declared.shape} ({human_bytes(declared.nbytes)}), more than the "
            f"{human_bytes(budget)} Kiln can hold in memory on this machine.",
            hint="Use fewer samples, or save the inputs as .npy or HDF5, which Kiln streams from disk.",
        )


def open_npy(path: Path, *, in_memory: bool = False) -> np.ndarray:
    """A ``.npy`` array, memory-mapped (or read whole when ``in_memory``, within the memory budget)."""
    name = printable(path.name)
    size = check_regular_file(path, what=".npy file")
    if size == 0:
        raise DataError(f"{name} is empty (0 bytes).", hint="Save the array with numpy.save.")
    with open_regular(path) as handle:
        if handle.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise DataError(f"{name} is not a NumPy array file (.npy).", hint="Save it with numpy.save.")
        handle.seek(0)
        declared, header = read_header(handle, name)
    check_declared(declared, name, payload=size - header, budget=memory_budget() if in_memory else None)
    try:
        if declared.nbytes == 0:  # an empty array cannot be memory-mapped
            return np.load(path, allow_pickle=False)
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        return np.array(array) if in_memory else array
    except _DAMAGED as exc:
        raise DataError(
            f"{name} is not a readable .npy file ({printable(exc)}).", hint="Save it with numpy.save."
        ) from None


def load_npz(path: Path, *, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Inputs, labels and their member names from a ``.npz`` archive, headers checked first."""
    name = printable(path.name)
    if check_regular_file(path, what=".npz file") == 0:
        raise DataError(f"{name} is empty (0 bytes).", hint="Save inputs and labels with numpy.savez.")
    with open_regular(path) as handle:
        start = handle.read(len(_NPY_MAGIC))
    if start == _NPY_MAGIC:
        raise DataError(f"{name} is a single .npy array saved under a .npz name.", hint="Rename it to .npy.")
    if start.startswith(b"PK\x03\x04") and not zipfile.is_zipfile(path):
        raise DataError(
            f"{name} is damaged or truncated: it starts like a NumPy archive but its end is missing.",
            hint="Copy or save the file again.",
        )
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{name} is not a NumPy archive (.npz): it is not a zip file.",
            hint="Save inputs and labels with numpy.savez(path, x=..., y=...).",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
            x_name, y_name = pick_keys(sorted(members), x_key, y_key, name)
            total = 0
            for member in (x_name, y_name):
                info = members[member]
                label = f"{name} ({printable(member)})"
                with archive.open(info) as stream:
                    declared, header = read_header(stream, label)
                check_declared(declared, label, payload=info.file_size - header, budget=None)
                total += declared.nbytes
            budget = memory_budget()
            if total > budget:  # members are compressed: NumPy can only read them whole
                raise DataError(
                    f"{name} holds {human_bytes(total)} of arrays, more than the {human_bytes(budget)} Kiln can "
                    "hold in memory on this machine.",
                    hint="Save the inputs as .npy or HDF5 instead: Kiln streams those from disk.",
                )
        with np.load(path, allow_pickle=False) as npz:
            return npz[x_name], npz[y_name], [x_name, y_name]
    except DataError:
        raise
    except _DAMAGED as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{name} is damaged or truncated ({printable(detail)}).",
            hint="Copy or save the file again.",
        ) from None

