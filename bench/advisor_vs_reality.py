"""Check the advisor against reality: on each scenario, run `advise`, then the fair head-to-head,
and count how often the advisor's pick matched the measured winner.

Scenarios are built here from shipped or generated data (no network): near and far domains
for the shipped demo backbone (a grayscale CNN trained on digits 0-4), few and many samples
per class, a task the backbone's input cannot see (classes that differ only in hue, through
a grayscale backbone), and a tabular task. A tie (the difference's interval holds zero)
matches "unsure" or either side; "unsure" matches only a tie. Run from the repo root:

    python bench/advisor_vs_reality.py [--repeats 2] [--max-steps 150] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPLIT = {"val_split": 0.2, "test_split": 0.2, "seed": 42}


@dataclass
class Scenario:
    name: str
    what: str
    make: Callable[[], Any]  # -> Dataset (with a test split)
    fraction: float  # share of the training split both the advisor and the head-to-head get


def digits(classes: range) -> Any:
    from kiln_lab.engine.data.arrays import dataset_from_arrays

    with np.load(ROOT / "resources" / "demo" / "digits.npz") as data:
        x, y = data["x"], data["y"].astype(np.int64)
    keep = np.isin(y, list(classes))
    return dataset_from_arrays(
        x[keep], y[keep] - min(classes), source=f"digits {min(classes)}-{max(classes)}", source_kind="arrays", **SPLIT
    )


def shapes() -> Any:
    from kiln_lab.engine.data.arrays import dataset_from_arrays
    from kiln_lab.engine.data.demo import shapes_arrays

    x, y = shapes_arrays()
    return dataset_from_arrays(x, y, source="shapes", source_kind="arrays", **SPLIT)


def hue_only(count: int = 600, size: int = 32, seed: int = 3) -> Any:
    """Blobs whose class is their hue alone (invisible in grayscale, what the demo backbone receives)."""
    from kiln_lab.engine.data.arrays import dataset_from_arrays
    from tests.synthetic_images import hue_only_blobs

    x, labels = hue_only_blobs(count, size, seed, radius=(5, 11), noise=4)
    return dataset_from_arrays(x, labels, source="hue only", source_kind="arrays", **SPLIT)


def housing() -> Any:
    from kiln_lab.engine.data import load_dataset
    from kiln_lab.engine.data.config import DataConfig

    return load_dataset(DataConfig(source="demo:housing", val_split=0.2, test_split=0.2, seed=42))


SCENARIOS = [
    Scenario("near-few", "digits 5-9 (classes the backbone never saw), 5% of the training split", lambda: digits(
        range(5, 10)), 0.05),
    Scenario("near-many", "digits 5-9, all of the training split", lambda: digits(range(5, 10)), 1.0),
    Scenario("far-few", "colour shapes (far from digits), 5% of the training split", shapes, 0.05),
    Scenario("far-many", "colour shapes, all of the training split", shapes, 1.0),
    Scenario("hue-only", "classes differ only in hue, through the grayscale demo backbone", hue_only, 1.0),
    Scenario("tabular", "demo:housing, a regression table (no image backbone applies)", housing, 1.0),
]


def matches(side: str | None, winner: str | None) -> bool:
    """A tie matches "unsure" and either side; "unsure" matches only a tie."""
    return winner is None or side == winner


def run(scenario: Scenario, repeats: int, budget: Any, out: Path) -> dict[str, Any]:
    from kiln_lab.engine.analysis.advisor import advise
    from kiln_lab.engine.analysis.compare import compare_approaches, subsample_training
    from kiln_lab.engine.errors import KilnError
    from kiln_lab.engine.training.config import RunConfig

    dataset = scenario.make()
    started = time.perf_counter()
    advice = advise(subsample_training(dataset, scenario.fraction, seed=42), ["demo"])
    advise_seconds = time.perf_counter() - started
    base = RunConfig().replace(data={"source": dataset.source, **SPLIT}, train={"checkpoint": False})
    arch = "mlp" if dataset.input_kind == "vector" else "cnn"
    scratch = base.replace(model={"kind": "scratch", "arch": arch})
    finetune = base.replace(model={"kind": "finetune", "backbone": "demo", "two_phase": True})
    started = time.perf_counter()
    try:
        comparison = compare_approaches(
            scratch, finetune, dataset, fractions=(scenario.fraction,), repeats=repeats, budget=budget,
            out_dir=out / scenario.name,
        )
        winner, verdict = comparison.winner(), comparison.verdict()[0]
        edge = comparison.advantage(scenario.fraction)
    except KilnError as exc:  # fine-tuning cannot even be built: from scratch is the only way
        winner, verdict, edge = "scratch", f"Fine-tuning does not apply: {exc.sentence}", None
    return {
        "scenario": scenario.name,
        "what": scenario.what,
        "advice": advice.pick + (f" (leaning {advice.lean})" if advice.lean else ""),
        "confidence": advice.confidence,
        "side": advice.side,
        "winner": winner or "tie",
        "edge": None if edge is None else (edge.value, edge.low, edge.high),
        "match": matches(advice.side, winner),
        "verdict": verdict,
        "advise_s": advise_seconds,
        "compare_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--min-steps", type=int, default=60)
    parser.add_argument("--patience-steps", type=int, default=40)
    parser.add_argument("--only", nargs="*", help="scenario names")
    parser.add_argument("--out", type=Path, default=Path("runs") / "advisor-vs-reality")
    args = parser.parse_args()

    from kiln_lab.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from kiln_lab.engine.analysis.budget import Budget

    budget = Budget(args.max_steps, args.min_steps, args.patience_steps).validate()
    results = []
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        result = run(scenario, args.repeats, budget, args.out)
        results.append(result)
        edge = "" if result["edge"] is None else "{:+.3f} [{:+.3f}, {:+.3f}]".format(*result["edge"])
        print(
            f"{result['scenario']:<10} advice: {result['advice']:<36} conf {result['confidence']:.2f}  "
            f"measured: {result['winner']:<8} ft edge {edge:<26} {'MATCH' if result['match'] else 'miss'}  "
            f"({result['advise_s']:.0f} s + {result['compare_s']:.0f} s)",
            flush=True,
        )
    hits = sum(r["match"] for r in results)
    print(f"\nmatch rate: {hits}/{len(results)}  (repeats {args.repeats}, budget {budget.to_dict()})")
    print("\n| scenario | data | advisor (confidence) | measured winner | fine-tuning's edge [95% interval] | match |")
    print("|---|---|---|---|---|---|")
    for r in results:
        edge = "–" if r["edge"] is None else "{:+.3f} [{:+.3f}, {:+.3f}]".format(*r["edge"])
        print(f"| {r['scenario']} | {r['what']} | {r['advice']} ({r['confidence']:.2f}) | {r['winner']} | {edge} | "
              f"{'yes' if r['match'] else 'no'} |")


if __name__ == "__main__":
    main()
