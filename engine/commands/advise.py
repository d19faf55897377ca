"""``kiln advise``: before training, measure which way to go on this data (from scratch or fine-tune)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(commands: Any) -> None:
    advise = commands.add_parser("advise", help="probe the data with each backbone: from scratch or fine-tune?")
    advise.add_argument("--data", required=True, help="image folder, CSV, .npz/.npy, .h5, or demo:NAME")
    advise.add_argument("--target", help="CSV label column (default: the last)")
    advise.add_argument(
        "--backbone", action="append", help="a candidate backbone (repeat for several; default: the offline ones)"
    )
    advise.add_argument("--cut-layer", help="for a backbone that is your own model file: the layer to cut it at "
                        "(default: below its classifier; the advice says which)")
    advise.add_argument("--seed", type=int, default=0)
    advise.add_argument("--json", action="store_true", help="print the advice as JSON")
    advise.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api
    from kiln_lab.engine.data.config import DataConfig

    # The backbones named, or the default ones when none is.
    advice = api.advise(DataConfig(source=args.data, target=args.target), args.backbone, extra_defaults=False,
                        seed=args.seed, cut_layer=args.cut_layer)
    if args.json:
        print(json.dumps(advice.to_dict(), indent=2, default=float))
        return 0
    print(advice.summary())
    for reason in advice.reasons:
        print(f"  - {reason}")
    print("Backbones, best first:")
    for rank, report in enumerate(advice.ranking, start=1):
        if not report.applicable:
            print(f"  {rank}. {report.name}: does not apply ({'; '.join(report.notes)})")
            continue
        logme = f", LogME {report.logme:.3f}" if report.logme is not None else ""
        print(f"  {rank}. {report.name}: probe {report.probe:.3f} {advice.score_name}{logme}")
    print(f"({advice.seconds:.0f} s of probes)")
    return 0
