"""The model card: ``model_card.md`` and ``model_card.json`` beside every saved model.

Written from the run record (``run.json``'s content), so a model saved from the CLI and
one saved from the GUI carry the same card: the data it learned from, how well it does
overall and per class, where its backbone came from and on what terms, the caveats known
about it, the training config, the versions, the SHA-256 of every file written, and the
fact that Kiln sent nothing off the machine. Only uses the record and the files on disk:
`engine.export` imports no other engine layer, so the training job puts licence classes,
caveats and drift figures into the record (`engine.monitors.card_facts`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from kiln_lab.engine.export.atomic import atomic_write_text
from kiln_lab.engine.export.markdown import md_text

NO_NETWORK = (
    "Kiln sent nothing off this machine: no data, model, metric or telemetry was uploaded while "
    "training or saving this model."
)
CARD_VERSION = 1
_SENTENCE = 2000  # a sentence that quotes names is escaped whole, and kept whole


def card_paths(model_path: Path, format: str, *, run_folder: bool = False) -> tuple[Path, Path]:
    """Where the card of ``model_path`` goes: the run folder's ``model_card.*``, inside a SavedModel
    folder, or ``<file name>.model_card.*`` beside a model file (``m.keras.model_card.md``: the
    whole name, so ``m.keras`` and ``m.tflite`` exported into one folder each keep their card)."""
    if run_folder or format == "savedmodel":
        folder = model_path.parent if run_folder else model_path
        return folder / "model_card.md", folder / "model_card.json"
    return model_path.with_name(f"{model_path.name}.model_card.md"), model_path.with_name(
        f"{model_path.name}.model_card.json"
    )


def write_model_card(
    model_path: str | Path, format: str, record: dict[str, Any] | None, *, run_folder: bool = False,
    extra_files: tuple[Path, ...] = (),
) -> tuple[Path, Path]:
    """Write the card (markdown and JSON) for the model saved at ``model_path``; returns both paths."""
    model_path = Path(model_path)
    md_path, json_path = card_paths(model_path, format, run_folder=run_folder)
    card = build_card(model_path, format, record or {}, extra_files=extra_files)
    atomic_write_text(json_path, json.dumps(_finite(card), indent=2, default=str, allow_nan=False))
    atomic_write_text(md_path, render_markdown(card))
    return md_path, json_path


def build_card(
    model_path: Path, format: str, record: dict[str, Any], *, extra_files: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """The card as plain data (what ``model_card.json`` holds)."""
    dataset = record.get("dataset") or {}
    model = record.get("model") or {}
    config = record.get("config") or {}
    backbone = model.get("backbone") if model.get("kind") == "finetune" else None
    licence = record.get("licence") or (
        {"licence": backbone.get("licence", "unknown"), "class": "not classified", "note": ""} if backbone else None
    )
    return {
        "card_version": CARD_VERSION,
        "model": {
            "file": model_path.name,
            "format": format,
            "name": model.get("name"),
            "approach": "fine-tuned" if backbone else ("from scratch" if model else "unknown"),
            "params": model.get("params"),
            "trainable_params": model.get("trainable_params"),
            "trainable_per_phase": model.get("phase_trainable") or [],
            "image_size": model.get("image_size"),
        },
        "data": {
            "source": dataset.get("source"),
            "task": dataset.get("task"),
            "samples": dataset.get("num_samples"),
            "classes": dataset.get("class_names") or [],
            "class_counts": dataset.get("class_counts") or {},
            "splits": {k: v.get("size") for k, v in (dataset.get("splits") or {}).items()},
            "skipped_files": len(dataset.get("skipped") or []),
            "skipped_examples": (dataset.get("skipped") or [])[:5],
            "problems": dataset.get("problems") or [],
        },
        "metrics": {
            "overall": record.get("metrics") or {},
            "per_class": record.get("per_class") or [],
            "per_class_split": record.get("evaluated_split"),
        },
        "backbone": None if not backbone else {
            "name": backbone.get("name"),
            "source": backbone.get("source"),
            "handle": backbone.get("handle"),
            "licence": licence,
            "pretraining_data": backbone.get("pretraining_data"),
            "freeze": model.get("freeze"),
            "backbone_lr_mult": model.get("backbone_lr_mult"),
            "l2sp": model.get("l2sp"),
        },
        "caveats": record.get("caveats") or [],
        "forgetting": record.get("forgetting"),
        "export_check": record.get("export_check"),
        "training": {
            "config": config,
            "epochs_run": (record.get("timing") or {}).get("epochs_run"),
            "seconds": (record.get("timing") or {}).get("seconds"),
            "stopped": record.get("stopped"),
            "reason": record.get("reason"),
            "finished_at": record.get("finished_at"),
            "initializers": None if backbone else {
                "kernel": model.get("kernel_initializer"), "bias": model.get("bias_initializer"),
            },
        },
        "versions": _versions(record.get("environment") or {}),
        "files": _hashes(model_path, extra_files),
        "privacy": privacy_statement(record),
    }


def privacy_statement(record: dict[str, Any]) -> str:
    """What left the machine: nothing, or what was logged to the MLflow store the run named."""
    uri = str((record.get("mlflow") or {}).get("tracking_uri") or "")
    if not uri:
        return NO_NETWORK
    if uri.startswith(("sqlite:", "file:")) or "://" not in uri:
        return f"{NO_NETWORK} The run was also logged to the local MLflow store {uri}."
    return (
        f"As asked (train.mlflow), Kiln sent this run's settings, per-epoch metrics, model file and model card "
        f"to the MLflow server at {uri}; no training data was uploaded, and nothing went anywhere else."
    )


def _finite(value: Any) -> Any:
    """NaN and infinities become null: the card is strict JSON that any reader opens."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _versions(environment: dict[str, Any]) -> dict[str, Any]:
    keys = ("kiln", "python", "tensorflow", "keras", "numpy", "platform")
    found = {k: environment.get(k) for k in keys if environment.get(k) is not None}
    for key, value in environment.items():  # whatever else names a version
        if "version" in key and key not in found:
            found[key] = value
    return found or environment


