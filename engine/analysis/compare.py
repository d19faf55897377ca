"""Head to head: train from scratch and fine-tune on the same data, and put the costs side by side.

Both runs share one loaded `Dataset` (the same split, the same validation samples), so the
only difference is the model. Optionally each approach also runs on a fraction of the
training data, to show how much data each one needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.data.dataset import Dataset
from engine.events import EventSink, ignore_events
from engine.training.config import RunConfig
from engine.training.control import RunControl


@dataclass
class ComparisonRow:
    approach: str  # scratch | finetune
    data_fraction: float
    train_samples: int
    score_name: str  # val_accuracy, or val_mae for regression
    score: float
    seconds: float
    epochs_run: int
    params: int
    trainable_params: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Comparison:
    rows: list[ComparisonRow] = field(default_factory=list)

    def best(self, higher_is_better: bool = True) -> ComparisonRow | None:
        full = [r for r in self.rows if r.data_fraction == max(x.data_fraction for x in self.rows)]
        if not full:
            return None
        return (max if higher_is_better else min)(full, key=lambda r: r.score)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows]}


def subsample_training(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """The same dataset with only ``fraction`` of each class's training samples (val/test untouched)."""
    if fraction >= 1.0:
        return dataset
    rng = np.random.default_rng(seed)
    train = dataset.splits["train"]
    labels = dataset.labels[train]
    groups = [train[labels == v] for v in np.unique(labels)] if dataset.is_classification else [train]
    kept = [rng.choice(g, size=max(1, int(round(len(g) * fraction))), replace=False) for g in groups]
    splits = dict(dataset.splits, train=np.sort(np.concatenate(kept)))
    return dataclasses.replace(dataset, splits=splits)


def compare_approaches(
    scratch: RunConfig,
    finetune: RunConfig,
    dataset: Dataset,
    *,
    fractions: tuple[float, ...] = (1.0,),
    sink: EventSink = ignore_events,
    control: RunControl | None = None,
) -> Comparison:
    """Train both configs on ``dataset`` (at each data fraction) and collect score, time and size."""
    from engine.training.job import run_training

    control = control or RunControl()
    comparison = Comparison()
    score_name = "val_accuracy" if dataset.is_classification else "val_mae"
    for fraction in fractions:
        subset = subsample_training(dataset, fraction, seed=scratch.data.seed)
        for approach, config in (("scratch", scratch), ("finetune", finetune)):
            if control.stop_requested:
                return comparison
            result = run_training(config, sink=sink, control=control, dataset=subset)
            model = result.record["model"]
            comparison.rows.append(
                ComparisonRow(
                    approach=approach,
                    data_fraction=fraction,
                    train_samples=int(len(subset.splits["train"])),
                    score_name=score_name,
                    score=float(result.metrics.get(score_name, float("nan"))),
                    seconds=round(result.seconds, 3),
                    epochs_run=int(result.record["timing"]["epochs_run"]),
                    params=int(model["params"]),
                    trainable_params=int(model["trainable_params"]),
                    reason=result.reason,
                )
            )
    return comparison
