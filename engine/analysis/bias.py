"""Bias checks: which classes (or groups) a model serves worse, and whether that is beyond noise.

- `compare_per_class`: two models' predictions on the *same* samples (a fine-tuned model
  and a from-scratch one, say). Per class: recall of each, the difference, and a paired
  bootstrap interval of the difference; a class "got worse" when the whole interval is
  below zero.
- `group_metrics`: accuracy per named group (a CSV column, or the second level of an image
  folder: ``root/class/group/img.png``) and the largest gap between groups, with an interval.
- `backbone_caveats`: the known limits of a backbone, from its card and its pretraining data,
  for the Model page and the model card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.data.files import printable
from kiln_lab.engine.errors import DataError
from kiln_lab.engine.models.caveats import backbone_caveats

__all__ = [
    "backbone_caveats", "compare_hits_per_class", "compare_models_per_class", "compare_per_class", "group_metrics",
    "group_values",
]

BOOTSTRAP_SAMPLES = 1000
INTERVAL = 0.95


@dataclass
class ClassDelta:
    name: str
    support: int
    baseline: float  # recall of model A (e.g. from scratch)
    candidate: float  # recall of model B (e.g. fine-tuned)
    low: float  # interval of candidate - baseline (Bonferroni-corrected for the classes tested)
    high: float
    repeat_differences: list[float] = field(default_factory=list)  # candidate - baseline, per repeat
    confidence: float = INTERVAL  # of this class's interval

    @property
    def difference(self) -> float:
        return self.candidate - self.baseline

    @property
    def repeats_agree(self) -> bool:
        """Every repeat moved this class the same way (trivially so with one repeat)."""
        diffs = self.repeat_differences
        return not diffs or all(d < 0 for d in diffs) or all(d > 0 for d in diffs)

    @property
    def verdict(self) -> str:
        if self.high < 0 and self.repeats_agree:
            return "worse"
        if self.low > 0 and self.repeats_agree:
            return "better"
        return "within noise"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "difference": self.difference, "verdict": self.verdict,
                "repeats_agree": self.repeats_agree}


@dataclass
class ClassComparison:
    """Per-class recall of a baseline and a candidate model on the same samples."""

    baseline_name: str
    candidate_name: str
    rows: list[ClassDelta]
    samples: int

    @property
    def worse(self) -> list[ClassDelta]:
        return [row for row in self.rows if row.verdict == "worse"]

    def _noise_words(self) -> str:
        repeats = max((len(r.repeat_differences) for r in self.rows), default=1)
        over = f" and {repeats} repeats" if repeats > 1 else ""
        return (f"95% for all {len(self.rows)} classes together (each class's interval at "
                f"{self.rows[0].confidence:.1%}, over its samples{over})" if self.rows else "95%")

    def sentence(self) -> str:
        worse = self.worse
        dipped = [r for r in self.rows if r.difference < 0 and r.verdict != "worse"]
        split = [r for r in dipped if r.high < 0 and not r.repeats_agree]
        if worse:
            names = ", ".join(f"'{printable(r.name)}' ({r.difference:+.0%}, interval {r.low:+.0%} to {r.high:+.0%})"
                              for r in worse)
            return (f"The {self.candidate_name} model is worse than the {self.baseline_name} one on {names}: "
                    f"beyond noise at {self._noise_words()}. Look at those classes' training images and errors "
                    "before shipping.")
        if dipped:
            names = ", ".join(f"'{printable(r.name)}' ({r.difference:+.0%})" for r in dipped)
            quoted = ", ".join(f"'{printable(r.name)}'" for r in split)
            disagree = f"; the repeats disagree in sign on {quoted}" if split else ""
            return (f"No class is worse beyond noise; {names} dipped, within the 95% interval "
                    f"(on {self.samples} samples, {self._noise_words()}{disagree}).")
        return f"No class got worse with the {self.candidate_name} model (on {self.samples} samples)."

    def table(self) -> str:
        head = (f"{'class':<18} {'n':>5} {self.baseline_name[:10]:>10} {self.candidate_name[:10]:>10} "
                f"{'diff':>7}  interval         verdict")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{printable(r.name, 18):<18} {r.support:>5} {r.baseline:>10.1%} {r.candidate:>10.1%} "
                         f"{r.difference:>+7.1%}  [{r.low:+.1%}, {r.high:+.1%}]  {r.verdict}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline_name,
            "candidate": self.candidate_name,
            "samples": self.samples,
            "metric": "recall (per-class accuracy)",
            "interval": (f"{INTERVAL:.0%} paired bootstrap for all classes together (Bonferroni), over samples "
                         f"and repeats, {BOOTSTRAP_SAMPLES} resamples"),
            "rows": [row.to_dict() for row in self.rows],
            "sentence": self.sentence(),
        }


def compare_per_class(
    y_true: np.ndarray,
    baseline_pred: np.ndarray,
    candidate_pred: np.ndarray,
    class_names: list[str],
    *,
    baseline_name: str = "from-scratch",
    candidate_name: str = "fine-tuned",
    resamples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> ClassComparison:
    """Per-class recall of two models' predictions on the same samples, with paired bootstrap intervals.

    Paired: each resample draws the same samples for both models, so the interval is of the
    *difference* and shared hard samples cancel out.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    baseline_hit = np.asarray(baseline_pred, dtype=np.int64) == y_true
    candidate_hit = np.asarray(candidate_pred, dtype=np.int64) == y_true
    return compare_hits_per_class(
        y_true, baseline_hit, candidate_hit, class_names,
        baseline_name=baseline_name, candidate_name=candidate_name, resamples=resamples, seed=seed,
    )


