"""The advisor: before training, which way to go on this data, and how sure that is.

It measures instead of guessing (seconds on the demo data on 2 CPU cores):
- a linear probe on each candidate backbone's frozen features against a from-scratch
  reference (`advisor_probes.py`): the stronger, on the validation samples, of a small CNN
  trained from scratch for a short budget (images) and the same linear probe on the raw
  inputs, with a paired bootstrap interval of the difference. A linear probe on pixels alone
  cannot learn textures or orientations (every class has the same mean image), and once
  made the advisor confidently wrong on them;
- LogME (You et al., ICML 2021; `logme.py`) of each backbone's features, to rank backbones;
- samples per class;
- what each backbone cannot see: the same raw probe on the data as the backbone receives it
  (its channels, its input size) against the data as it is. A grayscale backbone on colour
  data discards hue; when the classes differ in hue, that probe collapses and says so;
  an input size far from the backbone's; vector (tabular) data, where no image backbone applies.

The pick is one of from scratch / frozen features / partial fine-tune / full fine-tune, or
"unsure" when the probes do not separate the options; every reason carries its numbers.

Why the thresholds below: a linear probe on raw inputs understates what a network trained
from scratch learns once there is plenty of data, so the feature gain that predicts a
fine-tuning win must grow with the samples per class; and how much of a backbone to unfreeze
follows the samples per class (few: keep it frozen, or it overfits; many: unfreeze it all).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from kiln_lab.engine.analysis.advisor_probes import ADVICE_CANCELLED, REFERENCE_STEPS
from kiln_lab.engine.analysis.bootstrap import Interval, paired_bootstrap
from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.errors import Cancelled, check_cancelled
from kiln_lab.engine.events import EventSink, Progress, ignore_events

PICKS = ("from scratch", "frozen features", "partial fine-tune", "full fine-tune", "unsure")
MAX_TRAIN, MAX_VAL = 1500, 600  # probe sample sizes: enough for the intervals, cheap to fit
COLOUR_LOSS = 0.05  # a probe that loses this much accuracy (with its interval above 0) = the backbone is blind to it
FAR_SIZE = 4.0  # upscaling or shrinking by more than this factor is "far from the backbone's input size"
FEW_PER_CLASS, MANY_PER_CLASS = 30, 300
MIN_PROBE_VAL = 30  # below this many validation samples a probe's score moves by 0.03 or more per sample


def required_gain(per_class: float) -> float:
    """The feature-probe gain over the raw probe that predicts a fine-tuning win at this data size."""
    if per_class <= FEW_PER_CLASS:
        return 0.0
    if per_class <= MANY_PER_CLASS:
        return 0.02
    return 0.05


@dataclass
class BackboneReport:
    name: str
    applicable: bool
    probe: float | None = None  # linear-probe score on its frozen features
    logme: float | None = None
    gain: dict[str, float] | None = None  # features - from-scratch reference, + = features better
    input_loss: dict[str, float] | None = None  # probe(as is) - probe(as the backbone sees it)
    notes: list[str] = field(default_factory=list)


@dataclass
class Advice:
    pick: str  # one of PICKS
    confidence: float  # 0..1
    lean: str | None  # for "unsure": the side the numbers lean to, if any
    backbone: str | None
    reasons: list[str]
    ranking: list[BackboneReport]
    task: str
    score_name: str
    raw_probe: float | None
    samples_per_class: float
    seconds: float = 0.0
    probe_samples: int = 0  # validation samples the probes were scored on
    scratch_reference: float | None = None  # score of the small CNN trained from scratch (images)

    @property
    def side(self) -> str | None:
        """``scratch``, ``finetune`` or None (unsure): what a head-to-head should find."""
        if self.pick == "unsure":
            return None
        return "scratch" if self.pick == "from scratch" else "finetune"

    def summary(self) -> str:
        pick = self.pick if self.pick == "unsure" else f"{self.pick}"
        # "partial fine-tune of the demo backbone", not "partial fine-tune with demo" (issue 18.14).
        target = f" of the {self.backbone} backbone" if self.backbone and self.side == "finetune" else ""
        lean = f", leaning to {self.lean}" if self.pick == "unsure" and self.lean else ""
        return f"Advice: {pick}{target} (confidence {self.confidence:.0%}{lean})."

    def model_settings(self) -> dict[str, Any] | None:
        """The pick as ``model.*`` settings (what "Apply" on the Model page sets); None when unsure."""
        return pick_settings(self.pick, self.backbone)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["side"] = self.side
        data["summary"] = self.summary()
        return data


def pick_settings(pick: str, backbone: str | None) -> dict[str, Any] | None:
    """What each pick means for the recipe.

    Frozen features: one phase, the backbone frozen. Partial and full fine-tuning: two phases (the
    new head first, so its random start does not wreck the pretrained weights, then the backbone
    at a tenth of the rate, as in the Keras transfer-learning guide); partial unfreezes the top
    two layers, where the most task-specific features are, full the whole backbone.
    """
    if pick == "from scratch":
        return {"kind": "scratch"}
    policies = {"frozen features": ("all", False), "partial fine-tune": ("top:2", True),
                "full fine-tune": ("none", True)}
    if pick not in policies or not backbone:
        return None
    freeze, two_phase = policies[pick]
    settings: dict[str, Any] = {"kind": "finetune", "backbone": backbone, "freeze": freeze, "two_phase": two_phase}
    if two_phase:
        settings["finetune_lr_factor"] = 0.1
    return settings


def default_backbones() -> list[str]:
    """The catalogue's offline backbones: the ones the advisor can probe without a download."""
    from kiln_lab.engine.models.catalogue import offline_entries

    return [entry.name for entry in offline_entries()]


