"""A terminal progress sink for the CLI: a tqdm bar on a terminal, plain epoch lines otherwise."""

from __future__ import annotations

import sys
from typing import Any

from kiln_lab.engine.events import (
    BatchEnd,
    DriftMeasured,
    EpochEnd,
    Event,
    Failed,
    PhaseStarted,
    PreviewPredictions,
    Progress,
    RunStarted,
    RunWarning,
)


class TerminalProgress:
    # A terminal shows no preview pane: the job then skips the per-epoch preview predictions.
    ignored_events = frozenset({PreviewPredictions})

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._bar: Any = None
        self._epochs = 0

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._close_bar()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._epochs = event.epochs
            m = event.model
            self._print(
                f"{event.dataset.get('num_samples')} samples, {event.dataset.get('num_classes')} classes; "
                f"model {m.get('name')} with {m.get('params', 0):,} parameters; on {event.device}"
            )
        elif isinstance(event, PhaseStarted):
            self._print(f"Phase {event.index + 1}/{event.count}: {event.name} (epochs {event.first_epoch + 1}-"
                        f"{event.last_epoch + 1}). {event.description}")
        elif isinstance(event, BatchEnd) and self.interactive:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=event.steps, file=self.stream, leave=False, unit="batch",
                                 desc=f"epoch {event.epoch + 1}/{self._epochs}")
            self._bar.n = event.batch + 1
            self._bar.set_postfix(loss=f"{event.logs.get('loss', float('nan')):.4f}", refresh=False)
            self._bar.refresh()
        elif isinstance(event, EpochEnd):
            self._close_bar()
            logs = "  ".join(f"{k} {v:.4f}" for k, v in event.logs.items())
            self._print(f"epoch {event.epoch + 1}/{event.epochs}  {logs}  ({event.seconds:.1f} s)")
        elif isinstance(event, DriftMeasured) and event.epoch >= 0:
            source = "" if event.source_accuracy is None else f", source-task accuracy {event.source_accuracy:.1%}"
            self._print(f"  backbone drift: CKA {event.cka:.3f} vs pretrained{source}")
        elif isinstance(event, RunWarning):
            self._print(f"warning: {event.message}")
        elif isinstance(event, Failed):
            self._close_bar()
        elif isinstance(event, Progress) and event.total and self.interactive and event.done == event.total:
            self._print(f"{event.task}: {event.message or 'done'}")

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _print(self, text: str) -> None:
        from kiln_lab.engine.data.files import printable

        self._close_bar()
        # Names from the data (classes, files) may hold a newline or ESC: shown escaped, never raw.
        print(printable(text, limit=10_000), file=self.stream, flush=True)