def compare_hits_per_class(
    y_true: np.ndarray,
    baseline_hit: np.ndarray,
    candidate_hit: np.ndarray,
    class_names: list[str],
    *,
    baseline_name: str = "from-scratch",
    candidate_name: str = "fine-tuned",
    resamples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> ClassComparison:
    """`compare_per_class` from per-sample hits: ``(samples,)`` or ``(repeats, samples)`` of 1/0.

    Each class's interval is a paired bootstrap over its samples and, with several repeats,
    over the repeats too (seed-to-seed variance belongs in the interval). The intervals are
    Bonferroni-corrected for the number of classes tested (each at 1 - 0.05/K), so that with
    many classes one does not come out "worse" by chance; and a class is called worse (or
    better) only when every repeat moved it the same way.
    """
    from kiln_lab.engine.analysis.bootstrap import bootstrap_mean

    y_true = np.asarray(y_true, dtype=np.int64)
    baseline_hit = np.atleast_2d(np.asarray(baseline_hit, dtype=np.float64))
    candidate_hit = np.atleast_2d(np.asarray(candidate_hit, dtype=np.float64))
    present = [c for c in range(len(class_names)) if np.any(y_true == c)]
    confidence = 1.0 - (1.0 - INTERVAL) / max(1, len(present))
    rows = []
    for c in present:
        members = np.flatnonzero(y_true == c)
        diffs = candidate_hit[:, members] - baseline_hit[:, members]
        interval = bootstrap_mean(diffs, resamples=resamples, confidence=confidence, seed=seed + c)
        rows.append(ClassDelta(
            name=class_names[c],
            support=int(len(members)),
            baseline=float(baseline_hit[:, members].mean()),
            candidate=float(candidate_hit[:, members].mean()),
            low=interval.low,
            high=interval.high,
            repeat_differences=[float(v) for v in diffs.mean(axis=1)],
            confidence=confidence,
        ))
    return ClassComparison(baseline_name, candidate_name, rows, int(len(y_true)))


def compare_models_per_class(
    baseline: Any,
    candidate: Any,
    dataset: Dataset,
    *,
    split: str = "val",
    baseline_size: tuple[int, int] | None = None,
    candidate_size: tuple[int, int] | None = None,
    **names: str,
) -> ClassComparison:
    """`compare_per_class` for two Keras models on one split of ``dataset`` (same samples for both)."""
    from kiln_lab.engine.analysis.evaluation import predict_split
    from kiln_lab.engine.models.heads import class_probabilities

    if not dataset.is_classification:
        raise DataError("Per-class comparison needs a classification dataset.")
    out_a, indices = predict_split(baseline, dataset, split, image_size=baseline_size)
    out_b, _ = predict_split(candidate, dataset, split, image_size=candidate_size)
    y_true = dataset.labels[indices]
    pred_a = class_probabilities(out_a).argmax(axis=1)
    pred_b = class_probabilities(out_b).argmax(axis=1)
    return compare_per_class(y_true, pred_a, pred_b, dataset.class_names, **names)


@dataclass
class GroupReport:
    """Accuracy per group and the largest gap between two groups, with a bootstrap interval."""

    column: str
    groups: list[dict[str, Any]] = field(default_factory=list)  # name, n, accuracy
    gap: float = 0.0
    gap_low: float = 0.0
    gap_high: float = 0.0
    best: str = ""
    worst: str = ""

    def sentence(self) -> str:
        if len(self.groups) < 2:
            return f"Only one group in '{printable(self.column)}': there is no gap to measure."
        noise = "beyond noise" if self.gap_low > 0 else "within noise"
        return (f"Largest gap in '{printable(self.column)}': '{printable(self.best)}' {self._acc(self.best):.0%} "
                f"vs '{printable(self.worst)}' "
                f"{self._acc(self.worst):.0%} ({self.gap:.0%}, 95% interval {self.gap_low:.0%} to "
                f"{self.gap_high:.0%}, {noise}).")

    def _acc(self, name: str) -> float:
        return next(g["accuracy"] for g in self.groups if g["name"] == name)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "sentence": self.sentence()}


