"""Errors that carry a sentence a person can act on.

Anything raised as a :class:`KilnError` is the user's input being unusable (exit status 2
on the command line, a plain dialog in the GUI). Everything else is a bug or an
environment failure and is reported with details.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class KilnError(Exception):
    """A problem with the user's input, explained in one readable paragraph."""

    def __init__(self, message: str, *, hint: str | None = None, items: tuple[tuple[str, str], ...] = ()) -> None:
        self.message = message
        self.hint = hint
        # What the sentence is about, each with its reason in full (the files a scan skipped):
        # the GUI lists them where the data is shown, the CLI may print them below the sentence.
        self.items = tuple(items)
        super().__init__(self.sentence)

    @property
    def sentence(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class DataError(KilnError):
    """A data source that cannot be used at all."""


class ModelError(KilnError):
    """A model recipe or model file that cannot be built or loaded."""


class BackboneUnavailable(ModelError):
    """A pretrained backbone that cannot be fetched or opened."""


class ConfigError(KilnError):
    """A run configuration that is invalid."""


class Cancelled(KilnError):
    """The person cancelled the task (a Cancel button, Esc, Ctrl-C): not a failure, nothing to fix.

    The GUI shows its sentence where the task's results would have been, never as an error."""


class ExportCancelled(Cancelled):
    """An export (any format, checked or not) was cancelled; the sentence says how far it got.

    ``written``: the file, when the cancel came after it was written (it stays, but is neither
    checked nor recorded); None when nothing was written, and then any earlier file at that path is
    unchanged, since every export writes atomically (temp file + rename)."""

    def __init__(self, written: str | Path | None = None) -> None:
        self.written = Path(written) if written is not None else None
        super().__init__(
            f"Export cancelled: {self.written.name} was written but not checked." if self.written is not None
            else "Export cancelled before anything was written; any earlier file at that path is unchanged."
        )


def cancel_requested(cancel: Any) -> bool:
    """True when ``cancel`` (a `threading.Event`, or anything with ``is_set``/``stop_requested``;
    None = never) is set."""
    if cancel is None:
        return False
    return cancel.is_set() if hasattr(cancel, "is_set") else bool(getattr(cancel, "stop_requested", False))


def check_cancelled(cancel: Any, sentence: str) -> None:
    """Raise `Cancelled` with ``sentence`` when ``cancel`` is set (see `cancel_requested`). Tasks call
    it between units of work."""
    if cancel_requested(cancel):
        raise Cancelled(sentence)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for Python's MemoryError and TensorFlow's ResourceExhaustedError (GPU or host memory)."""
    return isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError"


def out_of_memory_sentence(task: str = "training") -> str:
    """The one sentence for running out of memory, for the CLI, the job and the GUI alike."""
    return (
        f"Kiln ran out of memory while {task}. "
        "Lower the batch size or the image size, or pick a smaller model."
    )
