"""The run folder's checkpoint: one atomic unit per epoch, resumed without running any code.

``<run>/checkpoint/epoch-NNNN/`` holds

* ``weights.npz``: the model's weights only, as plain arrays (no architecture, no pickles:
  nothing in it can run), matched back by variable path,
* ``optimizer.npz``: the optimizer's variables (step count, moments, L2-SP anchors), in order,
* ``state.json``: completed epochs, the phase, the *full* history so far, and the run config.

It is written under a hidden temporary name and renamed into place, so a kill -9 at any
moment leaves either the previous epoch's checkpoint or this one, never half of one. Resuming
rebuilds the model from the run's config (the same code path as a fresh run), loads the
weights, builds the optimizer and assigns its variables: no code from the run folder runs,
so resuming needs no trust question. A ``last.keras`` planted in the folder is never read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import ConfigError
from kiln_lab.engine.export.atomic import process_running

CHECKPOINT_DIR = "checkpoint"
FORMAT = 2
WEIGHTS = "weights.npz"
OPTIMIZER = "optimizer.npz"
STATE = "state.json"
_EPOCH_DIR = re.compile(r"^epoch-(\d{4,})$")
_TEMP_DIR = re.compile(r"^\.epoch-\d+\.tmp-(\d+)$")
# Multi-worker runs keep a keras.callbacks.BackupAndRestore backup here (in each worker's run
# folder; engine/training/distribution.py); it is deleted when training ends, so a folder
# holding one is an interrupted run.
BACKUP_DIR = "backup"
# The files a run writes into its folder; a new run with --overwrite clears exactly these.
RUN_FILES = (
    "config.toml", "model.keras", "run.json", "history.json", "model_card.json", "model_card.md", CHECKPOINT_DIR,
    "training_log.csv", "tensorboard",  # engine.training.job's TRAINING_LOG and TENSORBOARD_DIR
)


@dataclass
class Checkpoint:
    """One complete checkpoint, as read back from disk."""

    folder: Path
    completed_epochs: int
    phase_index: int
    history: dict[str, list[float]]
    config: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        return self.folder / WEIGHTS

    @property
    def optimizer_path(self) -> Path:
        return self.folder / OPTIMIZER


@dataclass(frozen=True)
class ModelSnapshot:
    """A model's weights and optimizer variables copied to host arrays: what a checkpoint holds."""

    weights: list[Any]
    weight_paths: list[str]
    optimizer: list[Any]


def snapshot(model: Any) -> ModelSnapshot:
    """Copy ``model``'s weights and optimizer state off the device now (the training thread's part of a write)."""
    from kiln_lab.engine.runtime import tensorflow_backend

    weights = list(model.weights)
    optimizer = getattr(model, "optimizer", None)
    variables = list(getattr(optimizer, "variables", []) or []) if optimizer is not None else []
    read = _tensorflow_array if tensorflow_backend() else _array
    return ModelSnapshot(
        weights=[read(v) for v in weights],
        weight_paths=[str(getattr(v, "path", i)) for i, v in enumerate(weights)],
        optimizer=[read(v) for v in variables],
    )


def write_checkpoint(root: Path, model: Any, state: dict[str, Any]) -> Path:
    """Write the checkpoint of ``state["completed_epochs"]`` under ``root`` as one unit; returns its folder."""
    return write_snapshot(root, snapshot(model), state)