def _hashes(model_path: Path, extra_files: tuple[Path, ...]) -> dict[str, str]:
    files = sorted(p for p in model_path.rglob("*") if p.is_file()) if model_path.is_dir() else [model_path]
    files += [p for p in extra_files if p.is_file()]
    base = model_path if model_path.is_dir() else model_path.parent
    hashes = {}
    for path in files:
        if path.exists():
            name = str(path.relative_to(base)) if path.is_relative_to(base) else path.name
            hashes[name] = sha256_of(path)
    return hashes


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _trainable_words(m: dict[str, Any]) -> str:
    phases = m.get("trainable_per_phase") or []
    if len(phases) > 1:  # a two-phase fine-tune trains far more in its second phase than its first
        return "trainable per phase: " + ", ".join(f"{p['phase']} {_n(p['trainable_params'])}" for p in phases)
    return f"{_n(m['trainable_params'])} trainable"


def render_markdown(card: dict[str, Any]) -> str:
    """``model_card.md``: the same facts, for people."""
    m, d, b = card["model"], card["data"], card["backbone"]
    lines = [f"# Model card: {m['file']}", "", f"Approach: **{m['approach']}**. Format: {m['format']}. "
             f"Parameters: {_n(m['params'])} ({_trainable_words(m)}).", ""]
    lines += ["## Data", f"- Source: `{d['source']}` ({d['task']}), {_n(d['samples'])} samples.",
              f"- Splits: {', '.join(f'{k} {v}' for k, v in d['splits'].items()) or 'unknown'}."]
    if d["class_counts"]:
        lines.append("- Classes: " + ", ".join(f"{md_text(k)} ({v})" for k, v in d["class_counts"].items()) + ".")
    skipped = "; ".join(f"{md_text(s.get('path'))}: {md_text(s.get('reason'))}" for s in d["skipped_examples"])
    lines.append(f"- Skipped files: {d['skipped_files']}" + (f" ({skipped})" if skipped else "") + ".")
    lines += [f"- Note: {md_text(p, _SENTENCE)}" for p in d["problems"]]
    lines += ["", "## Metrics"]
    overall = card["metrics"]["overall"]
    lines += [f"- {k}: {v:.4g}" if isinstance(v, (int, float)) else f"- {k}: {v}" for k, v in overall.items()]
    per_class = card["metrics"]["per_class"]
    if per_class:
        lines += ["", f"Per class ({card['metrics']['per_class_split']} split):", "",
                  "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {md_text(r['name'])} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                  f"{r['support']} |" for r in per_class]
    lines += ["", "## Backbone and licence"]
    if b is None:
        lines.append("Trained from scratch: no pretrained weights, so no third-party licence or pretraining data.")
    else:
        licence = b["licence"] or {}
        lines += [f"- Backbone: {b['name']} (source: {b['source']}, handle `{b['handle']}`).",
                  f"- Licence: {licence.get('licence')} - **{licence.get('class')}**. "
                  f"{licence.get('note', '')}".rstrip(),
                  f"- Pretraining data: {b['pretraining_data']}.",
                  f"- Fine-tuning: freeze `{b['freeze']}`, backbone LR x{b['backbone_lr_mult']}, L2-SP {b['l2sp']}."]
    lines += ["", "## Caveats"]
    lines += [f"- {md_text(c, _SENTENCE)}" for c in card["caveats"]] or ["- None recorded beyond the metrics above."]
    drift = card.get("forgetting")
    if drift:
        measured = drift.get("measured_epochs") or list(range(1, len(drift.get("cka", [])) + 1))
        cka = ", ".join(f"epoch {e} {v:.3f}" for e, v in zip(measured, drift.get("cka", []), strict=False))
        lines += ["", "## Forgetting (backbone drift)",
                  f"- Linear CKA vs the pretrained backbone, per measured epoch: {cka}."]
        if drift.get("source_task"):
            acc = ", ".join(f"{v:.1%}" for v in drift.get("source_accuracy", []))
            base = drift.get("source_baseline")
            base_text = f"{base:.1%}" if isinstance(base, (int, float)) else "unknown"
            lines.append(f"- Source task ({drift['source_task']}): probe accuracy {base_text} "
                         f"before fine-tuning; per epoch: {acc}.")
        if drift.get("warned_at_epoch") is not None:
            # Records before 2026-12 counted this epoch from 0 (and carry no epochs_counted_from).
            warned = drift["warned_at_epoch"] + (0 if drift.get("epochs_counted_from") == 1 else 1)
            lines.append(f"- Kiln warned about forgetting after epoch {warned}.")
    check = card.get("export_check")
    if check:
        lines += ["", "## Export check", check.get("sentence", "")]
        figures = [("Runtime", check.get("runtime")), ("Quantisation", check.get("quantize")),
                   ("File size (bytes)", check.get("size_bytes")),
                   ("Latency per sample (ms)", check.get("latency_ms_per_sample")),
                   ("Largest output difference from Keras", check.get("max_abs_diff")),
                   ("Top-class agreement with Keras", check.get("top_class_agreement")),
                   (f"{check.get('metric', '')} in Keras / in the file ({check.get('checked_on')})",
                    None if "metric" not in check else f"{check['keras']:.4g} / {check['exported']:.4g}")]
        lines += [f"- {label}: {value:.4g}" if isinstance(value, float) else f"- {label}: {value}"
                  for label, value in figures if value is not None]
    t = card["training"]
    lines += ["", "## Training", f"- Epochs run: {t['epochs_run']} in {t['seconds']} s; ended: {t['reason']}.",
              f"- Finished: {t['finished_at']}.", "", "```json", json.dumps(t["config"], indent=1), "```"]
    lines += ["", "## Versions"] + [f"- {k}: {v}" for k, v in card["versions"].items()]
    lines += ["", "## Files (SHA-256)"] + [f"- `{k}`: `{v}`" for k, v in card["files"].items()]
    lines += ["", "## Privacy", card["privacy"], ""]
    return "\n".join(lines)


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value if value is not None else "unknown")
