"""Seeded, stratified train / validation / test splits."""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray, *, val_fraction: float, test_fraction: float = 0.0, seed: int = 42, stratify: bool = True
) -> dict[str, np.ndarray]:
    """Split sample indices so that every class keeps its share in each part.

    Each class with at least two samples keeps at least one in training; the validation
    and test parts get ``round(n * fraction)`` of every class. For regression pass
    ``stratify=False`` and the split is a seeded shuffle.
    """
    rng = np.random.default_rng(seed)
    groups = [np.arange(len(labels))]
    if stratify:
        groups = [np.flatnonzero(labels == value) for value in np.unique(labels)]
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for group in groups:
        group = rng.permutation(group)
        n = len(group)
        n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
        n_test = int(round(n * test_fraction)) if test_fraction > 0 else 0
        if n >= 2 and val_fraction > 0:
            n_val = max(n_val, 1)
        while n_val + n_test >= n and n_val + n_test > 0:  # always leave one to train on
            if n_test >= n_val and n_test > 0:
                n_test -= 1
            else:
                n_val -= 1
        parts["val"].append(group[:n_val])
        parts["test"].append(group[n_val : n_val + n_test])
        parts["train"].append(group[n_val + n_test :])
    out = {name: np.sort(np.concatenate(chunks)).astype(np.int64) for name, chunks in parts.items() if chunks}
    if test_fraction <= 0:
        out.pop("test", None)
    if val_fraction <= 0:
        out.pop("val", None)
    return out
