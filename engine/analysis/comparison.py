"""What a head-to-head comparison found, and what it means: `Comparison` and its `ComparisonRow`s.

Plain data that reads back from ``compare.json``: the runs, their per-sample scores, and the
sentences, intervals and costs made from them (`Comparison.verdict()`, which the CLI, the GUI
and the report all print). `compare.compare_approaches` trains the runs and fills one in;
`compare_report` renders one as HTML and Markdown. Both sit above this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiln_lab.engine.analysis.bootstrap import Interval, bootstrap_mean, paired_bootstrap
from kiln_lab.engine.analysis.budget import Budget, larger_budget
from kiln_lab.engine.analysis.costs import DEFAULT_DEVICE_WATTS, energy_joules

APPROACHES = ("scratch", "finetune")
APPROACH_WORDS = {"scratch": "from scratch", "finetune": "fine-tuning"}
WALL_SPREAD = 1.5  # runs doing the same work whose wall time per step differs more than this: the machine's load


@dataclass
class ComparisonRow:
    """One training run of the comparison (one approach, one data share, one seed)."""

    approach: str  # scratch | finetune
    data_fraction: float
    repeat: int
    seed: int
    train_samples: int
    score_name: str  # accuracy | mae (on the scored split)
    score: float
    seconds: float
    steps: int
    samples_seen: int
    stopped_by: str  # early_stopping | step_cap | time_budget | stopped | ...
    epochs_run: int
    params: int
    trainable_params: int  # in the first phase
    phase_trainable: list[int] = field(default_factory=list)
    forward_flops: int = 0
    train_flops: float = 0.0
    seconds_to_near_best: float | None = None
    cpu_seconds: float | None = None  # process CPU time while training (all threads); None in old files
    best_step: int = 0  # the step of the best validation loss (its weights are the ones scored)
    still_improving: bool = False  # stopped by the cap (or clock) while validation loss was still improving
    reason: str = "completed"
    run_dir: str | None = None
    train_digest: str = ""
    eval_digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Comparison:
    """All runs of one head-to-head, their per-sample scores, and what they mean."""

    rows: list[ComparisonRow] = field(default_factory=list)
    score_name: str = "accuracy"
    higher_is_better: bool = True
    scored_on: str = "test"
    eval_samples: int = 0
    test_made_by_comparison: bool = False
    repeats: int = 1
    budget: dict[str, Any] = field(default_factory=dict)
    device_watts: float = DEFAULT_DEVICE_WATTS
    # "approach@fraction" -> per repeat, the per-sample score (1/0 correct, or absolute error)
    sample_scores: dict[str, list[list[float]]] = field(default_factory=dict)
    out_dir: str | None = None
    # classification: the scored samples' true classes (same order as sample_scores) and the names
    eval_labels: list[int] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    # tables: a scaled linear model on the same subsets, scored per sample ("fraction" -> scores)
    baseline_name: str | None = None
    baseline_scores: dict[str, list[float]] = field(default_factory=dict)
    # runs left out of the verdict: stopped by the person (one trial, the others went on), or the
    # other run of a stopped run's pair (a pair is compared sample by sample, so both or neither count);
    # each {"number", "label", "approach", "data_fraction", "repeat", "state", "run_dir"}
    stopped: list[dict[str, Any]] = field(default_factory=list)

    # -- what was measured -----------------------------------------------------------------

    def fractions(self) -> list[float]:
        return sorted({r.data_fraction for r in self.rows})

    def runs(self, approach: str, fraction: float) -> list[ComparisonRow]:
        return [r for r in self.rows if r.approach == approach and r.data_fraction == fraction]

    def _paired_tables(self, fraction: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-sample scores of both approaches for the repeats both finished."""
        a = self.sample_scores.get(scores_key("scratch", fraction), [])
        b = self.sample_scores.get(scores_key("finetune", fraction), [])
        n = min(len(a), len(b))
        if n == 0:
            return None
        return np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64)

    def score(self, approach: str, fraction: float) -> Interval | None:
        """Mean score of ``approach`` at ``fraction`` with its bootstrap interval."""
        table = self.sample_scores.get(scores_key(approach, fraction))
        return bootstrap_mean(np.asarray(table)) if table else None

    def difference(self, fraction: float) -> Interval | None:
        """Fine-tuning's score minus from scratch's (paired), with its bootstrap interval."""
        tables = self._paired_tables(fraction)
        return None if tables is None else paired_bootstrap(*tables)

    def advantage(self, fraction: float) -> Interval | None:
        """Like `difference`, but positive when fine-tuning is better (for MAE: lower)."""
        diff = self.difference(fraction)
        if diff is None or self.higher_is_better:
            return diff
        return Interval(-diff.value, -diff.high, -diff.low, diff.confidence)

    def winner(self, fraction: float | None = None) -> str | None:
        """``finetune`` or ``scratch`` where the interval excludes zero; None when too close to call."""
        fractions = self.fractions()
        if not fractions:
            return None
        edge = self.advantage(fractions[-1] if fraction is None else fraction)
        if edge is None or edge.holds_zero:
            return None
        return "finetune" if edge.value > 0 else "scratch"

    def learning_curve(self) -> dict[str, list[dict[str, Any]]]:
        """Score against training-set size, per approach, with intervals."""
        curve: dict[str, list[dict[str, Any]]] = {}
        for approach in APPROACHES:
            for fraction in self.fractions():
                interval = self.score(approach, fraction)
                runs = self.runs(approach, fraction)
                if interval is None or not runs:
                    continue
                curve.setdefault(approach, []).append(
                    {
                        "fraction": fraction,
                        "train_samples": float(np.mean([r.train_samples for r in runs])),
                        **interval.to_dict(),
                    }
                )
        return curve

    def costs(self, fraction: float | None = None) -> dict[str, dict[str, Any]]:
        """Mean costs per run of each approach at ``fraction`` (default: the largest share)."""
        fractions = self.fractions()
        if not fractions:
            return {}
        fraction = fractions[-1] if fraction is None else fraction
        table: dict[str, dict[str, Any]] = {}
        for approach in APPROACHES:
            runs = self.runs(approach, fraction)
            if not runs:
                continue
            near = [r.seconds_to_near_best for r in runs if r.seconds_to_near_best is not None]
            seconds = float(np.mean([r.seconds for r in runs]))
            cpu = [r.cpu_seconds for r in runs if r.cpu_seconds is not None]
            table[approach] = {
                "runs": len(runs),
                "seconds": seconds,
                "seconds_to_near_best": float(np.mean(near)) if near else None,
                "cpu_seconds": float(np.mean(cpu)) if cpu else None,
                "steps": float(np.mean([r.steps for r in runs])),
                "params": runs[0].params,
                "phase_trainable": runs[0].phase_trainable or [runs[0].trainable_params],
                "forward_flops": runs[0].forward_flops,
                "train_flops": float(np.mean([r.train_flops for r in runs])),
                "energy_wh": energy_joules(seconds, self.device_watts) / 3600.0,
                "stopped_by": sorted({r.stopped_by for r in runs}),
            }
        return table

    # -- what it means ---------------------------------------------------------------------

    def verdict(self) -> list[str]:
        """The sentences every front end prints: who wins where, by how much, how sure, at what cost."""
        fractions = self.fractions()
        if not fractions:
            return ["No run finished, so there is nothing to compare yet.", *filter(None, [self.stopped_sentence()])]
        words = self.score_words()
        sentences: list[str] = []
        for fraction in reversed(fractions):
            sentences.append(self._fraction_sentence(fraction, words))
        left_out = self.stopped_sentence()
        if left_out:
            sentences.append(left_out)
        sentences.append(
            f"Scored on the {self.scored_on} split ({self.eval_samples} samples"
            f"{', set aside by the comparison' if self.test_made_by_comparison else ''}), which no run "
            f"trained or early-stopped on; the intervals are {self._confidence():.0%} paired bootstrap "
            f"intervals over those samples and {self.repeats} repeat{'s' if self.repeats != 1 else ''}."
        )
        baseline = self.baseline_sentence()
        if baseline:
            sentences.append(baseline)
        unconverged = self.still_improving_sentence()
        if unconverged:
            sentences.append(unconverged)
        costs = self.costs()
        if len(costs) == 2:
            ft, sc = costs["finetune"], costs["scratch"]
            sentences.append(
                f"Per run on {_share(fractions[-1])}: fine-tuning trained for {ft['seconds']:.1f} s "
                f"({_cpu_words(ft)}{ft['steps']:.0f} steps, about {_si(ft['train_flops'])}FLOPs), from scratch for "
                f"{sc['seconds']:.1f} s ({_cpu_words(sc)}{sc['steps']:.0f} steps, about "
                f"{_si(sc['train_flops'])}FLOPs) (FLOPs are estimates)."
            )
        uneven = self.wall_time_warning()
        if uneven:
            sentences.append(uneven)
        return sentences

    def stopped_sentence(self) -> str | None:
        """Which runs the person stopped, and that the verdict uses only the pairs that both finished."""
        stopped = [s for s in self.stopped if s.get("state") == "stopped"]
        if not stopped:
            return None
        names = "; ".join(str(s["label"]) for s in stopped)
        partners = sum(1 for s in self.stopped if s.get("state") == "left_out")
        pairs = len(self.rows) // 2
        also = (
            f" {partners} finished run{'s' if partners != 1 else ''} whose partner was stopped "
            f"{'are' if partners != 1 else 'is'} listed but left out as well." if partners else ""
        )
        return (
            f"You stopped {len(stopped)} run{'s' if len(stopped) != 1 else ''} ({names}); the verdict uses only "
            f"the {pairs} pair{'s' if pairs != 1 else ''} of runs that both finished.{also}"
        )

    def wall_time_warning(self) -> str | None:
        """A sentence when wall times measured the machine's load rather than the runs.

        Runs of one approach do the same work per step, so their wall time per step should agree;
        when it spreads much more than their CPU time per step does, something else was using the
        machine and wall times are not comparable (CPU time and steps still are).
        """
        worst: tuple[float, float, str] | None = None
        for approach in APPROACHES:
            runs = [r for r in self.runs_of(approach) if r.steps > 0 and r.seconds > 0 and r.cpu_seconds]
            if len(runs) < 2:
                continue
            wall = [r.seconds / r.steps for r in runs]
            cpu = [float(r.cpu_seconds or 0.0) / r.steps for r in runs]
            wall_spread, cpu_spread = max(wall) / min(wall), max(cpu) / max(min(cpu), 1e-9)
            if wall_spread > WALL_SPREAD and wall_spread > 1.3 * cpu_spread and (
                    worst is None or wall_spread > worst[0]):
                worst = (wall_spread, cpu_spread, approach)
        if worst is None:
            return None
        wall_spread, cpu_spread, approach = worst
        return (
            f"Wall times are not comparable: {APPROACH_WORDS[approach]} runs' wall time per step differs "
            f"{wall_spread:.1f}x between runs while their CPU time per step differs {cpu_spread:.1f}x, so the "
            "machine was busy with other work; compare CPU time and steps instead (the energy estimate, "
            "wall time x power, is off by as much)."
        )

    def baseline_score(self, fraction: float) -> Interval | None:
        scores = self.baseline_scores.get(f"{fraction:g}")
        return bootstrap_mean(np.asarray(scores)) if scores else None

    def against_baseline(self, approach: str, fraction: float) -> Interval | None:
        """``approach``'s edge over the linear baseline (paired; + = the network is better)."""
        base = self.baseline_scores.get(f"{fraction:g}")
        runs = self.sample_scores.get(scores_key(approach, fraction))
        if not base or not runs:
            return None
        table = np.asarray(runs, dtype=np.float64)
        diff = paired_bootstrap(np.tile(np.asarray(base, dtype=np.float64), (len(table), 1)), table)
        if self.higher_is_better:
            return diff
        return Interval(-diff.value, -diff.high, -diff.low, diff.confidence)

    def baseline_sentence(self) -> str | None:
        """Tables: how each approach stands against a scaled linear model on the same data."""
        fractions = self.fractions()
        if not self.baseline_name or not fractions:
            return None
        fraction = fractions[-1]
        base = self.baseline_score(fraction)
        if base is None:
            return None
        parts = []
        for approach in APPROACHES:
            edge = self.against_baseline(approach, fraction)
            if edge is None:
                continue
            where = "above" if edge.low > 0 else "below" if edge.high < 0 else "level with"
            parts.append(f"{APPROACH_WORDS[approach]} is {where} it ({edge.value:+.3f}, {edge.confidence:.0%} interval "
                         f"{_signed(edge.low)} to {_signed(edge.high)})")
        if not parts:
            return None
        return (f"A linear baseline ({self.baseline_name} on the scaled features) scores {base.value:.3f} "
                f"{self.score_words()} on {_share(fraction)}: " + "; ".join(parts) + ".")

    def still_improving_sentence(self) -> str | None:
        """Which runs the step cap cut off while they were still improving, and the budget to try."""
        cut = [r for r in self.rows if r.still_improving]
        if not cut:
            return None
        per_approach = ", ".join(
            f"{APPROACH_WORDS[a]} {n} of {len(self.runs_of(a))}"
            for a in APPROACHES if (n := sum(r.approach == a for r in cut))
        )
        cap = self.budget.get("max_steps")
        suggestion = self.suggested_budget()
        larger = f"; try --max-steps {suggestion['max_steps']}" if suggestion else ""
        return (
            f"Still improving at the {cap}-step cap: {per_approach} run{'s' if len(cut) != 1 else ''} "
            f"(validation loss at its best within the last {self.budget.get('patience_steps')} steps), so "
            f"{'their scores understate' if len(cut) != 1 else 'its score understates'} what longer training "
            f"reaches and the verdict may change with a larger budget{larger}."
        )

    def runs_of(self, approach: str) -> list[ComparisonRow]:
        return [r for r in self.rows if r.approach == approach]

    def suggested_budget(self) -> dict[str, Any] | None:
        """A 4x larger budget when some run was still improving at the cap; None when none was."""
        if not any(r.still_improving for r in self.rows) or not self.budget:
            return None
        return larger_budget(Budget(**self.budget)).to_dict()

    def _fraction_sentence(self, fraction: float, words: str) -> str:
        share = _share(fraction)
        scores = {a: self.score(a, fraction) for a in APPROACHES}
        done = {a: s for a, s in scores.items() if s is not None}
        if len(done) < 2:
            if not done:
                return f"No run finished on {share} (the comparison was stopped)."
            only, interval = next(iter(done.items()))
            return (
                f"Only {APPROACH_WORDS[only]} finished on {share}: {interval.value:.3f} {words} "
                f"(the comparison was stopped)."
            )
        ft, sc = done["finetune"], done["scratch"]
        edge = self.advantage(fraction)
        assert edge is not None
        repeats = min(len(self.runs("scratch", fraction)), len(self.runs("finetune", fraction)))
        samples = int(np.mean([r.train_samples for r in self.runs("scratch", fraction)]))
        where = f"{share} ({samples:,} training samples)"
        interval = f"{edge.confidence:.0%} interval {_signed(edge.low)} to {_signed(edge.high)}"
        if edge.holds_zero:
            return (
                f"Too close to call on {where}: fine-tuning {ft.value:.3f} and from scratch {sc.value:.3f} {words}; "
                f"fine-tuning's edge {edge.value:+.3f} has a {interval} that holds zero ({repeats} repeat"
                f"{'s' if repeats != 1 else ''})."
            )
        winner, loser = ("finetune", "scratch") if edge.value > 0 else ("scratch", "finetune")
        margin = abs(edge.value)
        low, high = (edge.low, edge.high) if winner == "finetune" else (-edge.high, -edge.low)
        better = "higher" if self.higher_is_better else "lower"
        return (
            f"{APPROACH_WORDS[winner].capitalize()} wins on {where}: {done[winner].value:.3f} {words} against "
            f"{done[loser].value:.3f}, {margin:.3f} {better} ({edge.confidence:.0%} interval of the margin "
            f"{low:.3f} to {high:.3f}, {repeats} repeat{'s' if repeats != 1 else ''})."
        )

    def per_class(self, fraction: float | None = None) -> Any:
        """Per-class accuracy of both approaches at ``fraction`` (default: the largest share), with
        paired bootstrap intervals of the difference (`engine.analysis.bias.ClassComparison`):
        which classes fine-tuning serves worse than from scratch. None for regression or before
        both approaches have finished a run there. The intervals take in the repeats and are
        corrected for the number of classes; a class whose repeats disagree in sign is never
        called worse.
        """
        fractions = self.fractions()
        if not self.higher_is_better or not self.eval_labels or not self.class_names or not fractions:
            return None
        tables = self._paired_tables(fractions[-1] if fraction is None else fraction)
        if tables is None or tables[0].shape[1] != len(self.eval_labels):
            return None
        from kiln_lab.engine.analysis.bias import compare_hits_per_class

        return compare_hits_per_class(
            np.asarray(self.eval_labels), tables[0], tables[1], self.class_names,
            baseline_name="from-scratch", candidate_name="fine-tuned",
        )

    def _confidence(self) -> float:
        fractions = self.fractions()
        edge = self.difference(fractions[-1]) if fractions else None
        return edge.confidence if edge is not None else 0.95

    def score_words(self) -> str:
        return f"{self.scored_on} {'accuracy' if self.score_name == 'accuracy' else self.score_name.upper()}"

    # -- saving ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        per_class = self.per_class()
        return {
            "score_name": self.score_name,
            "higher_is_better": self.higher_is_better,
            "scored_on": self.scored_on,
            "eval_samples": self.eval_samples,
            "test_made_by_comparison": self.test_made_by_comparison,
            "repeats": self.repeats,
            "budget": self.budget,
            "device_watts": self.device_watts,
            "verdict": self.verdict(),
            "winner": self.winner(),
            "suggested_budget": self.suggested_budget(),
            "learning_curve": self.learning_curve(),
            "costs": self.costs(),
            "rows": [r.to_dict() for r in self.rows],
            "sample_scores": self.sample_scores,
            "eval_labels": self.eval_labels,
            "class_names": self.class_names,
            "baseline_name": self.baseline_name,
            "baseline_scores": self.baseline_scores,
            "stopped": self.stopped,
            "per_class": None if per_class is None else per_class.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        fields = {f.name for f in dataclasses.fields(cls)} - {"rows"}
        kept = {k: v for k, v in data.items() if k in fields}
        return cls(rows=[ComparisonRow(**row) for row in data.get("rows", [])], **kept)



def scores_key(approach: str, fraction: float) -> str:
    """The key of ``Comparison.sample_scores`` for one approach at one data share."""
    return f"{approach}@{fraction:g}"


def _cpu_words(cost: dict[str, Any]) -> str:
    return "" if cost.get("cpu_seconds") is None else f"{cost['cpu_seconds']:.1f} s of CPU, "


def _share(fraction: float) -> str:
    return "all the training data" if fraction >= 1.0 else f"{fraction:.0%} of the training data"


def _signed(value: float) -> str:
    """+0.012; a bound that rounds to zero keeps enough digits to show its side of zero."""
    return f"{value:+.3f}" if abs(value) >= 0.0005 or value == 0 else f"{value:+.1e}"


def _si(value: float) -> str:
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.1f} {prefix}"
    return f"{value:.0f} "
