"""``kiln bias``: per-class (and per-group) comparison of two saved models on the same data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    bias = commands.add_parser(
        "bias", help="which classes a fine-tuned model serves worse than a from-scratch one, beyond noise"
    )
    bias.add_argument("baseline", type=Path, help="the reference model, e.g. the from-scratch run's model.keras")
    bias.add_argument("candidate", type=Path, help="the model to check, e.g. the fine-tuned run's model.keras")
    bias.add_argument("--data", required=True, help="the data both were trained on (its validation split is used)")
    bias.add_argument("--target", help="CSV label column (default: the last)")
    bias.add_argument("--split", default="val", help="val (default), test or train")
    bias.add_argument("--group", help="'folder' (images in class/group/ folders) or a CSV column: metrics per group")
    bias.add_argument("--trust", action="store_true", help="load models with SavedModel layers Kiln did not write")
    bias.add_argument("--json", action="store_true")
    bias.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.analysis.bias import compare_per_class, group_metrics, group_values
    from engine.analysis.evaluation import predict_split
    from engine.data import load_dataset
    from engine.data.config import DataConfig
    from engine.errors import KilnError
    from engine.export import load_model
    from engine.export.records import find_run_record
    from engine.models.heads import class_probabilities

    record = find_run_record(args.baseline)
    data = DataConfig(source=args.data, target=args.target)
    saved = (record.get("config") or {}).get("data") or {}
    if saved.get("source") == args.data:  # the same split the runs were validated on
        data = DataConfig(source=args.data, target=args.target, val_split=saved.get("val_split", 0.2),
                          test_split=saved.get("test_split", 0.0), seed=saved.get("seed", 42))
    dataset = load_dataset(data)
    if args.split not in dataset.splits or len(dataset.splits[args.split]) == 0:
        raise KilnError(f"The data has no '{args.split}' split.", hint="Use --split val, test or train.")
    predictions = {}
    for name, path in (("baseline", args.baseline), ("candidate", args.candidate)):
        model = load_model(path, trusted=args.trust)
        size = (find_run_record(path).get("model") or {}).get("image_size")
        outputs, indices = predict_split(model, dataset, args.split, image_size=tuple(size) if size else None)
        predictions[name] = class_probabilities(outputs).argmax(axis=1)
    y_true = dataset.labels[indices].astype(np.int64)
    comparison = compare_per_class(y_true, predictions["baseline"], predictions["candidate"], dataset.class_names,
                                   baseline_name=args.baseline.parent.name or "baseline",
                                   candidate_name=args.candidate.parent.name or "candidate")
    result: dict[str, Any] = {"classes": comparison.to_dict()}
    if args.group:
        groups = group_values(dataset, args.group)[indices]
        result["groups"] = {name: group_metrics(y_true, pred, groups, column=args.group).to_dict()
                            for name, pred in predictions.items()}
    if args.json:
        print(json.dumps(result, indent=2, default=float))
        return 0
    print(comparison.table())
    print(comparison.sentence())
    for name, report in (result.get("groups") or {}).items():
        print(f"{name}: " + ", ".join(f"{g['name']} {g['accuracy']:.1%} (n={g['n']})" for g in report["groups"]))
        print(f"  {report['sentence']}")
    return 0
