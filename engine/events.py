"""Plain-Python events a training job reports through its sink.

The sink is any callable taking one event. The CLI prints them, the GUI's worker turns them
into Qt signals, a cluster job logs them. Events hold only plain values (str, int, float,
dict, list), never tensors, so they can cross threads and be serialised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class RunStarted:
    """The model is built and compiled; fitting starts next."""

    run_name: str
    dataset: dict[str, Any]  # Dataset.summary()
    model: dict[str, Any]  # {"name", "params", "trainable_params", "layers": [...]}
    epochs: int
    steps_per_epoch: int
    initial_epoch: int = 0
    device: str = "CPU"


@dataclass(frozen=True)
class PhaseStarted:
    """A training phase begins (fine-tuning's two-phase recipe has two)."""

    name: str
    index: int
    count: int
    first_epoch: int
    last_epoch: int
    description: str = ""


@dataclass(frozen=True)
class BatchEnd:
    """Throttled: at most a few per second reach the sink."""

    epoch: int  # 0-based
    batch: int  # 0-based, within the epoch
    steps: int  # batches per epoch
    logs: dict[str, float]
    global_step: int = 0


@dataclass(frozen=True)
class EpochEnd:
    epoch: int  # 0-based
    epochs: int
    logs: dict[str, float]  # Keras names: loss, accuracy, val_loss, val_accuracy, ...
    learning_rate: float
    seconds: float


@dataclass(frozen=True)
class RunWarning:
    """Something the user should know in plain words (NaN loss, skipped files, ...)."""

    message: str
    kind: str = "warning"


@dataclass(frozen=True)
class DriftMeasured:
    """The forgetting monitor's figures after an epoch (epoch -1: the pretrained baseline).

    ``cka``: linear CKA of the backbone's features against the pretrained ones (1.0 =
    unchanged); ``source_accuracy``: the source-task probe on the current features (None
    when the backbone's source task is unknown).
    """

    epoch: int  # 0-based; -1 = before training
    cka: float
    source_accuracy: float | None = None
    source_baseline: float | None = None
    weights_path: str | None = None  # this epoch's weights, kept for roll-back


@dataclass(frozen=True)
class PreviewPredictions:
    """The current model's predictions on a few fixed samples after an epoch (the live preview).

    The samples are chosen once per run (seeded, spread over the classes) from the validation
    split (else test, else training), so each epoch's preview shows the same ones. ``samples``:
    one dict per sample: ``index``, ``true`` and ``predicted`` (class names, or numbers for
    regression), ``confidence`` (the predicted class's probability; None for regression),
    ``right`` (regression: None), ``values`` (a table's row as ``[(column, text), ...]``).
    ``images``: uint8 ``(N, H, W, C)`` thumbnails for image data (at most ~64 px a side), else
    None. ``seconds``: what the prediction cost (it runs after the epoch's own event).
    """

    epoch: int  # 0-based
    task: str  # classification | regression
    split: str
    samples: list[dict[str, Any]]
    images: Any = None  # np.ndarray uint8, or None for tables
    seconds: float = 0.0


@dataclass(frozen=True)
class Progress:
    """Progress of a non-training task: scanning a dataset, downloading a backbone, saving."""

    task: str
    done: int
    total: int | None
    message: str = ""


@dataclass(frozen=True)
class TrialState:
    """One trial (one run) of a comparison: planned, running, finished, or stopped by the person.

    ``number`` counts from 1 in the comparison's order; a front end asks to stop one trial by it
    (`RunControl.stop_trial`) while the others go on.
    """

    number: int
    total: int
    label: str  # "from scratch on 100%, repeat 1"
    state: str  # planned | running | finished | stopped | left_out (its pair's other run was stopped)


@dataclass(frozen=True)
class Finished:
    history: dict[str, list[float]]
    metrics: dict[str, float]
    stopped: bool
    seconds: float
    out_dir: str | None = None
    reason: str = "completed"  # completed | stopped | early_stopping | nan


@dataclass(frozen=True)
class Failed:
    message: str  # one sentence for the user
    details: str = ""  # traceback, for a "details" fold


Event = Union[
    RunStarted, PhaseStarted, BatchEnd, EpochEnd, RunWarning, DriftMeasured, PreviewPredictions, Progress, TrialState,
    Finished, Failed,
]
EventSink = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """A sink that drops everything."""


def sink_takes(sink: EventSink, kind: type) -> bool:
    """Whether ``sink`` does anything with events of type ``kind``.

    A sink may name the kinds it drops in an ``ignored_events`` attribute (the terminal's
    progress drops the live preview), so the work done only to make such events (a preview's
    prediction after every epoch) is skipped; `ignore_events` takes none.
    """
    if sink is ignore_events:
        return False
    return kind not in getattr(sink, "ignored_events", ())


@dataclass
class EventRecorder:
    """A sink that keeps every event; handy in tests and for run records."""

    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def event_to_dict(event: Event) -> dict[str, Any]:
    """Serialisable form: ``{"type": "EpochEnd", ...fields}``."""
    return {"type": type(event).__name__, **asdict(event)}
