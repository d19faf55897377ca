"""Builders for the bad-input corpus: awkward and hostile data files, made in a test's tmp_path.

Each builder writes one file (or link) and returns its path. `tests/test_bad_inputs.py`
says what Kiln must do with each: load it with a shape, skip rows with a reason, or refuse
it with a sentence. The audit's own corpus is larger; these are its cases that data files
can show.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

TABLE_ROWS = [("1.5", "red", "a"), ("2.5", "blue", "b"), ("3.0", "red", "a"), ("4.25", "green", "b")] * 3


def csv_text(delimiter: str = ",", rows=TABLE_ROWS, header=("size", "colour", "label")) -> str:
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def random_bytes(folder: Path, name: str = "noise.csv", size: int = 4096, seed: int = 0) -> Path:
    path = folder / name
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def fifo(folder: Path, name: str = "pipe.csv") -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def symlink(folder: Path, name: str, target: str | Path) -> Path:
    path = folder / name
    os.symlink(target, path)
    return path


def npz(folder: Path, name: str = "data.npz", **arrays: np.ndarray) -> Path:
    path = folder / name
    np.savez(path, **arrays)
    return path


def truncated(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def npy_header_only(path: Path, shape: tuple[int, ...], dtype: str = "<f4") -> Path:
    """An .npy file whose header declares ``shape`` but holds no data (a few hundred bytes)."""
    from numpy.lib import format as npformat

    with open(path, "wb") as handle:
        npformat.write_array_header_1_0(handle, {"descr": dtype, "fortran_order": False, "shape": shape})
    return path


def npz_with_lying_member(folder: Path, name: str, shape: tuple[int, ...]) -> Path:
    """A .npz whose ``x`` member declares ``shape`` (huge) but stores only its header."""
    from numpy.lib import format as npformat

    header = io.BytesIO()
    npformat.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    labels = io.BytesIO()
    np.save(labels, np.arange(4))
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue())
        archive.writestr("y.npy", labels.getvalue())
    return path


class Detonator:
    """Unpickling this writes a marker file: proof that a loader ran code from the data."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "ran"))


def h5(folder: Path, name: str = "data.h5", **datasets: np.ndarray) -> Path:
    import h5py

    path = folder / name
    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            handle[key] = value
    return path