def advise(
    dataset: Dataset, backbones: list[str] | None = None, *, seed: int = 0, sink: EventSink = ignore_events,
    cut_layer: str | None = None, cancel: threading.Event | None = None,
) -> Advice:
    """Probe ``dataset`` with each backbone and the raw inputs; return a pick with reasons and numbers.

    ``cut_layer`` is where to cut a backbone that is a person's own model file (by default
    below its classifier; the advice says where). Progress goes to ``sink`` per backbone; a set
    ``cancel`` raises `Cancelled` between backbones, between batches of features and between
    steps of the from-scratch reference.
    """
    import time

    from kiln_lab.engine.analysis.advisor_probes import (
        as_backbone_sees,
        backbone_features,
        linear_probe,
        probe_indices,
        raw_inputs,
        scratch_reference,
    )
    from kiln_lab.engine.analysis.logme import logme

    started = time.perf_counter()
    names = list(backbones) if backbones else default_backbones()
    classes = dataset.num_classes if dataset.is_classification else 0
    score_name = "accuracy" if classes else "MAE"
    train_idx, val_idx = probe_indices(dataset, MAX_TRAIN, MAX_VAL, seed)
    y_train, y_val = dataset.labels[train_idx], dataset.labels[val_idx]
    per_class = _samples_per_class(dataset)
    steps = len(names) + 2  # the raw inputs, each backbone, the from-scratch reference
    plural = "s" if len(names) != 1 else ""
    check_cancelled(cancel, ADVICE_CANCELLED)
    sink(Progress("advise", 0, steps, f"Advisor: probing the raw inputs, then {len(names)} backbone{plural}"))
    raw = linear_probe("raw", raw_inputs(dataset, train_idx), y_train, raw_inputs(dataset, val_idx), y_val,
                       classes=classes)
    reports: list[BackboneReport] = []
    probes: dict[str, Any] = {}
    for number, name in enumerate(names, start=1):
        check_cancelled(cancel, ADVICE_CANCELLED)
        sink(Progress("advise", number, steps,
                      f"Advisor: probing {len(names)} backbone{plural} ({number} of {len(names)}: {name})"))
        report = BackboneReport(name, applicable=True)
        if dataset.input_kind != "image":
            report.applicable = False
            report.notes.append(f"takes images; this data is a table of {dataset.input_shape[0]} features")
            reports.append(report)
            continue
        try:
            (feats_train, feats_val), info = backbone_features(name, dataset, [train_idx, val_idx],
                                                               cut_layer=cut_layer, cancel=cancel)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - an unusable backbone is a finding, not a crash
            report.applicable = False
            report.notes.append(f"could not be probed: {getattr(exc, 'sentence', str(exc))[:200]}")
            reports.append(report)
            continue
        if info.get("source") == "keras_file":  # a person's own file: say where it was cut and what was assumed
            report.notes += [note.rstrip(".") for note in info.get("notes", [])]
        probe = linear_probe(name, feats_train, y_train, feats_val, y_val, classes=classes)
        probes[name] = probe
        report.probe = probe.score
        report.logme = logme(_standardise(feats_train), y_train, regression=classes == 0)
        _input_checks(report, dataset, info, train_idx, val_idx, y_train, y_val, classes, raw, seed,
                      as_backbone_sees, linear_probe)
        reports.append(report)
    reference = raw
    cnn = None
    if probes:  # measure the backbones against a from-scratch reference that can learn the task
        check_cancelled(cancel, ADVICE_CANCELLED)
        sink(Progress("advise", len(names) + 1, steps, "Advisor: training a small CNN from scratch as the reference"))
        cnn = scratch_reference(dataset, train_idx, val_idx, classes=classes, seed=seed, cancel=cancel)
        if _better(cnn.score, raw.score, classes):
            reference = cnn
        for report in reports:
            if report.name in probes:
                diff = paired_bootstrap(reference.per_sample, probes[report.name].per_sample, seed=seed)
                report.gain = _oriented(diff, classes).to_dict()
    ranking = sorted(reports, key=lambda r: (not r.applicable, -_rank_key(r, classes)))
    table_line = _table_baseline_words(dataset) if dataset.input_kind == "vector" else None
    advice = _decide(ranking, raw.score, per_class, dataset, score_name, len(val_idx),
                     cnn_score=None if cnn is None else cnn.score, reference=reference.name)
    if table_line:
        advice.reasons.append(table_line)
    advice.seconds = round(time.perf_counter() - started, 1)
    sink(Progress("advise", steps, steps, advice.summary()))
    return advice


