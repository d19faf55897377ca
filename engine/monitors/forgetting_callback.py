"""The forgetting monitor as a Keras callback: drift and source-task retention after every epoch.

`make_forgetting_monitor` is what the training job calls right after building a fine-tuning
model (before any checkpoint is loaded), so the baseline is the *pretrained* backbone's
features even when a run resumes. The callback emits `DriftMeasured` each epoch, one
`RunWarning` (kind "forgetting") when drift passes the thresholds, and keeps each epoch's
weights in ``checkpoint/epochs/`` so a person can roll back to an epoch before the drift.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kiln_lab.engine.events import DriftMeasured, EventSink, RunWarning
from kiln_lab.engine.monitors.forgetting import (
    DriftRecord,
    LinearProbe,
    SourceTask,
    drift_warning,
    last_epoch_within_thresholds,
    linear_cka,
    reference_images,
    source_task_for,
)

EPOCH_WEIGHTS_DIR = "checkpoint/epochs"


def epoch_weights_name(epoch: int) -> str:
    """The kept weights of ``epoch`` (1-based) inside ``EPOCH_WEIGHTS_DIR``."""
    return f"epoch_{epoch:03d}.weights.h5"


def backbone_features_model(model: Any, backbone_layer: str) -> Any:
    """A model from ``model``'s input to its backbone's output, sharing the weights."""
    names = [layer.name for layer in model.layers]
    index = names.index(backbone_layer)
    # The layer after the backbone reads its output in this graph; the backbone's own
    # ``.output`` would be the nested model's inner tensor.
    follower = model.layers[index + 1]
    return keras.Model(model.inputs, follower.input, name="kiln_backbone_features")


def _features(extractor: Any, images: np.ndarray) -> np.ndarray:
    out = extractor.predict(images, batch_size=64, verbose=0)
    return np.asarray(out, dtype=np.float32)


# The monitor may spend at most this share of the training time measuring (baseline aside).
# On tiny data an epoch is a few steps and one measurement (hundreds of forward passes and a
# weights file) cost more than the epoch itself: measuring every epoch made fine-tuning ~6x slower.
MONITOR_SHARE: float | None = 0.2  # None: measure every epoch


class ForgettingMonitor(keras.callbacks.Callback):
    """Measures CKA and source-task retention after epochs, within a time budget; one instance
    spans all phases of a run.

    An epoch is measured when the time spent measuring stays within `MONITOR_SHARE` of the
    time spent training so far, and always at the end of each phase, so the final backbone is
    measured and warned about; the record says which epochs were measured.
    """

    def __init__(
        self,
        model: Any,
        backbone_layer: str,
        reference: np.ndarray,
        *,
        source_task: SourceTask | None = None,
        sink: EventSink | None = None,
        out_dir: Path | None = None,
        remedies: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.backbone_layer = backbone_layer
        self.reference = reference
        self.source_task = source_task
        self.sink = sink or (lambda event: None)
        self.out_dir = Path(out_dir) if out_dir else None
        self.remedies = remedies or {}
        self._extractor: Any = None
        self._extractor_for: int | None = None
        self._epoch_started: float | None = None
        self._last_epoch: int | None = None
        self._last_cost = 0.0
        self._measure_costs: list[float] = []
        started = time.perf_counter()
        extractor = self._extractor_of(model)
        self.baseline = _features(extractor, reference)
        self.probe: LinearProbe | None = None
        self.record = DriftRecord(len(reference), source_task.name if source_task else None)
        if source_task is not None:
            self.probe = LinearProbe.fit(_features(extractor, source_task.x_fit), source_task.y_fit)
            self.record.source_baseline = self.probe.accuracy(_features(extractor, source_task.x_eval),
                                                              source_task.y_eval)
        self.record.seconds = time.perf_counter() - started
        self._last_cost = self.record.seconds  # the first estimate of one measurement's cost

    def _extractor_of(self, model: Any) -> Any:
        # A resumed run swaps in the checkpoint's model: rebuild the extractor for it.
        if self._extractor is None or self._extractor_for != id(model):
            self._extractor = backbone_features_model(model, self.backbone_layer)
            self._extractor_for = id(model)
        return self._extractor

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self.record.cka:
            self.sink(DriftMeasured(-1, 1.0, self.record.source_baseline, self.record.source_baseline))

    def measure(self, model: Any) -> tuple[float, float | None]:
        """CKA against the baseline and the probe's source-task accuracy, for ``model`` now."""
        extractor = self._extractor_of(model)
        cka = linear_cka(self.baseline, _features(extractor, self.reference))
        accuracy = None
        if self.probe is not None and self.source_task is not None:
            accuracy = self.probe.accuracy(_features(extractor, self.source_task.x_eval), self.source_task.y_eval)
        return cka, accuracy

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._epoch_started is not None:
            self.record.training_seconds += time.perf_counter() - self._epoch_started
        self._last_epoch = epoch
        last_of_phase = epoch + 1 >= int((self.params or {}).get("epochs") or 0)
        if last_of_phase or self._within_budget():
            self._measure_epoch(epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        # A phase that stopped early: its last epoch is measured now (the weights it ends with).
        if self._last_epoch is not None and self._last_epoch not in self.record.epochs:
            self._measure_epoch(self._last_epoch)

    def _within_budget(self) -> bool:
        if MONITOR_SHARE is None:
            return True
        spent = sum(self._measure_costs)
        return spent + self._last_cost <= MONITOR_SHARE * self.record.training_seconds

    def _measure_epoch(self, epoch: int) -> None:
        started = time.perf_counter()
        cka, accuracy = self.measure(self.model)
        self.record.epochs.append(epoch)
        self.record.cka.append(cka)
        if accuracy is not None:
            self.record.source_accuracy.append(accuracy)
        weights = self._keep_weights(epoch)
        self.record.weights.append(weights or "")
        self._last_cost = time.perf_counter() - started
        self._measure_costs.append(self._last_cost)
        self.record.seconds += self._last_cost
        self.sink(DriftMeasured(epoch, cka, accuracy, self.record.source_baseline, weights))
        if self.record.warned_at_epoch is None:
            message = drift_warning(self.record, epoch, **self.remedies)
            if message:
                self.record.warned_at_epoch = epoch + 1  # as the sentence says: "after epoch N"
                self.sink(RunWarning(message, kind="forgetting"))

    def _keep_weights(self, epoch: int) -> str | None:
        if self.out_dir is None:
            return None
        relative = f"{EPOCH_WEIGHTS_DIR}/{epoch_weights_name(epoch + 1)}"
        path = self.out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed: a crash mid-write never leaves a half file under the name.
        tmp = path.with_name(f".{path.stem}.tmp.weights.h5")  # Keras insists on this suffix
        self.model.save_weights(tmp)
        os.replace(tmp, path)
        return relative


def make_forgetting_monitor(
    config: Any, built: Any, dataset: Any, *, sink: EventSink, out_dir: Path | None = None
) -> ForgettingMonitor | None:
    """The monitor for a fine-tuning run (None for from-scratch runs or non-image/vector backbones).

    Call right after `build_model`, before any checkpoint is loaded: the features of the
    model as built are the pretrained baseline.
    """
    layer = built.info.get("backbone_layer")
    if config.model.kind != "finetune" or not layer:
        return None
    channels = int(dataset.input_shape[-1]) if dataset.input_kind == "image" else None
    reference = reference_images(dataset, built.image_size, seed=config.data.seed)
    task = source_task_for(built.info.get("backbone", {}), config.model.source_task, built.image_size, channels)
    remedies = {
        "backbone_lr_mult": config.model.backbone_lr_mult,
        "l2sp": config.model.l2sp,
        "freeze": config.model.freeze,
    }
    return ForgettingMonitor(
        built.model, layer, reference, source_task=task, sink=sink, out_dir=out_dir, remedies=remedies
    )


def roll_back(model: Any, run_dir: str | Path, epoch: int) -> Any:
    """Load the weights kept after ``epoch`` (1-based, as the warning names it) into ``model``."""
    from kiln_lab.engine.errors import ModelError

    path = Path(run_dir) / EPOCH_WEIGHTS_DIR / epoch_weights_name(epoch)
    if not path.exists():
        raise ModelError(f"No weights were kept for epoch {epoch} in {run_dir}.",
                         hint=f"Look in {Path(run_dir) / EPOCH_WEIGHTS_DIR} for the epochs that exist.")
    model.load_weights(path)
    return model


def kept_epochs(run_dir: str | Path) -> list[int]:
    """The epochs (1-based) whose weights a fine-tuning run kept for roll-back, oldest first."""
    folder = Path(run_dir) / EPOCH_WEIGHTS_DIR
    epochs = []
    for path in folder.glob("epoch_*.weights.h5") if folder.is_dir() else ():  # see epoch_weights_name
        number = path.name[len("epoch_") : -len(".weights.h5")]
        if number.isdigit():
            epochs.append(int(number))
    return sorted(epochs)


def suggested_roll_back(forgetting: dict[str, Any], kept: list[int]) -> int | None:
    """The epoch to offer first: the last kept one still within both drift thresholds.

    ``forgetting`` is the run record's "forgetting" section (`DriftRecord.to_dict`); the rule is
    the warning's own (`engine.monitors.forgetting`). None when no kept epoch qualifies.
    """
    cka = [float(v) for v in forgetting.get("cka") or []]
    # 1-based measured epochs (a time-budgeted monitor skips some); older records measured every epoch
    measured = [int(e) for e in forgetting.get("measured_epochs") or []] or list(range(1, len(cka) + 1))
    record = DriftRecord(
        reference_size=int(forgetting.get("reference_size") or 0),
        source_task=forgetting.get("source_task"),
        cka=cka,
        source_accuracy=[float(v) for v in forgetting.get("source_accuracy") or []],
        source_baseline=forgetting.get("source_baseline"),
        weights=["kept" if epoch in kept else "" for epoch in measured[: len(cka)]],
        epochs=[e - 1 for e in measured[: len(cka)]],
    )
    index = last_epoch_within_thresholds(record, max(measured, default=0) + 1)
    return None if index is None else record.epoch_of(index) + 1
