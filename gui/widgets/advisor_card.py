"""The advisor card on the Model page: before training, measure which way to go on this data.

Runs `engine.analysis.advisor.advise` through the worker abstraction (off the UI thread)
and shows its pick, confidence, reasons and backbone ranking. One task slot: a new check
replaces the previous one, and a result that arrives for an earlier dataset is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from gui.engine_link import Call
from gui.workers import Worker, WorkerError, run_in_background


class AdvisorCard(QGroupBox):
    """"Check my data": cheap probes that say from scratch, frozen features, partial or full fine-tune."""

    advised = Signal(object)  # engine.analysis.advisor.Advice

    def __init__(self, session: Any, backbones: Callable[[], list[str]] | None = None) -> None:
        super().__init__("Advisor: from scratch or fine-tune?")
        self.session = session
        self._backbones = backbones or (lambda: [])
        self._worker: Worker | None = None
        self._token = 0  # which dataset a running check belongs to
        self.advice: Any = None
        self.check_button = QPushButton("Check my data")
        self.check_button.setToolTip(
            "Linear probes on each backbone's frozen features against the raw inputs, LogME, samples per class "
            "and what the backbone cannot see (about a minute)"
        )
        self.check_button.clicked.connect(self.check)
        self.summary = QLabel("Load data, then check it to get a measured recommendation before training.")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-weight: 600;")
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setProperty("role", "muted")
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details)
        session.dataset_changed.connect(self._on_dataset_changed)
        self._update_button()

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.running

    def check(self) -> Worker | None:
        dataset = self.session.dataset
        if dataset is None:
            return None
        self._token += 1
        token = self._token
        chosen = [name for name in self._backbones() if name]  # the chosen one first, then the engine's defaults
        self.summary.setText("Probing the data with each backbone…")
        self.details.setText("")
        self._worker = run_in_background(
            Call.of("advise", data=self.session.config.data, backbones=chosen),
            task="checking the data",
            on_result=lambda advice: self._show(advice, token),
            on_error=lambda error: self._failed(error, token),
            on_finished=self._update_button,
            on_cancelled=lambda: self._cancelled(token),
            parent=self,
            activity=f"Advisor: probing {len(chosen)} backbone{'s' if len(chosen) != 1 else ''}…" if chosen else
            "Advisor: probing the backbones…",
        )
        self._update_button()
        return self._worker

    def _show(self, advice: Any, token: int) -> None:
        if token != self._token:
            return  # an answer about an earlier dataset
        self.advice = advice
        self.summary.setText(advice.summary())
        ranking = "; ".join(
            f"{i}. {r.name} (probe {r.probe:.3f}" + (f", LogME {r.logme:.2f})" if r.logme is not None else ")")
            if r.applicable else f"{i}. {r.name} (does not apply)"
            for i, r in enumerate(advice.ranking, start=1)
        )
        reasons = "".join(f"<li>{reason}</li>" for reason in advice.reasons)
        self.details.setText(f"<ul style='margin:0'>{reasons}</ul>Backbones: {ranking}. ({advice.seconds:.0f} s)")
        self.advised.emit(advice)

    def _cancelled(self, token: int) -> None:
        if token == self._token:  # the card as before the check, with a sentence (issue 18.8)
            self.summary.setText("The check was cancelled. Check my data runs it again.")
            self.details.setText("")

    def _failed(self, error: WorkerError, token: int) -> None:
        if token == self._token:
            self.summary.setText(f"The check failed: {error.sentence}")

    def _on_dataset_changed(self, _dataset: Any) -> None:
        self._token += 1  # drop whatever a running check returns
        self.advice = None
        self.summary.setText("Check the data to get a measured recommendation before training.")
        self.details.setText("")
        self._update_button()

    def _update_button(self) -> None:
        self.check_button.setEnabled(self.session.dataset is not None and not self.running)
