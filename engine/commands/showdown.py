"""``kiln showdown``: the same from-scratch model trained a few epochs under each initializer."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    from engine.commands.diagnose import add_model_flags

    showdown = commands.add_parser(
        "showdown", help="Glorot, He, LeCun and plain random normal (std 1.0 and 0.01), trained side by side"
    )
    add_model_flags(showdown)
    showdown.add_argument("--epochs", type=int, default=3, help="epochs per initializer (default 3)")
    showdown.add_argument("--out", type=Path, help="write showdown.json (curves and table) here")
    showdown.add_argument(
        "--tensorboard", action="store_true",
        help="with --out: keep each contender's run in OUT/runs/ with TensorBoard logs and HParams "
        "(tensorboard --logdir OUT/runs)",
    )
    showdown.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.analysis.showdown import run_showdown
    from engine.commands.diagnose import config_from
    from engine.errors import KilnError
    from engine.training.progress import TerminalProgress

    if not 1 <= args.epochs <= 1000:
        raise KilnError("--epochs must be between 1 and 1000.")
    config = config_from(args)
    if args.tensorboard and not args.out:
        raise KilnError("--tensorboard keeps each contender's run in a folder: give --out DIR too.")
    if args.tensorboard:
        config = config.replace(train={"tensorboard": True})
    with TerminalProgress() as progress:
        result = run_showdown(
            config, epochs=args.epochs, sink=progress, out_dir=args.out if args.tensorboard else None
        )
    print(result.table())
    print(result.sentence())
    if args.out:
        from engine.export.atomic import atomic_write_text

        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out / "showdown.json", json.dumps(result.to_dict(), indent=2, default=float))
        print(f"Curves and table written to {args.out / 'showdown.json'}")
    return 0