def group_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | list[str], *, column: str = "group",
    resamples: int = BOOTSTRAP_SAMPLES, seed: int = 0,
) -> GroupReport:
    """Accuracy per group and the gap between the best and the worst group (bootstrap within each group)."""
    hits = np.asarray(y_true) == np.asarray(y_pred)
    groups = np.asarray([str(g) for g in groups])
    names = sorted(set(groups.tolist()))
    report = GroupReport(column)
    members = {name: np.flatnonzero(groups == name) for name in names}
    for name in names:
        report.groups.append({"name": name, "n": int(len(members[name])),
                              "accuracy": float(hits[members[name]].mean())})
    if len(names) < 2:
        return report
    best = max(report.groups, key=lambda g: g["accuracy"])["name"]
    worst = min(report.groups, key=lambda g: g["accuracy"])["name"]
    rng = np.random.default_rng(seed)

    def boot(name: str) -> np.ndarray:
        index = members[name]
        return hits[index][rng.integers(0, len(index), size=(resamples, len(index)))].mean(axis=1)

    gaps = boot(best) - boot(worst)
    tail = (1 - INTERVAL) / 2
    report.best, report.worst = best, worst
    report.gap = report._acc(best) - report._acc(worst)
    report.gap_low, report.gap_high = float(np.quantile(gaps, tail)), float(np.quantile(gaps, 1 - tail))
    return report


def group_values(dataset: Dataset, group: str) -> np.ndarray:
    """Each sample's group: ``folder`` = the folder between the class folder and the file; else a CSV column."""
    if group in ("folder", "subfolder"):
        if not dataset.paths:
            raise DataError("Groups by folder need an image folder dataset.",
                            hint="Use --group COLUMN for a CSV file.")
        # root/class/group/file: the parent of the file, unless it is the class folder itself.
        values = [Path(p).parent.name for p in dataset.paths]
        return np.asarray(values)
    if dataset.source_kind != "csv":
        raise DataError(f"'{group}' names a CSV column, but {dataset.source} is not a CSV file.",
                        hint="Use --group folder for images in class/group/ folders.")
    from kiln_lab.engine.data.csvread import read_csv
    from kiln_lab.engine.data.tabular import is_missing

    table = read_csv(Path(dataset.source))
    if group not in table.header:
        raise DataError(f"{Path(dataset.source).name} has no column '{group}'.",
                        hint=f"Columns: {', '.join(table.header[:12])}.")
    target = table.header.index(dataset.preprocessing.get("target", table.header[-1]))
    column = table.header.index(group)
    # The dataset keeps the rows that have a target value, in file order.
    values = [row[column] for row in table.rows if not is_missing(row[target])]
    if len(values) != dataset.num_samples:
        raise DataError(f"The column '{group}' could not be matched row for row with the dataset.")
    return np.asarray(values)
