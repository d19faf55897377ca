"""``kiln showdown``: the same from-scratch model trained a few epochs under each initializer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    from kiln_lab.engine.commands.diagnose import add_model_flags

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
    from kiln_lab.engine import api
    from kiln_lab.engine.commands.diagnose import config_from
    from kiln_lab.engine.errors import KilnError
    from kiln_lab.engine.training.progress import TerminalProgress

    if not 1 <= args.epochs <= 1000:
        raise KilnError("--epochs must be between 1 and 1000.")
    config = config_from(args)
    if args.tensorboard and not args.out:
        raise KilnError("--tensorboard keeps each contender's run in a folder: give --out DIR too.")
    if args.tensorboard:
        config = config.replace(train={"tensorboard": True})
    with TerminalProgress() as progress:
        # With --out the engine writes showdown.json (curves and table) there, atomically; with
        # --tensorboard too, each contender's run folder with its logs.
        result = api.showdown(config, epochs=args.epochs, sink=progress, out_dir=str(args.out) if args.out else None)
    print(result.table())
    print(result.sentence())
    if args.out:
        print(f"Curves and table written to {args.out / 'showdown.json'}")
    return 0