def _table_baseline_words(dataset: Dataset) -> str | None:
    """Tables: what a scaled linear model scores, the bar a network trained from scratch must clear."""
    from kiln_lab.engine.analysis.linear_baseline import linear_baseline

    split = next((s for s in ("val", "test") if len(dataset.splits.get(s, [])) > 0), None)
    if split is None or len(dataset.splits.get("train", [])) < 5:
        return None
    result = linear_baseline(dataset, split=split)
    score = f"{result.score:.3f} accuracy" if result.score_name == "accuracy" else (
        f"MAE {result.score:.4g}" + (f", R^2 {result.r2:.3f}" if result.r2 is not None else ""))
    return (f"A linear baseline ({result.name} on the scaled features) scores {score} on the {split} split: "
            "a network trained from scratch must beat it to be worth its cost (Kiln's table defaults are made "
            "to match it).")


def _better(first: float, second: float, classes: int) -> bool:
    return first > second if classes else first < second


def _rank_key(report: BackboneReport, classes: int) -> float:
    if report.probe is None:
        return -np.inf
    return report.probe if classes else -report.probe


def _oriented(interval: Interval, classes: int) -> Interval:
    """For MAE a lower score is better: flip the difference so that + always means "features better"."""
    if classes:
        return interval
    return Interval(-interval.value, -interval.high, -interval.low, interval.confidence)


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)


def _samples_per_class(dataset: Dataset) -> float:
    if dataset.is_classification:
        counts = [c for c in dataset.class_counts("train").values() if c > 0]
        return float(min(counts)) if counts else 0.0
    return float(len(dataset.splits["train"]))


def _input_checks(
    report: BackboneReport, dataset: Dataset, info: dict[str, Any], train_idx: np.ndarray, val_idx: np.ndarray,
    y_train: np.ndarray, y_val: np.ndarray, classes: int, raw: Any, seed: int, as_sees: Any, probe: Any,
) -> None:
    """What this backbone cannot see: channels and size, measured with the raw probe."""
    channels = info.get("channels")
    size = tuple(info["input_size"]) if info.get("input_size") else None
    have = int(dataset.input_shape[2]) if len(dataset.input_shape) > 2 else 1
    data_size = dataset.image_size
    if size and data_size:
        factor = max(size) / max(data_size)
        if factor > FAR_SIZE or factor < 1 / FAR_SIZE:
            verb = "upscaled" if factor > 1 else "shrunk"
            report.notes.append(
                f"input size far from the backbone's: {data_size[0]}x{data_size[1]} images are {verb} "
                f"{max(factor, 1 / factor):.1f}x to {size[0]}x{size[1]}"
            )
    changes_channels = channels is not None and channels < have
    shrinks = bool(size and data_size and max(size) < max(data_size))
    if not (changes_channels or shrinks):
        return  # the backbone receives everything the raw probe sees
    seen = probe("as the backbone sees it", as_sees(dataset, train_idx, channels, size), y_train,
                 as_sees(dataset, val_idx, channels, size), y_val, classes=classes)
    loss = _oriented(paired_bootstrap(seen.per_sample, raw.per_sample, seed=seed), classes)
    report.input_loss = loss.to_dict()
    what = f"{have} channels -> {channels}" if changes_channels else f"shrunk to {size[0]}x{size[1]}"
    if loss.low > 0 and loss.value >= COLOUR_LOSS:
        report.notes.append(
            f"cannot see what separates the classes: a probe on the data as this backbone receives it ({what}) "
            f"scores {seen.score:.3f} against {raw.score:.3f} on the data as it is"
        )


