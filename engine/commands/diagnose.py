"""``kiln diagnose``: per-layer activation and gradient statistics of a from-scratch model at initialisation."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """The from-scratch model flags ``diagnose`` and ``showdown`` share (a subset of ``train``'s)."""
    parser.add_argument("--data", required=True, help="image folder, CSV, .npz/.npy, .h5, or demo:NAME")
    parser.add_argument("--target", help="CSV label column (default: the last)")
    parser.add_argument("--config", help="a run config (TOML or JSON) to start from; the flags override it")
    parser.add_argument("--arch", help="preset: mlp, cnn, resnet")
    parser.add_argument("--init", dest="kernel_initializer", help="kernel initializer, e.g. he_normal")
    parser.add_argument("--init-scale", type=float, help="std / limit of plain random_normal / random_uniform")
    parser.add_argument("--depth", type=int, help="number of blocks / hidden layers")
    parser.add_argument("--width", type=int, help="units / base filters")
    parser.add_argument("--activation", help="relu, gelu, tanh, sigmoid, selu, ...")
    parser.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"))
    parser.add_argument("--seed", type=int)


def register(commands: Any) -> None:
    diagnose = commands.add_parser(
        "diagnose", help="per-layer activations and gradients at initialisation: do gradients vanish or explode?"
    )
    add_model_flags(diagnose)
    diagnose.add_argument("--steps", type=int, default=5, help="optimizer steps to follow on one batch (default 5)")
    diagnose.add_argument("--batch-size", type=int, default=64)
    diagnose.add_argument("--json", action="store_true", help="print the numbers as JSON")
    diagnose.set_defaults(handler=run)


def config_from(args: argparse.Namespace) -> Any:
    """The run config the flags describe (always from scratch)."""
    from kiln_lab.engine.training.config import RunConfig

    config = RunConfig.load(args.config) if args.config else RunConfig()
    model: dict[str, Any] = {"kind": "scratch"}
    for name in ("arch", "kernel_initializer", "init_scale", "depth", "width", "activation", "batch_norm"):
        value = getattr(args, name, None)
        if value is not None:
            model[name] = value
    data: dict[str, Any] = {"source": args.data, "target": args.target}
    if args.image_size:
        data["image_size"] = tuple(args.image_size)
    config = config.replace(model=model, data=data)
    if args.seed is not None:
        config = config.with_seed(args.seed)
    return config.validate()


def run(args: argparse.Namespace) -> int:
    from kiln_lab.engine import api
    from kiln_lab.engine.errors import KilnError

    if args.steps < 1 or args.batch_size < 1:
        raise KilnError("--steps and --batch-size must be at least 1.")
    config = config_from(args)
    diagnosis = api.diagnose(config, steps=args.steps, batch_size=args.batch_size, seed=config.data.seed)
    if args.json:
        print(json.dumps(diagnosis.to_dict(), indent=2))
        return 0
    m = config.model
    print(f"{m.arch} depth {m.depth} width {m.width}, {m.activation}, init {m.kernel_initializer}"
          + (f" (scale {m.init_scale:g})" if m.kernel_initializer.startswith("random_") else "")
          + f"; one batch of {args.batch_size}, {args.steps} Adam step(s)")
    print(diagnosis.table())
    print("loss over the steps: " + ", ".join(f"{v:.4g}" for v in diagnosis.losses))
    print(diagnosis.summary())
    return 0
