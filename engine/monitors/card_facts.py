"""The risk facts a run record carries for its model card: per-class metrics, licence, caveats, drift.

`run_card_facts` is called by the training job when a run ends; its keys go into
``run.json`` and `engine.export.model_card` writes them into ``model_card.md``/``.json``.
(The card writer lives in `engine.export`, which imports no other engine layer, so the
facts are computed here and travel in the record.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.numpy_batches import input_batches
from kiln_lab.engine.runtime import end_of_data_expected


def run_card_facts(
    model: Any, dataset: Dataset, info: dict[str, Any], *, image_size: tuple[int, int] | None,
    monitor: Any = None, batches: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"per_class", "evaluated_split", "licence", "caveats", "forgetting"}`` for a finished run.

    ``batches``: the run's own ``(x, y)`` batches per split (its pipelines, cached by then), read
    instead of building and decoding a new input pipeline for the per-class figures.
    """
    from kiln_lab.engine.models.caveats import backbone_caveats
    from kiln_lab.engine.models.licence import classify_licence

    facts: dict[str, Any] = {}
    split = next((s for s in ("test", "val") if len(dataset.splits.get(s, [])) > 0), None)
    if split is not None and dataset.is_classification:
        given = (batches or {}).get(split)
        facts["per_class"] = per_class_metrics(model, dataset, split, image_size, batches=given)
        facts["evaluated_split"] = split
    backbone = info.get("backbone") if info.get("kind") == "finetune" else None
    if backbone:
        facts["licence"] = classify_licence(backbone.get("licence")).to_dict()
        facts["caveats"] = backbone_caveats(backbone)
    if monitor is not None:
        facts["forgetting"] = monitor.record.to_dict()
    return facts


def per_class_metrics(
    model: Any, dataset: Dataset, split: str, image_size: tuple[int, int] | None, *, batches: Any = None
) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class on ``split`` (the Evaluate page computes the same).

    ``batches``: ``(x, y)`` batches of that split (the run's pipeline): the labels come with them.
    """
    from kiln_lab.engine.models.heads import class_probabilities

    if batches is not None:
        outputs, labels = [], []
        for x, y in batches:
            outputs.append(np.asarray(model.predict_on_batch(x)))
            labels.append(np.asarray(y))
        predicted = class_probabilities(np.concatenate(outputs)).argmax(axis=1)
        truth = np.concatenate(labels).astype(np.int64).reshape(-1)
    else:
        indices = np.asarray(dataset.splits[split])
        with end_of_data_expected():
            outputs = model.predict(input_batches(dataset.loader, indices, image_size, 64), verbose=0)
        predicted = class_probabilities(np.asarray(outputs)).argmax(axis=1)
        truth = dataset.labels[indices].astype(np.int64)
    rows = []
    for c, name in enumerate(dataset.class_names):
        tp = int(np.sum((predicted == c) & (truth == c)))
        called, support = int(np.sum(predicted == c)), int(np.sum(truth == c))
        precision = tp / called if called else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"name": name, "precision": precision, "recall": recall, "f1": f1, "support": support})
    return rows
