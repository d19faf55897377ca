"""The initializer card on the Model page: per-layer diagnostics at initialisation, and the showdown.

"Diagnose layers" builds the from-scratch model the Model page describes and follows its
first optimizer steps on one batch (`engine.analysis.init_diagnostics`), then paints the
log10 gradient norm per layer x step and says in one sentence whether gradients vanish or
explode. "Initializer showdown" trains the same model a few epochs under each initializer
(`engine.analysis.showdown`) and overlays the curves. Both run off the UI thread through a
task slot: a new request cancels the old one, and a result for a recipe or dataset that
has changed since is dropped.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QTabWidget, QVBoxLayout

import kiln_lab.engine.events as ev
from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.widgets.layer_heatmap import LayerHeatmap
from kiln_lab.gui.widgets.showdown_plot import ShowdownPlot
from kiln_lab.gui.workers import TaskSlot, Worker, WorkerError

DIAGNOSE_STEPS = 8


class InitDiagnosticsCard(QGroupBox):
    def __init__(self, session: Any) -> None:
        super().__init__("Initialisation: do the gradients reach every layer?")
        self.session = session
        self.diagnosis: Any = None
        self.showdown: Any = None
        self.slot = TaskSlot(self, current_key=self._key)
        self.diagnose_button = QPushButton("Diagnose layers")
        self.diagnose_button.setToolTip(
            f"Build the from-scratch model and follow {DIAGNOSE_STEPS} optimizer steps on one batch: activation "
            "spread, dead ReLUs and gradient norm per layer (a few seconds)"
        )
        self.diagnose_button.clicked.connect(self.diagnose)
        self.showdown_button = QPushButton("Initializer showdown")
        self.showdown_button.setToolTip("Train this model a few epochs with Glorot, He, LeCun and plain random "
                                        "normal (std 1.0 and 0.01) and overlay the curves")
        self.showdown_button.clicked.connect(self.run_showdown)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 50)
        self.epochs.setValue(3)
        self.epochs.setSuffix(" epochs")
        self.epochs.setToolTip("How many epochs the initializer showdown trains each initializer for "
                               "(more epochs separate them better but take longer)")
        self.sentence = QLabel("Diagnose the from-scratch model to see whether its initialisation lets the "
                               "gradient reach every layer.")
        self.sentence.setWordWrap(True)
        self.heatmap = LayerHeatmap()
        self.showdown_plot = ShowdownPlot()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.heatmap, "Gradient per layer")
        self.tabs.addTab(self.showdown_plot, "Showdown")
        top = QHBoxLayout()
        top.addWidget(self.sentence, 1)
        top.addWidget(self.diagnose_button)
        top.addWidget(self.showdown_button)
        top.addWidget(self.epochs)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self._labels: dict[str, str] = {}
        self._current: str | None = None
        session.dataset_changed.connect(lambda _d: self._update_buttons())
        self.slot.busy_changed.connect(lambda _busy: self._update_buttons())
        self._update_buttons()

    def _key(self) -> tuple[Any, ...]:
        config = self.session.config
        return (config.model, id(self.session.dataset), config.data.image_size)

    def _update_buttons(self) -> None:
        ready = self.session.dataset is not None and not self.slot.running
        self.diagnose_button.setEnabled(ready)
        self.showdown_button.setEnabled(ready)

    # -- diagnostics ------------------------------------------------------------------------

    def diagnose(self) -> Worker | None:
        dataset = self.session.dataset
        if dataset is None:
            return None
        self.sentence.setText("Building the model and following its first steps…")
        self.tabs.setCurrentWidget(self.heatmap)
        worker = self.slot.start(Call.of("diagnose", config=self.session.config, steps=DIAGNOSE_STEPS),
                                 task="diagnosing the initialisation", key=self._key(),
                                 on_result=self.show_diagnosis, on_error=self._failed,
                                 on_cancelled=lambda: self._cancelled("The layer diagnosis was cancelled."),
                                 activity="Diagnosing the layers…")
        self._update_buttons()
        return worker

    def show_diagnosis(self, diagnosis: Any) -> None:
        self.diagnosis = diagnosis
        self.heatmap.set_data(diagnosis.layer_names, diagnosis.log10_grad_norms(), diagnosis.flags)
        self.sentence.setText(diagnosis.summary())
        self.sentence.setStyleSheet("color: #b03a2e; font-weight: 600;" if diagnosis.sentence else "")

    # -- showdown ---------------------------------------------------------------------------

    def run_showdown(self) -> Worker | None:
        dataset = self.session.dataset
        if dataset is None:
            return None
        config = self.session.config
        epochs = self.epochs.value()
        contenders = (self.session.engine.details.get("showdown_contenders") if self.session.engine else None) or []
        self._labels = {c["run_name"]: c["label"] for c in contenders}
        self._current = None
        self.showdown_plot.reset()
        self.tabs.setCurrentWidget(self.showdown_plot)
        self.sentence.setStyleSheet("")
        count = f"{len(contenders)} initializers" if contenders else "each initializer"
        self.sentence.setText(f"Training the model under {count}, {epochs} epoch(s) each…")
        worker = self.slot.start(Call.of("showdown", config=config, epochs=epochs), task="initializer showdown",
                                 key=self._key(), on_result=self.show_showdown,
                                 on_error=self._failed, on_progress=self._on_event,
                                 on_cancelled=lambda: self._cancelled("The initializer showdown was cancelled.",
                                                                      showdown=True),
                                 activity=f"Initializer showdown: {count}, {epochs} epoch(s) each…")
        self._update_buttons()
        return worker

    def _on_event(self, event: Any) -> None:
        if isinstance(event, ev.RunStarted):
            self._current = self._labels.get(event.run_name, event.run_name)
            self.showdown_plot.begin(self._current)
        elif isinstance(event, ev.EpochEnd) and self._current:
            # one repaint per finished epoch, never per batch
            loss = event.logs.get("val_loss", event.logs.get("loss", float("nan")))
            self.showdown_plot.add_epoch(self._current, loss)

    def show_showdown(self, showdown: Any) -> None:
        self.showdown = showdown
        self.showdown_plot.reset()
        self.showdown_plot.show_result(showdown)
        self.sentence.setText(showdown.sentence())

    def _cancelled(self, sentence: str, *, showdown: bool = False) -> None:
        """Cancelled from the status bar: no half-drawn curves, a sentence instead (issue 18.8)."""
        if showdown:
            self._current = None
            self.showdown_plot.reset()
        self.sentence.setStyleSheet("")
        self.sentence.setText(f"{sentence} Run it again when you are ready.")

    def _failed(self, error: WorkerError) -> None:
        self.sentence.setText(f"That did not work: {error.sentence}")
