"""Messages between the window's process and the engine worker, and their serialisation.

Every message is a dict with ``"v"`` (the protocol version) and ``"op"``. Payloads are plain
values: numbers, strings, lists, dicts, tuples, NumPy arrays and the engine's plain-value
dataclasses (events, configs, result schemas). They travel pickled, but are read back with
an allow-list unpickler: a payload naming any other class (a Keras model, a tensor, a Qt
object) is refused with `ProtocolError` instead of importing its module. That keeps the
window's process free of TensorFlow by construction, not only by care.

Window -> worker: ``call`` (id, task, kwargs), ``stop`` / ``pause`` / ``resume`` /
``cancel`` (id), ``stop_trial`` (id, trial: a comparison's run number, from 1), ``shutdown``.
Worker -> window: ``hello`` (pid), ``ready`` (info), ``event`` (id, event), ``result``
(id, value), ``error`` (id, error), ``done`` (id), ``fatal`` (error: the worker cannot serve),
``retiring`` (reason: a task ran out of memory; the worker ends and a fresh one serves the next task).
"""

from __future__ import annotations

import io
import pickle
import traceback
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1

# Modules whose classes a message may name. Each is a plain-value module: it imports neither
# TensorFlow nor Keras (tests/test_layering.py checks that for every engine module listed).
ALLOWED_MODULE_PREFIXES = (
    "kiln_lab.engine.events",
    "kiln_lab.engine.errors",
    "kiln_lab.engine.results",
    "kiln_lab.engine.data.config",
    "kiln_lab.engine.models.recipe",
    "kiln_lab.engine.training.config",
    "kiln_lab.engine.worker.protocol",
)
# Harmless classes from the standard library and NumPy that plain values are made of.
ALLOWED_GLOBALS = {
    ("builtins", name)
    for name in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float",
                 "complex", "bool", "slice", "range")
} | {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "timedelta"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("pathlib", "Path"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
}
ALLOWED_GLOBALS |= {("numpy", name) for name in ("float64", "float32", "float16", "int64", "int32", "int16", "int8",
                                                 "uint8", "uint16", "uint32", "uint64", "bool_")}


class ProtocolError(Exception):
    """A message that is not ours: wrong version, or a payload naming a class not allowed."""


@dataclass(frozen=True)
class TaskError:
    """What went wrong in a task, in a sentence the user can act on, plus details for a fold."""

    sentence: str
    details: str
    user_error: bool  # True: the input was unusable (a KilnError); False: a bug or the environment
    kind: str = ""  # the exception's class name
    items: tuple[tuple[str, str], ...] = ()  # what a KilnError is about, each with its reason
    path: str = ""  # the file a trust question is about (UntrustedModel)


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS or any(
            module == prefix or module.startswith(prefix + ".") for prefix in ALLOWED_MODULE_PREFIXES
        ):
            return super().find_class(module, name)
        raise ProtocolError(f"a message names {module}.{name}, which is not a plain value Kiln sends")


def dumps(message: dict[str, Any]) -> bytes:
    """Serialise one message (adds the protocol version)."""
    return pickle.dumps({"v": PROTOCOL_VERSION, **message}, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> dict[str, Any]:
    """Read one message; `ProtocolError` for another version or a class outside the allow-list."""
    try:
        message = _SafeUnpickler(io.BytesIO(data)).load()
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged message is a protocol error, whatever broke
        raise ProtocolError(f"a message could not be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        version = message.get("v") if isinstance(message, dict) else None
        raise ProtocolError(f"a message of protocol version {version!r}; this Kiln speaks {PROTOCOL_VERSION}")
    return message


def describe_error(exc: BaseException, task: str) -> TaskError:
    """The sentence and details the window shows for a failed task (``task``: what it was doing,
    in words). The same for an engine task and for the window's own light work."""
    from kiln_lab.engine.errors import KilnError, is_out_of_memory, out_of_memory_sentence

    if isinstance(exc, KilnError):
        # The input was unusable, nothing broke inside Kiln: the details are what the sentence is
        # about (each skipped file with its reason), never a traceback.
        items = tuple((str(name), str(reason)) for name, reason in getattr(exc, "items", ()))
        lines = [f"{name}: {reason}" for name, reason in items]
        no_items = "Kiln could not use this input; the sentence above says what to change."
        details = "\n".join(lines) if lines else no_items
        return TaskError(exc.sentence, details, True, type(exc).__name__, items, str(getattr(exc, "path", "") or ""))
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if is_out_of_memory(exc):
        sentence = out_of_memory_sentence(task)
    elif isinstance(exc, OSError):
        sentence = f"A file problem stopped {task}: {text}. Check the path exists and you may write there."
    else:
        sentence = (
            f"Something went wrong while {task} ({type(exc).__name__}: {text}). "
            "Your data and settings are untouched; the details below help when reporting it."
        )
    return TaskError(sentence, details, False, type(exc).__name__)
