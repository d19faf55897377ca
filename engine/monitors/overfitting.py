"""Watching for the known risks while a run trains: small data and overfitting.

Each check returns a plain sentence (or None); the training job sends it as a `RunWarning`.
"""

from __future__ import annotations

from kiln_lab.engine.data.dataset import Dataset

SMALL_DATA_PER_CLASS = 30


def small_data_warning(dataset: Dataset, model_kind: str) -> str | None:
    """A from-scratch model on few samples per class is likely to overfit; say so up front."""
    if not dataset.is_classification or model_kind != "scratch":
        return None
    counts = [c for c in dataset.class_counts("train").values() if c > 0]
    if not counts or min(counts) >= SMALL_DATA_PER_CLASS:
        return None
    return (
        f"Only {min(counts)} training samples in the smallest class. A model trained from scratch on this little "
        "data is likely to overfit; fine-tuning a pretrained backbone usually needs far less data."
    )


class OverfittingWatch:
    """Flags a run whose validation loss keeps rising while its training loss keeps falling."""

    def __init__(self, patience: int = 3) -> None:
        self.patience = patience
        self.best_val = float("inf")
        self.best_epoch = -1
        self.warned = False
        self._train_losses: list[float] = []

    def update(self, epoch: int, logs: dict[str, float]) -> str | None:
        loss, val_loss = logs.get("loss"), logs.get("val_loss")
        if loss is None or val_loss is None:
            return None
        self._train_losses.append(loss)
        if val_loss < self.best_val:
            self.best_val, self.best_epoch = val_loss, epoch
            return None
        rising_for = epoch - self.best_epoch
        train_still_falling = len(self._train_losses) > rising_for and loss < self._train_losses[-1 - rising_for]
        if self.warned or rising_for < self.patience or not train_still_falling:
            return None
        self.warned = True
        return (
            f"Overfitting: validation loss has risen for {rising_for} epochs since epoch {self.best_epoch + 1} "
            "while training loss keeps falling. More data, augmentation, dropout, early stopping, or "
            "fine-tuning a pretrained backbone would help."
        )