def write_snapshot(root: Path, taken: ModelSnapshot, state: dict[str, Any]) -> Path:
    """`write_checkpoint` from a `snapshot` (safe on another thread: it touches no model or device)."""
    import numpy as np

    from kiln_lab.engine.export.save import strict_json

    root.mkdir(parents=True, exist_ok=True)
    epoch = int(state["completed_epochs"])
    final = root / f"epoch-{epoch:04d}"
    tmp = root / f".epoch-{epoch}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        # Plain arrays, not model.save_weights: that also writes the optimizer's variables, in
        # HDF5, which made each epoch's checkpoint cost as much as a whole model.save.
        with open(tmp / WEIGHTS, "wb") as handle:
            np.savez(handle, *taken.weights)
        with open(tmp / OPTIMIZER, "wb") as handle:
            np.savez(handle, *taken.optimizer)
        payload = {
            "format": FORMAT,
            **state,
            "weight_paths": taken.weight_paths,
            "optimizer_variables": len(taken.optimizer),
        }
        (tmp / STATE).write_text(strict_json(payload, indent=1), encoding="utf-8")
        _fsync_folder(tmp)
        if final.exists():  # the same epoch written again (a resumed run): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(root, keep=final)
    return final


def read_checkpoint(root: Path) -> Checkpoint | None:
    """The newest checkpoint under ``root``, or None when there is none. Temporary folders are never read.

    A checkpoint folder is only ever renamed into place whole, so one whose ``state.json`` is
    missing, not JSON, or does not add up (a negative epoch count, a history cut short) was
    damaged or edited by hand: that is a sentence, never a silent fresh start or a traceback.
    """
    if not root.is_dir():
        return None
    for folder in sorted((p for p in root.iterdir() if _EPOCH_DIR.match(p.name)), reverse=True):
        state = _read_state(folder)
        for name in (WEIGHTS, OPTIMIZER):
            if not (folder / name).is_file():
                raise _damaged(folder, f"its {name} is missing")
        history = {k: [float("nan") if v is None else float(v) for v in vals] for k, vals in state["history"].items()}
        return Checkpoint(
            folder=folder,
            completed_epochs=state["completed_epochs"],
            phase_index=state["phase_index"],
            history=history,
            config=state.get("config"),
            extra={k: v for k, v in state.items() if k not in ("history", "config")},
        )
    return None


def _read_state(folder: Path) -> dict[str, Any]:
    """``state.json`` of one checkpoint folder, checked to be what `write_checkpoint` writes."""
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _damaged(folder, f"its {STATE} is missing") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise _damaged(folder, f"its {STATE} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise _damaged(folder, f"its {STATE} is not a Kiln checkpoint of format {FORMAT}")
    epochs, phase, history = state.get("completed_epochs"), state.get("phase_index"), state.get("history")
    if not _whole(epochs) or epochs < 1 or epochs != int(_EPOCH_DIR.match(folder.name).group(1)):
        raise _damaged(folder, f"its completed_epochs ({_short(epochs)}) does not match {folder.name}")
    if not _whole(phase) or phase < 0:
        raise _damaged(folder, f"its phase_index ({_short(phase)}) is not a phase")
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise _damaged(folder, "its history is not a table of numbers per epoch")
    for key, values in history.items():
        if any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))) for v in values):
            raise _damaged(folder, f"its history of {_short(key)} holds something other than numbers")
        if len(values) > epochs or (key == "loss" and len(values) != epochs):
            raise _damaged(folder, f"its history of {_short(key)} has {len(values)} epochs, not {epochs}")
    if "loss" not in history:
        raise _damaged(folder, "its history has no loss")
    return state


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: Any, limit: int = 40) -> str:
    """A value from a hand-edited file, short and on one line, for a sentence."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _damaged(folder: Path, why: str) -> ConfigError:
    return ConfigError(
        f"The checkpoint {folder} is damaged: {why}, so the run cannot be resumed from it.",
        hint="Put back the checkpoint as Kiln wrote it, or start the run again with --overwrite "
        "(its finished epochs are then lost).",
    )


def restore_weights(model: Any, checkpoint: Checkpoint) -> None:
    """Assign the saved weights to the model rebuilt from the run's config (matched by variable path)."""
    saved_paths = [str(p) for p in checkpoint.extra.get("weight_paths", [])]
    values = _load_arrays(checkpoint.weights_path)
    current = list(model.weights)
    paths = [str(getattr(v, "path", i)) for i, v in enumerate(current)]
    same_shapes = len(values) == len(current) and all(tuple(v.shape) == a.shape for v, a in zip(current, values))
    if paths == saved_paths or same_shapes:
        # The same architecture lists its weights in the same order; paths can differ only by the
        # automatic names Keras gives (``sequential_1``) when a process builds several models.
        pairs = list(zip(current, values))
    elif len(set(saved_paths)) == len(saved_paths) == len(values) and set(paths) == set(saved_paths):
        by_path = dict(zip(saved_paths, values))
        pairs = [(v, by_path[p]) for v, p in zip(current, paths)]
    else:
        missing = sorted(set(paths) - set(saved_paths))[:3] or sorted(set(saved_paths) - set(paths))[:3]
        raise ConfigError(
            f"The checkpoint in {checkpoint.folder.parent} does not fit the model this config builds "
            f"(weights differ, e.g. {', '.join(missing) or 'their order'}).",
            hint="Resume with the run's own config, or start the run again with --overwrite.",
        )
    for variable, value in pairs:
        if tuple(variable.shape) != value.shape:
            raise ConfigError(
                f"The checkpoint in {checkpoint.folder.parent} does not fit the model this config builds "
                f"({getattr(variable, 'path', 'a weight')} is {tuple(variable.shape)}, saved {value.shape}).",
                hint="Resume with the run's own config, or start the run again with --overwrite.",
            )
        variable.assign(value)


