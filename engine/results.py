"""What crosses the engine's front door: plain-value results, readable without TensorFlow.

The engine's own result objects (a `Dataset` with its loader, a Keras model, a `Comparison`
with its statistics) stay in the engine process. The window gets plain copies:

- `DatasetInfo`: a scanned dataset's description (no loader); the same attribute names as
  `engine.data.dataset.Dataset`, so a view can show either.
- `ModelHandle`: names a model the engine process holds (``key``) and where it lives on
  disk (``path``), so a fresh engine process can load it again.
- `Record`: a named bag of plain values for every other result (an evaluation, a comparison,
  advice, a diagnosis). Its methods are computed in the engine when the record is made:
  ``comparison.verdict()`` in the window returns the sentences the engine wrote.

Everything here is built from numbers, strings, lists, dicts and NumPy arrays, so it pickles
through `engine.worker.protocol`'s allow-list and reads the same in the window's process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Returns:
    """A zero-argument method's value, computed in the engine: ``record.verdict()``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self) -> Any:
        return self.value

    def __reduce__(self) -> tuple[Any, ...]:
        return (Returns, (self.value,))


class Record:
    """A result's plain values by name (``record.metrics``), and its methods' values (``record.summary()``)."""

    def __init__(self, kind: str, **values: Any) -> None:
        self.__dict__["kind"] = kind
        self.__dict__["values"] = values

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{self.__dict__.get('kind', 'Record')} has no {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Record is read-only")

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_record, (self.kind, self.values))

    def __repr__(self) -> str:
        return f"Record({self.kind}: {', '.join(self.values)})"


def _make_record(kind: str, values: dict[str, Any]) -> Record:
    return Record(kind, **values)


@dataclass(frozen=True)
class ModelHandle:
    """A model the engine holds: ``key`` in the engine process, ``path`` on disk (None: in memory only)."""

    key: str
    name: str
    path: str | None = None
    image_size: tuple[int, int] | None = None
    record: dict[str, Any] = field(default_factory=dict)  # the run record saved beside exports
    source: str = "run"  # run | file
    weights_epoch: int | None = None  # rolled back to the weights kept after this epoch
    params: int | None = None  # the model's parameter count


@dataclass
class DatasetInfo:
    """A scanned dataset as the window sees it: `Dataset` without the loader."""

    source: str
    source_kind: str
    task: str
    input_kind: str
    input_shape: tuple[int, ...]
    class_names: list[str]
    labels: np.ndarray
    splits: dict[str, np.ndarray]
    report: dict[str, Any]  # Dataset.summary(): the JSON report
    skipped: list[Record] = field(default_factory=list)  # each with .path and .reason
    problems: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # the engine's cache key for the scanned data
    data: Any = None  # the DataConfig it was scanned and split with: what previews and runs ask the engine for

    @property
    def num_samples(self) -> int:
        return int(len(self.labels))

    @property
    def image_size(self) -> tuple[int, int] | None:
        return (int(self.input_shape[0]), int(self.input_shape[1])) if self.input_kind == "image" else None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        if not self.is_classification:
            return {}
        labels = self.labels if split is None else self.labels[self.splits.get(split, np.array([], int))]
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=self.num_classes)
        return {name: int(n) for name, n in zip(self.class_names, counts, strict=False)}

    def split_sizes(self) -> dict[str, int]:
        return {name: int(len(idx)) for name, idx in self.splits.items()}

    def summary(self) -> dict[str, Any]:
        return self.report
