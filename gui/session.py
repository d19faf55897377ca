"""The state one window works on: the run config being edited, the dataset, the model.

Pages edit the `RunConfig` through :meth:`Session.update` and listen to the signals to
refresh. The session holds plain copies of what the engine process made: a `DatasetInfo`
(the scanned data without its loader) and a `ModelHandle` (the trained or opened model,
named by the engine's key and its path on disk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from kiln_lab.engine.results import ModelHandle
from kiln_lab.engine.training.config import RunConfig


@dataclass(frozen=True)
class EngineInfo:
    """What the startup worker found once TensorFlow was imported."""

    device: str  # "GPU: NVIDIA H100" or "CPU"
    gpus: tuple[str, ...]
    tensorflow: str
    keras: str
    details: dict = field(default_factory=dict)  # the engine's whole answer (catalogue, comparison defaults)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)


# A model the user can evaluate, try and save: from a run in this session or a file. The
# engine process holds the Keras model; the window holds its handle (name, path, record).
TrainedModel = ModelHandle


@dataclass
class RunSummary:
    """A finished run's curves, kept for overlays on later runs."""

    name: str
    history: dict[str, list[float]]
    metrics: dict[str, float]
    reason: str
    dataset: str = ""  # the data source it trained on: only runs on the same data are compared
    data_key: str = ""  # the data's identity (source, target, task, size, classes): what overlays match on
    task: str = ""  # classification | regression


class Session(QObject):
    config_changed = Signal(object)  # RunConfig, after any update
    config_loaded = Signal(object)  # RunConfig, replaced wholesale (opened from a file): pages re-read it
    dataset_changed = Signal(object)  # Dataset or None
    model_changed = Signal(object)  # TrainedModel or None
    run_finished = Signal(object)  # RunSummary
    engine_ready = Signal(object)  # EngineInfo

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config = RunConfig()
        self.dataset: Any = None  # engine.results.DatasetInfo
        self.trained: TrainedModel | None = None
        self.runs: list[RunSummary] = []
        self.engine: EngineInfo | None = None
        self.evaluation: Any = None  # the last EvaluationReport

    def update(self, **sections: Any) -> RunConfig:
        """Merge changes into the config (``update(train={"epochs": 3})``) and announce them."""
        new = self.config.replace(**sections)
        if new != self.config:
            self.config = new
            self.config_changed.emit(new)
        return new

    def load_config(self, config: RunConfig) -> None:
        self.config = config
        self.config_loaded.emit(config)
        self.config_changed.emit(config)

    def set_dataset(self, dataset: Any) -> None:
        self.dataset = dataset
        self.evaluation = None
        self.dataset_changed.emit(dataset)

    def set_trained(self, trained: TrainedModel | None) -> None:
        self.trained = trained
        self.evaluation = None
        self.model_changed.emit(trained)

    def add_run(self, summary: RunSummary) -> None:
        self.runs.append(summary)
        self.run_finished.emit(summary)

    def set_engine(self, info: EngineInfo) -> None:
        self.engine = info
        self.engine_ready.emit(info)