def restore_optimizer(model: Any, checkpoint: Checkpoint) -> None:
    """Build the compiled model's optimizer and assign the saved variables (moments, step count, anchors)."""

    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    values = _load_arrays(checkpoint.optimizer_path)
    variables = list(optimizer.variables)
    if len(values) != len(variables) or any(tuple(v.shape) != a.shape for v, a in zip(variables, values)):
        raise ConfigError(
            f"The checkpoint in {checkpoint.folder.parent} does not fit this model's optimizer "
            f"({len(values)} saved variables, {len(variables)} now).",
            hint="Resume with the run's own config, or start the run again with --overwrite.",
        )
    for variable, value in zip(variables, values):
        variable.assign(value)


def _array(variable: Any) -> Any:
    import numpy as np

    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)


def _tensorflow_array(variable: Any) -> Any:
    """A Keras variable's value as a host array, in one ``ReadVariableOp`` (``numpy()`` adds an identity op:
    a checkpoint reads some twenty variables on the training thread, at about 0.1 ms an op under load)."""
    import numpy as np

    inner = getattr(variable, "value", None)  # the tf.Variable under a Keras variable
    if inner is None or not callable(getattr(inner, "value", None)):
        return _array(variable)
    return np.asarray(inner.value())


def _load_arrays(path: Path) -> list[Any]:
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as saved:  # never pickles: arrays only
            arrays = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # Truncated, not an archive, or holding object arrays (pickles), which are never loaded.
        why = "holds object arrays, which Kiln never unpickles" if "allow_pickle" in str(exc) else (
            f"cannot be read ({type(exc).__name__})")
        raise _damaged(path.parent, f"its {path.name} {why}") from None
    if any(array.dtype.kind not in "biuf" for array in arrays):
        raise _damaged(path.parent, f"its {path.name} holds arrays that are not numbers")
    return arrays


