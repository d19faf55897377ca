"""The runs library: every run folder and comparison under a folder, read back for a person.

A run folder is what `engine.export.save.save_run` writes (``model.keras``, ``run.json``,
``history.json``, maybe ``config.toml`` and ``checkpoint/``); a comparison folder holds
``compare.json`` and its runs under ``runs/``. Both front ends list them with
:func:`list_runs`; nothing here needs TensorFlow or Qt.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiln_lab.engine.errors import KilnError

RUN_RECORD = "run.json"
COMPARISON_RECORD = "compare.json"
# Headline metrics, best first: the test split when there is one, else validation, else training.
SCORE_KEYS = (
    ("test_accuracy", "accuracy (test)"),
    ("val_accuracy", "accuracy (validation)"),
    ("accuracy", "accuracy (training)"),
    ("test_mae", "mean absolute error (test)"),
    ("val_mae", "mean absolute error (validation)"),
    ("mae", "mean absolute error (training)"),
    ("test_loss", "loss (test)"),
    ("val_loss", "loss (validation)"),
    ("loss", "loss (training)"),
)
_STAMP = re.compile(r"^(\d{8}-\d{6})-")
METRIC_WORDS = {
    "accuracy": "accuracy",
    "sparse_categorical_accuracy": "accuracy",
    "binary_accuracy": "accuracy",
    "categorical_accuracy": "accuracy",
    "loss": "loss",
    "mae": "mean absolute error",
    "mean_absolute_error": "mean absolute error",
    "mse": "mean squared error",
    "mean_squared_error": "mean squared error",
    "rmse": "root mean squared error",
    "root_mean_squared_error": "root mean squared error",
    "r2": "R²",
    "learning_rate": "learning rate",
    "top_k_accuracy": "top-k accuracy",
    "sparse_top_k_categorical_accuracy": "top-k accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "macro_f1": "macro F1",
    "auc": "area under the ROC curve",
    "samples": "samples",
}
SPLIT_WORDS = {"test_": "test", "val_": "validation"}


def metric_words(key: str, *, split: bool = True) -> str:
    """A Keras metric name as a person says it: ``val_mae`` -> "mean absolute error (validation)"."""
    where = ""
    for prefix, words in SPLIT_WORDS.items():
        if key.startswith(prefix):
            key, where = key[len(prefix) :], words
            break
    name = METRIC_WORDS.get(key, key.replace("_", " "))
    return f"{name} ({where})" if where and split else name


@dataclass(frozen=True)
class RunEntry:
    """One row of the runs library."""

    path: Path
    kind: str  # run | comparison
    name: str
    finished: str  # "2026-11-28 04:47", local time
    data: str  # the data source, shortened for a table
    data_source: str  # the data source as the config names it
    model: str  # "scratch: mlp", "fine-tune: demo"
    score_name: str  # words, e.g. "accuracy (validation)"
    score: float | None
    seconds: float | None
    reason: str  # completed | stopped | early_stopping | nan | ...
    epochs: int = 0
    has_model: bool = False
    has_checkpoint: bool = False
    children: list[RunEntry] = field(default_factory=list)
    # The run's key settings, as plain values for a table's columns (see `run_settings`).
    settings: dict[str, Any] = field(default_factory=dict)
    best_val: float | None = None  # the best validation figure over the epochs
    best_val_name: str = ""  # its metric in words, e.g. "accuracy"
    test: float | None = None  # the test split's figure, when the run kept a test split
    test_name: str = ""

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"


def headline_score(metrics: dict[str, Any]) -> tuple[str, float | None]:
    """The metric a person looks at first, in words, and its value."""
    for key, words in SCORE_KEYS:
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            return words, float(value)
    return "", None


def best_validation(history: dict[str, Any]) -> tuple[str, float | None]:
    """The best validation figure over the epochs, in words: the highest accuracy, the lowest error or loss."""
    for key in ("val_accuracy", "val_mae", "val_loss"):
        values = [float(v) for v in history.get(key) or [] if isinstance(v, (int, float)) and math.isfinite(v)]
        if values:
            return metric_words(key, split=False), max(values) if key == "val_accuracy" else min(values)
    return "", None


def held_out_figure(metrics: dict[str, Any]) -> tuple[str, float | None]:
    """The test split's headline figure in words, when the run scored one."""
    for key in ("test_accuracy", "test_mae", "test_loss"):
        value = metrics.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return metric_words(key, split=False), float(value)
    return "", None


