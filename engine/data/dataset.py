"""`Dataset`: one description of any data source, plus how to read its samples.

Every source (image folder, CSV, arrays, HDF5, demo) produces a `Dataset`. The description
part (task, input spec, classes, counts, problems) is plain data for reports and the GUI;
the `loader` knows how to turn sample indices into a `tf.data` pipeline without loading
the whole source into memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

CLASSIFICATION = "classification"
REGRESSION = "regression"
IMAGE = "image"
VECTOR = "vector"


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str  # unreadable | truncated | not an image | zero bytes | wrong shape | ... (plain words)

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


class SampleLoader(Protocol):
    """Reads samples of one source by index. Implementations live beside each source."""

    def tf_dataset(self, indices: np.ndarray, image_size: tuple[int, int] | None) -> tf.data.Dataset:
        """Unbatched ``x`` elements (float32) for ``indices``, in that order.

        Images come out as ``(H, W, C)`` float32 in the 0..255 range, resized to
        ``image_size`` when given; vectors as ``(F,)`` float32, already encoded/standardised.
        """
        ...

    def read(self, indices: np.ndarray, image_size: tuple[int, int] | None = None) -> np.ndarray:
        """The same samples as one NumPy batch (for thumbnails, evaluation views, tests)."""
        ...


# Kiln's own loaders (engine/data/loader.py) also offer
#   tf_pairs(indices, labels, image_size, *, shuffle=False, seed=None) -> tf.data.Dataset of (x, y)
# which `make_pipelines` prefers: it shuffles indices before decoding, so the shuffle buffer
# holds numbers rather than decoded pictures. A loader without it still works (zip + shuffle).
# A loader with ``raw_pixels = True`` (image files) also takes ``raw=True, block=N``: uint8
# pixels in blocks of N, each pass ending with an empty block (engine/data/imagedecode.py).


@dataclass
class Dataset:
    source: str
    source_kind: str  # images | csv | arrays | hdf5 | demo
    task: str  # classification | regression
    input_kind: str  # image | vector
    input_shape: tuple[int, ...]  # per sample: (H, W, C) as decoded by default, or (F,)
    class_names: list[str]  # empty for regression
    labels: np.ndarray  # per sample: class index (int64) or target value (float32)
    splits: dict[str, np.ndarray]  # "train" / "val" / "test" -> sample indices
    loader: SampleLoader
    skipped: list[SkippedFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # plain sentences, shown in reports
    feature_names: list[str] = field(default_factory=list)
    paths: list[str] | None = None  # per sample, where there are files
    preprocessing: dict[str, Any] = field(default_factory=dict)  # how raw inputs are encoded

    @property
    def num_samples(self) -> int:
        return int(len(self.labels))

    @property
    def image_size(self) -> tuple[int, int] | None:
        """The default ``(height, width)`` of image samples; None for feature vectors."""
        return (int(self.input_shape[0]), int(self.input_shape[1])) if self.input_kind == IMAGE else None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_classification(self) -> bool:
        return self.task == CLASSIFICATION

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        """Samples per class name, over one split or the whole set."""
        if not self.is_classification:
            return {}
        # Unique samples: a split may list a sample several times (a tiny share tiled so that an
        # epoch holds enough steps), and copies are not data.
        labels = self.labels if split is None else self.labels[np.unique(self.splits.get(split, np.array([], int)))]
        counts = np.bincount(labels.astype(np.int64), minlength=self.num_classes)
        return {name: int(n) for name, n in zip(self.class_names, counts, strict=False)}

    def with_split(self, val_fraction: float, test_fraction: float = 0.0, seed: int = 42) -> Dataset:
        """The same samples split anew (stratified for classification); this one is left as it is."""
        import dataclasses

        from kiln_lab.engine.data.split import stratified_split

        splits = stratified_split(
            self.labels, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
            stratify=self.is_classification,
        )
        return dataclasses.replace(self, splits=splits)

    def split_sizes(self) -> dict[str, int]:
        return {name: int(len(idx)) for name, idx in self.splits.items()}

    def _split_summary(self, name: str) -> dict[str, Any]:
        """Unique samples of one split; ``listed`` too when it lists some several times (tiled copies)."""
        idx = self.splits[name]
        unique = int(len(np.unique(idx)))
        report: dict[str, Any] = {"size": unique, "class_counts": _printable_keys(self.class_counts(name))}
        if unique != len(idx):
            report["listed"] = int(len(idx))
        return report

    def summary(self) -> dict[str, Any]:
        """The dataset report: plain JSON-able data (run.json's ``dataset`` section).

        Names that came from inside the data (classes, features, problems, skipped paths) are
        escaped of control characters, so printing the report cannot drive the terminal.
        """
        from kiln_lab.engine.data.files import printable

        return {
            "source": printable(self.source, limit=4096),
            "source_kind": self.source_kind,
            "task": self.task,
            "input_kind": self.input_kind,
            "input_shape": list(self.input_shape),
            "num_samples": self.num_samples,
            "num_classes": self.num_classes,
            "class_names": [printable(name) for name in self.class_names],
            "class_counts": _printable_keys(self.class_counts()),
            "splits": {name: self._split_summary(name) for name in self.splits},
            "feature_names": [printable(name) for name in self.feature_names],
            "skipped": [{k: printable(v, limit=4096) for k, v in s.to_dict().items()} for s in self.skipped],
            "problems": [printable(problem, limit=1000) for problem in self.problems],
            "preprocessing": self.preprocessing,
        }


def _printable_keys(counts: dict[str, int]) -> dict[str, int]:
    from kiln_lab.engine.data.files import printable

    return {printable(name): count for name, count in counts.items()}