def check_resume_config(checkpoint: Checkpoint, config: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint under a config other than the one it was trained with."""
    saved = checkpoint.config
    if saved is None:
        return
    differences = sorted(_differences(_comparable(saved), _comparable(config)))
    epochs = (config.get("train") or {}).get("epochs")
    if "train.epochs" in differences and isinstance(epochs, int) and epochs >= checkpoint.completed_epochs:
        differences.remove("train.epochs")  # training for longer than first planned is what resuming is for
    if differences:
        shown = ", ".join(differences[:6]) + (f" and {len(differences) - 6} more" if len(differences) > 6 else "")
        raise ConfigError(
            f"The checkpoint in {checkpoint.folder.parent.parent} was trained with a different config "
            f"(differs in {shown}), so resuming would mix two runs.",
            hint="Resume with the run's own config.toml (leave out --config and the changed flags), "
            "or start a new run in another folder.",
        )


def check_run_folder(
    out_dir: Path, *, resume: bool, overwrite: bool, config: dict[str, Any] | None = None
) -> None:
    """Refuse an --out that cannot be a run folder, or that holds another run (unless ``overwrite``).

    ``config``: the run about to start; a folder left by the same run killed before its first
    checkpoint is not another run.
    """
    for parent in (out_dir, *out_dir.parents):
        if parent.exists() and not parent.is_dir():
            where = "is a file" if parent == out_dir else f"lies under the file {parent}"
            raise ConfigError(f"The run folder {out_dir} {where}.", hint="Pick a folder for --out.")
        if parent.exists():
            break
    if resume or not out_dir.is_dir() or (out_dir / BACKUP_DIR).is_dir():  # the last: a multi-worker restart
        return
    held = [name for name in RUN_FILES if (out_dir / name).exists()]
    if held and not overwrite and not (config is not None and never_finished_an_epoch(out_dir, config)):
        raise ConfigError(
            f"{out_dir} already holds another run ({', '.join(held)}).",
            hint="Pick a new folder for --out, continue that run with --resume, or replace it with --overwrite.",
        )


def never_finished_an_epoch(out_dir: Path, config: dict[str, Any]) -> bool:
    """True for a run folder holding only the config a run writes at its start, and that config is
    ``config``: the same run was killed before its first checkpoint, so starting it again loses
    nothing (no --overwrite needed). Another run's config alone still counts as another run.

    Keras's CSVLogger opens ``training_log.csv`` when training begins and TensorBoard's logs
    start then too, so a run killed in its first epoch also leaves those; a log with a row of
    a finished epoch means the run did get somewhere.
    """
    held = [name for name in RUN_FILES if (out_dir / name).exists() or (out_dir / name).is_symlink()]
    if "training_log.csv" in held and _log_is_empty(out_dir / "training_log.csv"):
        held = [name for name in held if name not in ("training_log.csv", "tensorboard")]
    if held != ["config.toml"]:
        return False
    from kiln_lab.engine.errors import KilnError
    from kiln_lab.engine.training.config import RunConfig

    try:
        saved = RunConfig.load(out_dir / "config.toml").to_dict()
    except KilnError:
        return False
    return not _differences(_comparable(saved), _comparable(config))


def _log_is_empty(path: Path) -> bool:
    """Whether a CSV log holds no epoch's row (at most its header line)."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            lines = [line for _, line in zip(range(3), handle) if line.strip()]
    except OSError:
        return False
    return len(lines) <= 1 and (not lines or lines[0].startswith("epoch"))


def clear_run_folder(out_dir: Path) -> None:
    """Remove an earlier run's files (only the ones a run writes) before a new run writes its own."""
    for name in RUN_FILES:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    # The run's name follows its folder; everything else must match.
    return {k: v for k, v in json.loads(json.dumps(config, default=str)).items() if k != "name"}


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[str] = []
        for key in sorted(set(a) | set(b)):
            found += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return found
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        a, b = list(a), list(b)
    return [] if a == b else [prefix.rstrip(".")]


def _prune(root: Path, *, keep: Path) -> None:
    """Remove older checkpoints and temporary folders left by processes that no longer run."""
    for path in root.iterdir():
        if path == keep:
            continue
        if _EPOCH_DIR.match(path.name):
            shutil.rmtree(path, ignore_errors=True)
        else:
            match = _TEMP_DIR.match(path.name)
            if match and not process_running(int(match.group(1))):
                shutil.rmtree(path, ignore_errors=True)


def _fsync_folder(folder: Path) -> None:
    for path in folder.iterdir():
        try:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        except OSError:
            pass