def run_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A saved config's key settings as plain values: what a person compares runs by.

    Keys: ``path`` (scratch | fine-tune), ``model`` (the preset or backbone), ``epochs``,
    ``batch_size``, ``learning_rate``, ``phase2_learning_rate`` (two-phase fine-tuning),
    ``optimizer``, ``start`` (the initialiser from scratch, the frozen layers when fine-tuning),
    ``phases`` (1 or 2) and ``seed``. Missing settings are None.
    """
    model = config.get("model") or {}
    train = config.get("train") or {}
    finetune = model.get("kind") == "finetune"
    rate = _number(train.get("learning_rate"))
    two = finetune and bool(model.get("two_phase"))
    factor = _number(model.get("finetune_lr_factor"))
    return {
        "path": ("fine-tune" if finetune else "scratch") if model else None,
        "model": _model_words(model).split(": ", 1)[-1] if model else None,
        "epochs": _integer(train.get("epochs")),
        "batch_size": _integer(train.get("batch_size")),
        "learning_rate": rate,
        "phase2_learning_rate": rate * factor if two and rate is not None and factor is not None else None,
        "optimizer": train.get("optimizer") if isinstance(train.get("optimizer"), str) else None,
        "start": (f"freeze {model.get('freeze') or 'all'}" if finetune else model.get("kernel_initializer"))
        if model
        else None,
        "phases": (2 if two else 1) if model else None,
        "seed": _integer(train.get("seed")),
    }


def run_name_for_model(path: str | Path | None) -> str | None:
    """The run's name when ``path`` is the model of a run folder (``…/20261128-044741-name/model.keras``)."""
    if not path:
        return None
    folder = Path(path).parent
    if not (folder / RUN_RECORD).is_file():
        return None
    record = _read_json(folder / RUN_RECORD) or {}
    return _display_name(folder, (record.get("config") or {}).get("name"))


def list_runs(folder: str | Path) -> list[RunEntry]:
    """Every run and comparison directly under ``folder``, newest first (unreadable ones left out)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    entries = []
    for child in folder.iterdir():
        if child.name.startswith(".") or not child.is_dir():
            continue
        entry = read_entry(child)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda e: (e.finished, e.path.name), reverse=True)


def read_entry(path: Path) -> RunEntry | None:
    """A run or comparison folder as a library row; None when it holds neither record."""
    if (path / COMPARISON_RECORD).is_file():
        return _read_comparison(path)
    if (path / RUN_RECORD).is_file():
        return _read_run(path)
    return None


def read_history(path: str | Path) -> dict[str, list[float]]:
    """A run's per-epoch metrics (Keras names), {} when the folder has none."""
    path = Path(path)
    for name in ("history.json", RUN_RECORD):
        data = _read_json(path / name)
        if data is None:
            continue
        history = data.get("history", data) if name == RUN_RECORD else data
        if isinstance(history, dict):
            return {k: [float(v) for v in values] for k, values in history.items() if isinstance(values, list)}
    return {}


def rename_run(path: str | Path, name: str) -> Path:
    """Rename a run folder (its date prefix stays, so the library keeps its order); returns the new path."""
    path = Path(path)
    clean = safe_name(name)
    if not clean:
        raise KilnError("A run name needs at least one letter or digit.")
    stamp = _STAMP.match(path.name)
    target = path.with_name(f"{stamp.group(1)}-{clean}" if stamp else clean)
    if target == path:
        return path
    if target.exists():
        raise KilnError(f"There is already a run called {clean}; choose another name.")
    os.replace(path, target)
    return target


