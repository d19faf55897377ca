"""Head to head: train from scratch and fine-tune on the same data, fairly, and say who wins.

Fair means: both approaches train on the same samples (the same split, the same subset at
each data share, seed for seed), under the same budget in optimizer steps (`budget.Budget`:
a cap, early stopping on validation with a floor), and are scored on the test split,
which neither run trained or stopped on (the comparison makes one when the data has none).
Each pair repeats with several seeds, and the score difference gets a paired bootstrap
interval over the test samples and the repeats (`bootstrap.py`). `Comparison.verdict()`
(comparison.py) turns that into the sentences the CLI, the GUI and the report all print.

Every run is a normal run folder (model.keras, history.json, run.json) under the
comparison's folder; `compare_report.write_report` adds compare.json, report.html, report.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.analysis.budget import Budget
from kiln_lab.engine.analysis.compare_report import write_report
from kiln_lab.engine.analysis.comparison import APPROACH_WORDS, APPROACHES, Comparison, ComparisonRow, scores_key
from kiln_lab.engine.analysis.costs import DEFAULT_DEVICE_WATTS, forward_flops, training_flops
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.events import EventSink, Progress, TrialState, ignore_events
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.engine.training.control import RunControl

DEFAULT_REPEATS = 2  # measured: demo:digits at 0.1,1.0 takes under two minutes on 2 CPU cores
DEFAULT_TEST_FRACTION = 0.2
NEAR_BEST = 0.95  # "time to 95% of the best score"
MIN_STEPS_PER_ROUND = 20  # steps between two validation rounds, at least


def _digest(indices: np.ndarray) -> str:
    return hashlib.sha1(np.sort(np.asarray(indices, dtype=np.int64)).tobytes()).hexdigest()[:12]


def subsample_training(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """The same dataset with only ``fraction`` of each class's training samples (val/test untouched)."""
    if fraction >= 1.0:
        return dataset
    rng = np.random.default_rng(seed)
    train = dataset.splits["train"]
    labels = dataset.labels[train]
    groups = [train[labels == v] for v in np.unique(labels)] if dataset.is_classification else [train]
    kept = [rng.choice(g, size=max(1, int(round(len(g) * fraction))), replace=False) for g in groups]
    splits = dict(dataset.splits, train=np.sort(np.concatenate(kept)))
    return dataclasses.replace(dataset, splits=splits)


