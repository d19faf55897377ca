"""``kiln compare``: from scratch against fine-tuning, head to head, with a verdict and a report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import KilnError


def register(commands: Any) -> None:
    compare = commands.add_parser(
        "compare", help="from scratch against fine-tuning, head to head on the same data, with a verdict"
    )
    compare.add_argument("--data", required=True)
    compare.add_argument("--target")
    compare.add_argument("--backbone", default="demo", help="the backbone to fine-tune (default: the demo backbone)")
    compare.add_argument("--cut-layer", help="for a backbone that is your own model file: the layer to cut it at "
                         "(default: below its classifier)")
    compare.add_argument("--arch", default="cnn", help="the from-scratch preset (default: cnn)")
    compare.add_argument("--two-phase", action=argparse.BooleanOptionalAction, default=True)
    compare.add_argument("--fractions", default="1.0", help="training-data fractions, e.g. 0.1,0.3,1.0")
    compare.add_argument("--repeats", type=int, help="seeds per approach and share (default: 2)")
    compare.add_argument("--max-steps", type=int, help="optimizer steps per run at most (default: 200)")
    compare.add_argument("--min-steps", type=int, help="early stopping never ends a run before this (default: 80)")
    compare.add_argument("--patience-steps", type=int, help="steps without a better val loss before stopping")
    compare.add_argument("--seconds", type=float, help="also an equal wall-clock budget per run")
    compare.add_argument("--batch-size", type=int, default=32)
    compare.add_argument("--learning-rate", type=float, default=1e-3)
    compare.add_argument("--watts", type=float, help="device power for the energy estimate (default: 65)")
    compare.add_argument("--seed", type=int, default=42)
    compare.add_argument("--out", type=Path, help="comparison folder (default: runs/compare-TIME)")
    compare.add_argument(
        "--tensorboard", action="store_true",
        help="TensorBoard logs and HParams in every run (tensorboard --logdir OUT/runs)",
    )
    compare.add_argument(
        "--epochs", type=int, help=argparse.SUPPRESS
    )  # replaced by the step budget; accepted so old scripts still run
    compare.set_defaults(handler=run)


def parse_fractions(text: str) -> tuple[float, ...]:
    try:
        fractions = tuple(sorted({float(f) for f in text.split(",") if f.strip()}))
    except ValueError:
        raise KilnError(f"--fractions takes numbers like 0.1,0.5,1.0, not '{text}'.") from None
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise KilnError("Each --fractions value must be above 0 and at most 1.")
    return fractions


def run(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api
    from kiln_lab.engine.events import Progress
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.progress import TerminalProgress

    fractions = parse_fractions(args.fractions)
    if args.epochs is not None:
        print("Note: --epochs is replaced by a budget in optimizer steps (--max-steps, --min-steps); ignored.")
    defaults = api.default_budget()
    repeats = defaults["repeats"] if args.repeats is None else args.repeats
    if repeats < 1:
        raise KilnError("--repeats must be 1 or more.")
    budget = {
        "max_steps": args.max_steps or defaults["max_steps"],
        "min_steps": defaults["min_steps"] if args.min_steps is None else args.min_steps,
        "patience_steps": args.patience_steps or defaults["patience_steps"],
        "seconds": args.seconds,
    }
    if args.min_steps is None and budget["min_steps"] > budget["max_steps"]:
        budget["min_steps"] = budget["max_steps"] // 3
    base = RunConfig().replace(
        data={"source": args.data, "target": args.target, "seed": args.seed, "test_split": defaults["test_fraction"]},
        train={"seed": args.seed, "checkpoint": False, "batch_size": args.batch_size,
               "learning_rate": args.learning_rate, "tensorboard": args.tensorboard},
    )
    scratch = base.replace(model={"kind": "scratch", "arch": args.arch, "seed": args.seed}, name="scratch")
    finetune = base.replace(
        model={"kind": "finetune", "backbone": args.backbone, "two_phase": args.two_phase, "seed": args.seed,
               "cut_layer": args.cut_layer},
        name="finetune",
    )
    scratch.validate()
    finetune.validate()
    out = args.out or Path("runs") / time.strftime("compare-%Y%m%d-%H%M%S")
    started = time.perf_counter()
    with TerminalProgress() as progress:

        def sink(event: Any) -> None:
            if isinstance(event, Progress) and event.task == "compare" and event.done < (event.total or 0):
                print(event.message, flush=True)  # "Run k of n: ..."
            progress(event)

        # The engine checks the budget before it reads the data or trains anything.
        comparison = api.compare(
            scratch, finetune, fractions=fractions, repeats=repeats, budget=budget, out_dir=str(out),
            device_watts=args.watts or defaults["device_watts"], sink=sink,
        )
    print()
    for sentence in comparison.verdict():
        print(sentence)
    per_class = comparison.per_class()
    if per_class is not None:  # which classes fine-tuning serves worse, beyond noise
        print(per_class.sentence())
    print()
    rows = comparison.cost_rows
    if rows:
        width = max(len(what) for what, _, _ in rows)
        print(f"{'':<{width}}  {'fine-tuning':>22}  {'from scratch':>22}")
        for what, ft, sc in rows:
            print(f"{what:<{width}}  {ft:>22}  {sc:>22}")
    print(f"\nRuns and report in {out} (report.html, report.md, compare.json); "
          f"{len(comparison.rows)} runs in {time.perf_counter() - started:.0f} s.")
    return 0
