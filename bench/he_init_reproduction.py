"""Reproduce the contrast of He et al. 2015 ("Delving Deep into Rectifiers", ICCV, Fig. 3) with Kiln's layers.

The paper: a plain ReLU network without batch norm converges with He ("MSRA") initialisation
at 22 and at 30 layers; with Xavier/Glorot it converges (more slowly) at 22 layers and stalls
at 30. Here: Kiln's from-scratch MLP (Dense + ReLU, no batch norm, width 64) on demo:digits
at 22 and 30 hidden layers, Glorot uniform vs He normal, trained through `run_training`
with SGD + momentum (as in the paper) and again with Adam (Kiln's default), same seed and
split. For each run the script also prints what `engine.analysis.init_diagnostics` says at
initialisation. Run from the repository root:

    python bench/he_init_reproduction.py [--epochs 20] [--out bench/he_init_results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depths", default="22,30")
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import numpy as np

    from kiln_lab.engine.analysis.init_diagnostics import diagnose_recipe
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.training.config import RunConfig
    from kiln_lab.engine.training.job import run_training

    rates = {"sgd": 0.01, "adam": 1e-3}
    base = RunConfig().replace(train={"epochs": args.epochs, "checkpoint": False, "batch_size": 32})
    dataset = load_dataset(base.data)
    rows = []
    for optimizer in args.optimizers.split(","):
        for depth in (int(d) for d in args.depths.split(",")):
            for init in ("glorot_uniform", "he_normal"):
                config = base.replace(
                    model={"kind": "scratch", "arch": "mlp", "depth": depth, "width": args.width,
                           "activation": "relu", "batch_norm": False, "kernel_initializer": init},
                    train={"optimizer": optimizer, "learning_rate": rates[optimizer], "momentum": 0.9},
                )
                diagnosis = diagnose_recipe(config.model, dataset, steps=1)
                started = time.perf_counter()
                result = run_training(config, dataset=dataset)
                loss = result.history["loss"]
                row = {
                    "optimizer": optimizer,
                    "depth": depth,
                    "init": init,
                    "loss_first": loss[0],
                    "loss_mid": loss[len(loss) // 2],
                    "loss_last": loss[-1],
                    "val_accuracy": result.metrics.get("val_accuracy"),
                    "loss_curve": loss,
                    "grad_first_layer": diagnosis.layers[0].grad_norm,
                    "grad_last_hidden": diagnosis.layers[-2].grad_norm,
                    "act_std_last_hidden": diagnosis.layers[-2].act_std,
                    "dead_last_hidden": diagnosis.layers[-2].dead_fraction,
                    "grad_over_weight_median": float(np.median(
                        [layer.grad_norm / layer.weight_norm for layer in diagnosis.layers])),
                    "signal_ratio": diagnosis.layers[-2].act_std / diagnosis.layers[0].act_std,
                    "flags": sorted(set(diagnosis.flags.values())),
                    "sentence": diagnosis.sentence,
                    "seconds": round(time.perf_counter() - started, 1),
                }
                rows.append(row)
                print(_line(row), flush=True)
    print()
    print(markdown_table(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


def _line(row: dict) -> str:
    return (f"{row['optimizer']:<5} {row['depth']:>3} {row['init']:<15} loss {row['loss_first']:.3f} -> "
            f"{row['loss_mid']:.3f} -> {row['loss_last']:.3f}  val acc {row['val_accuracy']:.3f}  "
            f"grad L1 {row['grad_first_layer']:.2g} / last {row['grad_last_hidden']:.2g}  "
            f"flags {row['flags'] or '-'}  ({row['seconds']} s)")


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| optimizer | layers | init | loss epoch 1 | loss mid | loss last | val accuracy | "
        "grad norm layer 1 | grad norm last hidden | median grad/weight | act std last/first | diagnostics |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['optimizer']} | {r['depth']} | {r['init']} | {r['loss_first']:.3f} | {r['loss_mid']:.3f} | "
            f"{r['loss_last']:.3f} | {r['val_accuracy']:.3f} | {r['grad_first_layer']:.2g} | "
            f"{r['grad_last_hidden']:.2g} | {r['grad_over_weight_median']:.1g} | {r['signal_ratio']:.1g} | "
            f"{', '.join(r['flags']) or 'no flag'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
