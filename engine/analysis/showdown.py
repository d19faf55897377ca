"""The initializer showdown: one architecture, trained a few epochs under each initializer.

Same data, split, seed, optimizer and epochs for every contender; only the kernel
initializer (and, for plain random normal, its scale) changes. The curves go on one chart
(the Model page) and the final figures into a table (``kiln showdown``).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln_lab.engine.data.dataset import Dataset
from kiln_lab.engine.errors import check_cancelled
from kiln_lab.engine.events import EventSink, Progress, ignore_events
from kiln_lab.engine.training.config import RunConfig
from kiln_lab.engine.training.control import RunControl

SHOWDOWN_CANCELLED = "The initializer showdown was cancelled."


@dataclass(frozen=True)
class Contender:
    label: str
    initializer: str
    scale: float = 0.05  # only read by random_normal / random_uniform


CONTENDERS: tuple[Contender, ...] = (
    Contender("Glorot uniform", "glorot_uniform"),
    Contender("He normal", "he_normal"),
    Contender("LeCun normal", "lecun_normal"),
    Contender("random normal, std 1.0", "random_normal", 1.0),
    Contender("random normal, std 0.01", "random_normal", 0.01),
)


@dataclass
class ShowdownRow:
    label: str
    initializer: str
    scale: float
    history: dict[str, list[float]]
    final_loss: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    reason: str  # completed | nan | stopped ...

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Showdown:
    rows: list[ShowdownRow] = field(default_factory=list)
    epochs: int = 0

    def best(self) -> ShowdownRow | None:
        scored = [r for r in self.rows if r.val_loss is not None and math.isfinite(r.val_loss)]
        if not scored:
            scored = [r for r in self.rows if math.isfinite(r.final_loss)]
        key = (lambda r: r.val_loss) if scored and scored[0].val_loss is not None else (lambda r: r.final_loss)
        return min(scored, key=key) if scored else None

    def sentence(self) -> str:
        best = self.best()
        if best is None:
            return "No initializer finished with a finite loss."
        # stalled: the loss hardly moved; blew up: NaN, or still ten times the best one's
        stalled = [r.label for r in self.rows if r.reason == "nan" or not math.isfinite(r.final_loss)
                   or (r.history.get("loss") and r.history["loss"][-1] > 0.95 * r.history["loss"][0])
                   or r.final_loss > 10 * best.final_loss]
        text = f"After {self.epochs} epoch(s), {best.label} has the lowest " + (
            "validation loss" if best.val_loss is not None else "training loss") + "."
        if stalled:
            text += f" Stalled or blew up: {', '.join(stalled)}."
        return text + " One seed: rerun with others before calling a close race."

    def table(self) -> str:
        head = f"{'initializer':<26} {'loss':>9} {'val loss':>9} {'val acc':>8} {'seconds':>8}  ended"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r.label:<26} {_f(r.final_loss):>9} {_f(r.val_loss):>9} {_f(r.val_accuracy):>8} "
                         f"{r.seconds:>8.1f}  {r.reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "rows": [r.to_dict() for r in self.rows], "sentence": self.sentence()}


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def run_showdown(
    config: RunConfig,
    dataset: Dataset | None = None,
    *,
    epochs: int = 3,
    contenders: tuple[Contender, ...] = CONTENDERS,
    sink: EventSink = ignore_events,
    control: RunControl | None = None,
    on_row: Any = None,
    out_dir: str | Path | None = None,
    cancel: threading.Event | None = None,
) -> Showdown:
    """Train ``config``'s from-scratch model under each contender for ``epochs`` epochs.

    No files are written unless ``out_dir`` is given: then each contender's run is a run folder
    under ``out_dir/runs`` (with TensorBoard logs and HParams when ``config.train.tensorboard``,
    so ``tensorboard --logdir out_dir/runs`` lines the contenders up by initializer and scale).
    Progress (contender i of n) goes to ``sink`` beside the training events. ``control`` stops the
    contender training at its next batch and keeps the rows that finished; a set ``cancel`` does
    that too (it is watched by a small thread that stops ``control``) and then raises `Cancelled`.
    """
    from kiln_lab.engine.data import load_dataset

    config = config.replace(model={"kind": "scratch"}, train={"epochs": epochs, "checkpoint": False})
    config.validate()
    dataset = dataset if dataset is not None else load_dataset(config.data, progress=sink)
    control = control or RunControl()
    showdown = Showdown(epochs=epochs)
    done = threading.Event()
    if cancel is not None:
        def watch() -> None:  # the training job honours a RunControl between batches, not an Event
            while not done.is_set():
                if cancel.wait(0.1):
                    control.stop()
                    return

        threading.Thread(target=watch, name="kiln-showdown-cancel", daemon=True).start()
    try:
        _run_contenders(showdown, config, dataset, contenders, sink, control, on_row, out_dir, cancel)
    finally:
        done.set()
    check_cancelled(cancel, SHOWDOWN_CANCELLED)
    return showdown


def _run_contenders(showdown: Showdown, config: RunConfig, dataset: Dataset, contenders: tuple[Contender, ...],
                    sink: EventSink, control: RunControl, on_row: Any, out_dir: str | Path | None,
                    cancel: threading.Event | None) -> None:
    from kiln_lab.engine.training.job import run_training

    for number, contender in enumerate(contenders, start=1):
        check_cancelled(cancel, SHOWDOWN_CANCELLED)
        if control.stop_requested:
            break
        sink(Progress("showdown", number - 1, len(contenders),
                      f"Initializer showdown: {contender.label} ({number} of {len(contenders)})"))
        run_config = config.replace(
            model={"kernel_initializer": contender.initializer, "init_scale": contender.scale},
            name=f"showdown-{contender.initializer}-{contender.scale:g}",
        )
        started = time.perf_counter()
        run_dir = Path(out_dir) / "runs" / run_config.name if out_dir else None
        result = run_training(run_config, sink=sink, control=control, dataset=dataset, out_dir=run_dir)
        history = result.history
        row = ShowdownRow(
            label=contender.label,
            initializer=contender.initializer,
            scale=contender.scale,
            history=history,
            final_loss=history.get("loss", [float("nan")])[-1] if history.get("loss") else float("nan"),
            val_loss=result.metrics.get("val_loss"),
            val_accuracy=result.metrics.get("val_accuracy"),
            seconds=time.perf_counter() - started,
            reason=result.reason,
        )
        showdown.rows.append(row)
        if on_row is not None:
            on_row(row)
    sink(Progress("showdown", len(showdown.rows), len(contenders), "Initializer showdown finished"))
