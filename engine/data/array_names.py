"""Which arrays of a file hold the inputs and the labels: the configured names, or a common spelling.

Shared by the NumPy readers (`numpyfiles`, `arrays`) and HDF5 (`hdf5`), below all three.
"""

from __future__ import annotations

from kiln_lab.engine.data.files import printable
from kiln_lab.engine.errors import DataError

X_NAMES = ("x", "X", "images", "inputs", "features", "data", "x_train")
Y_NAMES = ("y", "Y", "labels", "label", "targets", "target", "y_train")


def pick_keys(names: list[str], x_key: str, y_key: str, where: str) -> tuple[str, str]:
    """The arrays to use: the configured names, else (for the defaults) a common spelling."""
    x_name = x_key if x_key in names else None
    y_name = y_key if y_key in names else None
    if x_name is None and x_key == "x":
        x_name = next((n for n in X_NAMES if n in names), None)
    if y_name is None and y_key == "y":
        y_name = next((n for n in Y_NAMES if n in names), None)
    missing = [key for key, found in ((x_key, x_name), (y_key, y_name)) if found is None]
    if missing:
        raise DataError(
            f"{printable(where)} has no array called '{printable(missing[0])}'.",
            hint=f"It holds: {printable(', '.join(names)) or 'nothing'}. "
            "Set the input and label array names (x_key, y_key).",
        )
    return str(x_name), str(y_name)
