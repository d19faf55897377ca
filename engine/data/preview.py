"""Small previews for the GUI: sample pictures per class, augmentation variants, table rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln_lab.engine.data.augment import augmentation_layers
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.errors import DataError


def sample_thumbnails(
    dataset: Dataset, per_class: int = 6, *, image_size: tuple[int, int] | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """Up to ``per_class`` uint8 ``(k, H, W, C)`` pictures per class name (regression: under "samples").

    Returns an empty dict for datasets that are not images (show `table_preview` instead).
    """
    if dataset.input_kind != "image" or dataset.num_samples == 0:
        return {}
    rng = np.random.default_rng(seed)
    if dataset.is_classification:
        groups = {name: np.flatnonzero(dataset.labels == k) for k, name in enumerate(dataset.class_names)}
    else:
        groups = {"samples": np.arange(dataset.num_samples)}
    thumbnails = {}
    for name, members in groups.items():
        if len(members) == 0:
            thumbnails[name] = np.zeros((0, *_shape(dataset, image_size)), dtype=np.uint8)
            continue
        chosen = np.sort(rng.choice(members, min(per_class, len(members)), replace=False))
        thumbnails[name] = to_uint8(dataset.loader.read(chosen, image_size))
    return thumbnails


def augmentation_preview(
    dataset: Dataset,
    augment: Any,
    n: int = 8,
    seed: int = 0,
    *,
    index: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """``n`` uint8 versions of one training picture as training would see them; the first is unchanged.

    ``index`` picks the sample (default: a seeded choice from the training split).
    """
    if dataset.input_kind != "image":
        raise DataError("Augmentation applies to images, and this dataset holds feature rows.")
    if index is None:
        pool = dataset.splits.get("train", np.arange(dataset.num_samples))
        index = int(np.random.default_rng(seed).choice(pool))
    picture = dataset.loader.read(np.array([index]), image_size)
    batch = np.repeat(picture, n, axis=0)
    layers = augmentation_layers(augment, seed=seed)
    if layers is not None and n > 1:
        varied = np.asarray(layers(batch[1:], training=True))
        batch = np.concatenate([batch[:1], varied], axis=0)
    return to_uint8(batch)


def table_preview(dataset: Dataset, rows: int = 20) -> tuple[list[str], list[list[str]]]:
    """The header and the first ``rows`` rows as text: raw values for tables, encoded ones for arrays."""
    loader = dataset.loader
    if hasattr(loader, "header") and hasattr(loader, "head"):
        return list(loader.header), [list(row) for row in loader.head[:rows]]
    if dataset.input_kind != "vector":
        raise DataError("A table preview needs rows of features, and this dataset holds images.")
    chosen = np.arange(min(rows, dataset.num_samples))
    values = loader.read(chosen)
    header = list(dataset.feature_names) or [f"x{i}" for i in range(values.shape[1])]
    body = []
    for row, index in zip(values, chosen, strict=False):
        label = dataset.labels[index]
        label_text = dataset.class_names[int(label)] if dataset.is_classification else f"{float(label):.6g}"
        body.append([f"{v:.4g}" for v in row] + [label_text])
    return header + ["label"], body


def to_uint8(batch: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(batch, dtype=np.float32)), 0, 255).astype(np.uint8)


def _shape(dataset: Dataset, image_size: tuple[int, int] | None) -> tuple[int, ...]:
    if image_size is None:
        return tuple(dataset.input_shape)
    return (*image_size, *dataset.input_shape[2:])