def safe_name(name: str) -> str:
    """A run name as it can appear in a folder name on every system."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip()).strip("-")


def run_folder_name(name: str, when: float | None = None) -> str:
    """``20261128-044741-name``: runs sort by date in a file manager too."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}-{safe_name(name) or 'run'}"


def _read_run(path: Path) -> RunEntry | None:
    record = _read_json(path / RUN_RECORD)
    if record is None:
        return None
    config = record.get("config") or {}
    model = config.get("model") or {}
    data = config.get("data") or {}
    source = str(data.get("source") or (record.get("dataset") or {}).get("source") or "")
    score_name, score = headline_score(record.get("metrics") or {})
    timing = record.get("timing") or {}
    history = record.get("history") or {}
    history = history if isinstance(history, dict) else {}
    best_name, best = best_validation(history)
    test_name, test = held_out_figure(record.get("metrics") or {})
    return RunEntry(
        path=path,
        kind="run",
        name=_display_name(path, config.get("name")),
        finished=_when(record.get("finished_at"), path),
        data=_short_source(source),
        data_source=source,
        model=_model_words(model),
        score_name=score_name,
        score=score,
        seconds=_number(timing.get("seconds")),
        reason=str(record.get("reason") or ""),
        epochs=len(history.get("loss", [])),
        has_model=(path / "model.keras").is_file(),
        has_checkpoint=any((path / "checkpoint").glob("**/state.json")),  # the training layer owns its layout
        settings=run_settings(config if isinstance(config, dict) else {}),
        best_val=best,
        best_val_name=best_name,
        test=test,
        test_name=test_name,
    )


def _read_comparison(path: Path) -> RunEntry | None:
    record = _read_json(path / COMPARISON_RECORD)
    if record is None:
        return None
    rows = record.get("rows") or []
    children = [e for e in (read_entry(p) for p in sorted((path / "runs").glob("*"))) if e is not None]
    # Its runs are named "compare: fine-tune (run 2 of 2)"; under the comparison's row "compare: " says nothing.
    children = [replace(c, name=c.name.removeprefix("compare: ")) for c in children]
    seconds = sum(_number(r.get("seconds")) or 0.0 for r in rows) or None
    source = next((c.data_source for c in children if c.data_source), "")
    verdict = record.get("verdict")
    return RunEntry(
        path=path,
        kind="comparison",
        name=_display_name(path, None),
        finished=_when(None, path),
        data=_short_source(source),
        data_source=source,
        model=f"scratch vs fine-tune, {len(rows)} runs",
        score_name=str(verdict[0]) if isinstance(verdict, list) and verdict else "",
        score=None,
        seconds=seconds,
        reason="completed",
        children=children,
    )


def _display_name(path: Path, configured: Any) -> str:
    stamp = _STAMP.match(path.name)
    return path.name[stamp.end() :] if stamp else str(configured or path.name)


def _when(finished_at: Any, path: Path) -> str:
    if isinstance(finished_at, str) and len(finished_at) >= 16:
        try:
            parsed = time.strptime(finished_at[:19], "%Y-%m-%dT%H:%M:%S")
            return time.strftime("%Y-%m-%d %H:%M", parsed)
        except ValueError:
            pass
    stamp = _STAMP.match(path.name)
    if stamp:
        return time.strftime("%Y-%m-%d %H:%M", time.strptime(stamp.group(1), "%Y%m%d-%H%M%S"))
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))


def _model_words(model: dict[str, Any]) -> str:
    if model.get("kind") == "finetune":
        backbone = str(model.get("backbone") or "backbone")
        return "fine-tune: " + Path(backbone.rstrip("/")).name.split(":")[-1]
    return f"scratch: {model.get('arch') or 'custom'}"


def _short_source(source: str) -> str:
    if source.startswith("demo:"):
        return source
    return Path(source).name or source


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