def repeat_small_training(dataset: Dataset, batch_size: int, min_steps: int = MIN_STEPS_PER_ROUND) -> Dataset:
    """A tiny training split listed several times over, so one "epoch" holds at least ``min_steps`` steps.

    Validation runs once per epoch; on 35 samples that would be after every other step, and
    would cost more than the training. Repeating the indices only spaces the validation rounds.
    """
    train = dataset.splits["train"]
    times = -(-min_steps * max(1, batch_size) // max(1, len(train)))
    if times <= 1:
        return dataset
    return dataclasses.replace(dataset, splits=dict(dataset.splits, train=np.tile(train, times)))


def with_test_split(dataset: Dataset, val_fraction: float, test_fraction: float, seed: int) -> tuple[Dataset, bool]:
    """``dataset`` as it is when it has test samples; else split anew with a test share (and say so)."""
    if len(dataset.splits.get("test", [])) > 0:
        return dataset, False
    return dataset.with_split(val_fraction or 0.2, test_fraction, seed=seed), True


def per_sample_scores(model: Any, dataset: Dataset, split: str, image_size: Any) -> np.ndarray:
    """1/0 per sample (correct or not) for classification; the absolute error for regression."""
    from kiln_lab.engine.models.heads import class_probabilities

    indices = dataset.splits[split]
    x = dataset.loader.tf_dataset(indices, image_size).batch(128)
    outputs = np.asarray(model.predict(x, verbose=0))
    truth = dataset.labels[indices]
    if dataset.is_classification:
        return (class_probabilities(outputs).argmax(axis=1) == truth.astype(np.int64)).astype(np.float64)
    return np.abs(outputs.reshape(-1).astype(np.float64) - truth.astype(np.float64))


def seconds_to_near_best(curve: list[list[float]], higher_is_better: bool) -> float | None:
    """Seconds until the validation score first came within 95% of its best (for MAE: best / 0.95)."""
    if not curve:
        return None
    scores = np.array([point[2] for point in curve])
    best = scores.max() if higher_is_better else scores.min()
    reached = scores >= NEAR_BEST * best if higher_is_better else scores <= best / NEAR_BEST
    return float(curve[int(np.argmax(reached))][1])


def check_both_apply(scratch: RunConfig, finetune: RunConfig, dataset: Dataset) -> None:
    """Build each approach's model once, before any training: a backbone that cannot take this
    data (an image backbone on a table, a wrong feature count) raises its `KilnError` now, not
    after a full from-scratch run has been trained and written.
    """
    from kiln_lab.engine.models.build import build_model

    for config in (scratch, finetune):
        build_model(config.model, dataset, epochs=1, image_size=config.data.image_size)


def compare_approaches(
    scratch: RunConfig,
    finetune: RunConfig,
    dataset: Dataset,
    *,
    fractions: tuple[float, ...] = (1.0,),
    repeats: int = DEFAULT_REPEATS,
    budget: Budget | None = None,
    out_dir: str | Path | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    device_watts: float = DEFAULT_DEVICE_WATTS,
    sink: EventSink = ignore_events,
    control: RunControl | None = None,
) -> Comparison:
    """Train both configs head to head at each data share, ``repeats`` times each, and score them.

    Each run of repeat ``k`` uses seed ``scratch.train.seed + k`` for both approaches (the
    same training subset, different initialisation and shuffling per repeat). With
    ``out_dir``, every run is saved as a run folder under ``out_dir/runs`` and the
    comparison writes compare.json, report.html and report.md there.
    """
    from kiln_lab.engine.analysis.budget import budget_callback
    from kiln_lab.engine.training.job import run_training

    budget = (budget or Budget()).validate()
    control = control or RunControl()
    repeats = max(1, int(repeats))
    base_seed = scratch.train.seed
    check_both_apply(scratch, finetune, dataset)  # a model that cannot be built fails before any run is written
    dataset, made = with_test_split(dataset, scratch.data.val_split, test_fraction, scratch.data.seed)
    split = "test"
    eval_indices = dataset.splits[split]
    higher = dataset.is_classification
    comparison = Comparison(
        score_name="accuracy" if higher else "mae",
        higher_is_better=higher,
        scored_on=split,
        eval_samples=int(len(eval_indices)),
        test_made_by_comparison=made,
        repeats=repeats,
        budget=budget.to_dict(),
        device_watts=device_watts,
        out_dir=str(out_dir) if out_dir else None,
    )
    if higher:  # per-class accuracy needs the true classes of the scored samples
        comparison.eval_labels = [int(v) for v in dataset.labels[eval_indices]]
        comparison.class_names = [str(name) for name in dataset.class_names]
    if dataset.input_kind == "vector":  # a table: the simple model every network must beat, on the same subsets
        from kiln_lab.engine.analysis.linear_baseline import linear_baseline

        for fraction in sorted(set(fractions)):
            result = linear_baseline(subsample_training(dataset, fraction, seed=base_seed), split=split)
            comparison.baseline_name = result.name
            comparison.baseline_scores[f"{fraction:g}"] = result.per_sample.tolist()
    split_sizes = {"val_split": scratch.data.val_split or 0.2, "test_split": test_fraction} if made else {}
    plan = [(f, k, a) for f in sorted(set(fractions)) for k in range(repeats) for a in APPROACHES]
    configs = {"scratch": scratch, "finetune": finetune}
    score_key = "val_accuracy" if higher else "val_mae"
    labels = [f"{APPROACH_WORDS[a]} on {f:.0%}, repeat {k + 1}" for f, k, a in plan]
    for number, label in enumerate(labels, start=1):
        sink(TrialState(number, len(plan), label, "planned"))
    # A pair (both approaches on one share and seed) enters the comparison only when both finished:
    # the paired bootstrap compares them sample by sample. ``pending`` holds the first of a pair.
    pending: dict[tuple[float, int], tuple[int, ComparisonRow, list[float]]] = {}

    def leave_out(number: int, row_or_plan: Any, state: str, run_dir: Path | None = None) -> None:
        fraction, repeat, approach = row_or_plan
        comparison.stopped.append({
            "number": number, "label": labels[number - 1], "approach": approach, "data_fraction": fraction,
            "repeat": repeat + 1, "state": state, "run_dir": str(run_dir) if run_dir else None,
        })
        sink(TrialState(number, len(plan), labels[number - 1], state))

    for number, (fraction, repeat, approach) in enumerate(plan, start=1):
        if control.stop_requested:
            break
        partner = pending.pop((fraction, repeat), None)
        if control.trial_stop_requested(number):  # stopped before it started: skipped
            leave_out(number, (fraction, repeat, approach), "stopped")
            if partner is not None:
                leave_out(partner[0], (fraction, repeat, partner[1].approach), "left_out", partner[1].run_dir)
            continue
        seed = base_seed + repeat
        subset = subsample_training(dataset, fraction, seed=seed)
        n_train = int(len(subset.splits["train"]))
        config = configs[approach]
        batch = config.train.batch_size
        rounds = repeat_small_training(subset, batch)
        listed = int(len(rounds.splits["train"]))
        label = labels[number - 1]
        config = config.replace(
            data=split_sizes,
            model={"seed": seed},
            train={
                "seed": seed,
                "epochs": budget.epochs_for(listed, batch),
                "early_stopping": 0,  # the budget's own early stopping (with a floor) runs instead
                "checkpoint": False,
                "forgetting_monitor": False,  # its per-epoch probes would count against fine-tuning's time
            },
            name=f"compare: {label} (run {number} of {len(plan)})",
        )
        sink(Progress("compare", number - 1, len(plan), f"Run {number} of {len(plan)}: {label}"))
        sink(TrialState(number, len(plan), label, "running"))
        callback = budget_callback(budget, train_samples=listed, batch_size=batch, score_key=score_key)
        folder = f"{approach}-{round(fraction * 100):03d}pct-r{repeat + 1}"
        run_dir = Path(out_dir) / "runs" / folder if out_dir else None
        result = run_training(
            config, sink=sink, control=control.for_trial(number), dataset=rounds, out_dir=run_dir,
            callbacks=(callback,),
        )
        if result.reason == "stopped":  # a run the person stopped is not a fair sample
            leave_out(number, (fraction, repeat, approach), "stopped", run_dir)
            if partner is not None:
                leave_out(partner[0], (fraction, repeat, partner[1].approach), "left_out", partner[1].run_dir)
            if control.stop_requested:
                break  # the whole comparison was stopped
            continue
        scores = per_sample_scores(result.model, subset, split, result.image_size)
        usage = callback.usage()
        forward = forward_flops(result.model)
        model_info = result.record["model"]
        row = ComparisonRow(
            approach=approach,
            data_fraction=fraction,
            repeat=repeat + 1,
            seed=seed,
            train_samples=n_train,
            score_name=comparison.score_name,
            score=float(scores.mean()),
            seconds=round(result.seconds, 3),
            cpu_seconds=float(usage["cpu_seconds"]),
            steps=int(usage["steps"]),
            samples_seen=int(usage["samples_seen"]),
            stopped_by=str(usage["stopped_by"]),
            epochs_run=int(result.record["timing"]["epochs_run"]),
            params=int(model_info["params"]),
            trainable_params=int(model_info["trainable_params"]),
            phase_trainable=[int(p["trainable_params"]) for p in usage["phases"]],
            forward_flops=forward,
            train_flops=training_flops(forward, int(usage["samples_seen"])),
            seconds_to_near_best=seconds_to_near_best(usage["curve"], higher),
            best_step=int(usage["best_step"]),
            still_improving=bool(usage["still_improving"]),
            reason=result.reason,
            run_dir=str(run_dir) if run_dir else None,
            train_digest=_digest(subset.splits["train"]),
            eval_digest=_digest(eval_indices),
        )
        sink(TrialState(number, len(plan), label, "finished"))
        if any((s["data_fraction"], s["repeat"]) == (fraction, repeat + 1) for s in comparison.stopped):
            leave_out(number, (fraction, repeat, approach), "left_out", run_dir)  # its pair's other run was stopped
            continue
        if partner is None and any((f, k) == (fraction, repeat) for f, k, _a in plan[number:]):
            pending[(fraction, repeat)] = (number, row, scores.tolist())  # its pair's other run is still to come
            continue
        for kept_row, kept_scores in ([partner[1:]] if partner is not None else []) + [(row, scores.tolist())]:
            comparison.rows.append(kept_row)
            comparison.sample_scores.setdefault(scores_key(kept_row.approach, fraction), []).append(kept_scores)
    for number, row, _scores in pending.values():  # the comparison stopped before its partner ran
        leave_out(number, (row.data_fraction, row.repeat - 1, row.approach), "left_out", row.run_dir)
    sink(Progress("compare", len(comparison.rows), len(plan), "Comparison finished"))
    if out_dir:
        write_report(comparison, Path(out_dir))
    return comparison