def _interval_words(gain: dict[str, float], samples: int) -> str:
    """The gain's interval, or, when the bootstrap has no spread, why that is not certainty."""
    if gain["high"] - gain["low"] < 1e-12:
        return (f"no spread in the bootstrap: the two probes score alike on each of the {samples} validation "
                "samples, which says little on so few" if samples < MIN_PROBE_VAL else
                f"no spread in the bootstrap over {samples} validation samples: the two probes score alike on each")
    return f"95% interval {gain['low']:+.3f} to {gain['high']:+.3f}, over {samples} validation samples"


def _decide(
    ranking: list[BackboneReport], raw: float, per_class: float, dataset: Dataset, score: str, probe_samples: int,
    *, cnn_score: float | None = None, reference: str = "raw",
) -> Advice:
    usable = [r for r in ranking if r.applicable and r.gain is not None]
    base = dict(ranking=ranking, task=dataset.task, score_name=score, raw_probe=raw, samples_per_class=per_class,
                probe_samples=probe_samples, scratch_reference=cnn_score)
    unit = " per class (fewest)" if dataset.is_classification else ""
    data_words = f"{per_class:.0f} training samples{unit}"
    if not usable:
        why = ranking[0].notes[0] if ranking and ranking[0].notes else "no candidate backbone was given"
        if dataset.input_kind == "image" and ranking:  # a backbone failed to load: nothing was measured
            return Advice("unsure", 0.0, None, None, [f"No backbone could be probed: {why}.", data_words + "."],
                          **base)
        return Advice("from scratch", 0.9, None, None, [f"No backbone applies: {why}.", data_words + "."], **base)
    best = usable[0]
    gain = best.gain
    assert gain is not None and best.probe is not None
    need = required_gain(per_class)
    if cnn_score is None:
        against = f"against {raw:.3f} on the raw inputs"
    else:
        stronger = "the CNN" if reference != "raw" else "the raw-input probe"
        against = (f"against the from-scratch reference ({stronger}; a small CNN trained for "
                   f"{REFERENCE_STEPS} steps scores {cnn_score:.3f}, a linear probe on the raw inputs {raw:.3f})")
    reasons = [
        f"A linear probe on {best.name}'s frozen features scores {best.probe:.3f} {score} {against}: "
        f"a gain of {gain['value']:+.3f} ({_interval_words(gain, probe_samples)}).",
        f"{data_words}; at this size fine-tuning needs a probe gain above {need:.2f} to beat training from scratch.",
    ]
    few_val = probe_samples < MIN_PROBE_VAL
    if few_val:
        reasons.append(
            f"Only {probe_samples} validation samples score the probes: one sample moves a score by "
            f"{1 / max(probe_samples, 1):.2f}, so differences smaller than a few samples cannot be told apart; "
            "more validation data would settle it."
        )
    if best.logme is not None:
        others = ", ".join(f"{r.name} {r.logme:.3f}" for r in usable[1:] if r.logme is not None)
        reasons.append(f"LogME of {best.name}: {best.logme:.3f}" + (f" (others: {others})." if others else "."))
    reasons += [f"{best.name}: {note}." for note in best.notes]
    blind = best.input_loss is not None and best.input_loss["low"] > 0 and best.input_loss["value"] >= COLOUR_LOSS
    if gain["low"] > need:
        # Features help beyond what from scratch is expected to catch up: fine-tune, as hard as the data allows.
        pick = "frozen features" if per_class <= FEW_PER_CLASS else (
            "partial fine-tune" if per_class <= MANY_PER_CLASS else "full fine-tune")
        confidence = min(0.6 if few_val else 0.95, 0.6 + 4.0 * (gain["low"] - need))
        return Advice(pick, round(confidence, 2), None, best.name, reasons, **base)
    if gain["high"] < 0 or blind:
        confidence = min(0.6 if few_val else 0.95, 0.6 + 4.0 * max(-gain["high"], 0.0) + (0.2 if blind else 0.0))
        if blind:
            reasons.insert(0, f"{best.name} cannot see what separates the classes in this data.")
        return Advice("from scratch", round(confidence, 2), None, None, reasons, **base)
    lean = "fine-tuning" if gain["value"] > need else "from scratch"
    reasons.insert(0, "The backbone's features and the from-scratch reference cannot be told apart here: "
                      "the gain's interval does not clear the bar.")
    return Advice("unsure", 0.5, lean, best.name, reasons, **base)
