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
    from kiln_lab.engine import api
    from kiln_lab.engine.data.config import DataConfig

    # The engine reads the data with the split the baseline's run used, when it is that run's data.
    report = api.bias(str(args.baseline), str(args.candidate), DataConfig(source=args.data, target=args.target),
                      split=args.split, group=args.group, trusted=args.trust)
    result: dict[str, Any] = report.as_dict
    if args.json:
        print(json.dumps(result, indent=2, default=float))
        return 0
    print(report.table())
    print(report.sentence())
    for name, groups in (result.get("groups") or {}).items():
        print(f"{name}: " + ", ".join(f"{g['name']} {g['accuracy']:.1%} (n={g['n']})" for g in groups["groups"]))
        print(f"  {groups['sentence']}")
    return 0
