"""The live preview: the current model's predictions on a few fixed samples after each epoch.

Create ML shows, while a model trains, what it now predicts on a handful of pictures; Kiln
does the same. The samples are chosen once per run from the validation split (else the test
split, else the training one), seeded by the run's split seed and spread over the classes, so
every epoch (every phase, and a resumed run) shows the same ones. They are read once, at the
model's input size; each epoch costs one ``predict_on_batch`` on that small batch, never a pass
over the data. The job hooks it in with `live_preview` (``job._phase_callbacks``), after the
epoch's own `EpochEnd`, so the preview reads as that epoch's.
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras
import numpy as np

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.preview import to_uint8
from kiln_lab.engine.events import EventSink, PreviewPredictions
from kiln_lab.engine.models.heads import class_probabilities

IMAGE_SAMPLES = 8  # pictures in the preview
ROW_SAMPLES = 5  # table rows in the preview
THUMBNAIL_SIDE = 64  # thumbnails cross the process boundary: at most this many pixels a side
ROW_COLUMNS = 6  # a table row shows at most this many of its input columns


def preview_split(dataset: Dataset) -> str | None:
    """The split the preview samples come from: validation, else test, else training; None if empty."""
    for split in ("val", "test", "train"):
        if len(dataset.splits.get(split, ())) > 0:
            return split
    return None


def choose_samples(dataset: Dataset, count: int, seed: int) -> tuple[str, np.ndarray]:
    """``count`` sample indices of the preview split, seeded, spread over the classes (one of each in
    turn, classes in order); regression: a seeded choice. Same dataset and seed, same samples."""
    split = preview_split(dataset)
    if split is None:
        return "", np.zeros(0, dtype=np.int64)
    pool = np.asarray(dataset.splits[split], dtype=np.int64)
    rng = np.random.default_rng(seed)
    if not dataset.is_classification:
        return split, np.sort(rng.choice(pool, min(count, len(pool)), replace=False))
    labels = dataset.labels[pool]
    # Each class's members in a seeded order; then one from each class in turn until there are enough.
    queues = [list(rng.permutation(pool[labels == k])) for k in range(dataset.num_classes)]
    chosen: list[int] = []
    while len(chosen) < min(count, len(pool)):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(int(queue.pop(0)))
    return split, np.asarray(chosen, dtype=np.int64)


def thumbnails(images: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """uint8 copies at most ``side`` pixels a side (every k-th pixel: cheap, and only for showing)."""
    step = max(1, math.ceil(max(images.shape[1], images.shape[2]) / side))
    return np.ascontiguousarray(to_uint8(images[:, ::step, ::step]))


def row_values(dataset: Dataset, encoded: np.ndarray) -> list[list[tuple[str, str]]]:
    """Each row's input values as a person reads them: a table's own columns decoded back from the
    model's encoding (numbers un-standardised, categories by name); arrays' features un-standardised."""
    prep = dataset.preprocessing or {}
    rows: list[list[tuple[str, str]]] = []
    if prep.get("kind") == "tabular":
        columns = [c for c in prep.get("columns", []) if c.get("type") in ("numeric", "categorical")]
        for vector in encoded:
            at, row = 0, []
            for column in columns:
                if column["type"] == "numeric":
                    value = float(vector[at]) * float(column["std"]) + float(column["mean"])
                    row.append((str(column["name"]), f"{value:.4g}"))
                    at += 1
                else:
                    categories = list(column["categories"])
                    block = vector[at : at + len(categories)]
                    row.append((str(column["name"]), str(categories[int(np.argmax(block))]) if block.any() else ""))
                    at += len(categories)
            rows.append(row[:ROW_COLUMNS])
        return rows
    names = list(dataset.feature_names) or [f"x{i + 1}" for i in range(encoded.shape[1])]
    mean, std = prep.get("mean"), prep.get("std")
    values = encoded
    if mean is not None and std is not None and len(mean) == encoded.shape[1]:
        values = encoded * np.asarray(std, np.float32) + np.asarray(mean, np.float32)
    for vector in values:
        rows.append([(str(name), f"{float(v):.4g}") for name, v in zip(names, vector, strict=False)][:ROW_COLUMNS])
    return rows


class LivePreview(keras.callbacks.Callback):
    """After each epoch, predicts on the fixed batch and sends `PreviewPredictions`.

    ``every``: send every N-th epoch (1: each; the last epoch of a fit always gets one).
    ``skip``: a callable that says to send nothing now (the run's loss turned NaN).
    """

    def __init__(
        self,
        sink: EventSink,
        dataset: Dataset,
        image_size: tuple[int, int] | None,
        *,
        seed: int = 0,
        every: int = 1,
        skip: Any = None,
    ) -> None:
        super().__init__()
        self.sink = sink
        self.dataset = dataset
        self.every = max(1, int(every))
        self.skip = skip
        count = IMAGE_SAMPLES if dataset.input_kind == "image" else ROW_SAMPLES
        self.split, self.indices = choose_samples(dataset, count, seed)
        self.batch = dataset.loader.read(self.indices, image_size) if len(self.indices) else None
        self.images = thumbnails(self.batch) if self.batch is not None and dataset.input_kind == "image" else None
        self.rows = row_values(dataset, self.batch) if self.batch is not None and self.images is None else None
        self._last_epoch = -1

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._last_epoch = int(self.params.get("epochs", 0) or 0) - 1 if self.params else -1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.batch is None or (self.skip is not None and self.skip()):
            return
        if (epoch + 1) % self.every and epoch != self._last_epoch:
            return
        started = time.perf_counter()
        outputs = np.asarray(keras.ops.convert_to_numpy(self.model.predict_on_batch(self.batch)))
        samples = self.describe(outputs)
        self.sink(
            PreviewPredictions(
                epoch=int(epoch),
                task=self.dataset.task,
                split=self.split,
                samples=samples,
                images=self.images,
                seconds=time.perf_counter() - started,
            )
        )

    def describe(self, outputs: np.ndarray) -> list[dict[str, Any]]:
        """One plain dict per sample: the true and predicted label (or value), confidence, right or wrong."""
        dataset = self.dataset
        truths = dataset.labels[self.indices]
        samples: list[dict[str, Any]] = []
        if dataset.is_classification:
            probs = class_probabilities(outputs)
            predicted = probs.argmax(axis=1)
            names = dataset.class_names
            for i, index in enumerate(self.indices):
                true, guess = int(truths[i]), int(predicted[i])
                samples.append({
                    "index": int(index), "true": str(names[true]), "predicted": str(names[guess]),
                    "confidence": float(probs[i, guess]), "right": true == guess,
                })
        else:
            values = outputs.reshape(len(self.indices), -1)[:, 0]
            for i, index in enumerate(self.indices):
                samples.append({
                    "index": int(index), "true": float(truths[i]), "predicted": float(values[i]),
                    "confidence": None, "right": None,
                })
        if self.rows is not None:
            for sample, row in zip(samples, self.rows, strict=True):
                sample["values"] = row
        return samples


def live_preview(plan: Any, reporter: Any) -> list[Any]:
    """The phase's preview callback (a list of one), or none: nobody listens (the sink drops every
    event, or previews: a terminal), or a multi-worker run (each worker would send its own).
    ``plan``: the job's `RunPlan`; ``reporter``: its `EventReporter` (the sink, and whether the
    loss turned NaN)."""
    from kiln_lab.engine.events import sink_takes

    config = plan.config
    if not sink_takes(reporter.sink, PreviewPredictions) or config.train.distribution == "multiworker":
        return []
    return [
        LivePreview(
            reporter.sink,
            plan.dataset,
            plan.built.image_size,
            seed=config.data.seed,
            skip=lambda: reporter.nan_detected,
        )
    ]
