"""The advisor card on the Model page: before training, measure which way to go on this data.

Runs `engine.analysis.advisor.advise` through the worker abstraction (off the UI thread)
and shows its pick, confidence, reasons and backbone ranking. One task slot: a new check
replaces the previous one, and a result that arrives for an earlier dataset is dropped.
"Apply" sets the Model page to the advice (`Advice.model_settings`: the path, the backbone,
the freeze policy, the phases) and says in one sentence what it changed; "Undo" puts those
settings back as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from kiln_lab.gui.engine_link import Call
from kiln_lab.gui.workers import Worker, WorkerError, run_in_background


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
        self.apply_button = QPushButton("Apply advice")
        self.apply_button.setToolTip("Set the Model page to this advice: the path, the backbone, what is frozen "
                                     "and the training phases")
        self.apply_button.clicked.connect(self.apply)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Put back the settings the advice changed")
        self.undo_button.clicked.connect(self.undo)
        self.applied = QLabel("")  # what Apply changed, in one sentence
        self.applied.setWordWrap(True)
        self.applied.setVisible(False)
        self._before: dict[str, Any] | None = None  # the model settings Apply replaced, for Undo
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.apply_button)
        top.addWidget(self.undo_button)
        top.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.applied)
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
        self._before = None
        self.applied.setVisible(False)
        self._update_button()
        self.advised.emit(advice)

    # -- apply and undo ---------------------------------------------------------------------

    def advised_settings(self) -> dict[str, Any] | None:
        """The ``model.*`` settings the advice stands for; None without advice or when it is unsure."""
        return self.advice.model_settings() if self.advice is not None else None

    def apply(self) -> str:
        """Set the Model page to the advice; returns (and shows) the sentence that says what changed."""
        settings = self.advised_settings()
        if not settings:
            return ""
        model = self.session.config.model
        before = {name: getattr(model, name) for name in settings}
        changed = {name: value for name, value in settings.items() if before[name] != value}
        if not changed:
            sentence = "The Model page already follows this advice."
        else:
            self._before = {name: before[name] for name in changed}
            self.session.update(model=dict(changed))
            sentence = "Applied: " + "; ".join(describe_change(n, before[n], v) for n, v in changed.items()) + "."
        self.applied.setText(sentence)
        self.applied.setVisible(True)
        self._update_button()
        return sentence

    def undo(self) -> str:
        """Put back the settings the last Apply changed."""
        if not self._before:
            return ""
        now = self.session.config.model
        sentence = "Undone: " + "; ".join(
            describe_change(name, getattr(now, name), value) for name, value in self._before.items()
        ) + "."
        self.session.update(model=dict(self._before))
        self._before = None
        self.applied.setText(sentence)
        self._update_button()
        return sentence
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
        self._before = None
        self.applied.setVisible(False)
        self.summary.setText("Check the data to get a measured recommendation before training.")
        self.details.setText("")
        self._update_button()

    def _update_button(self) -> None:
        self.check_button.setEnabled(self.session.dataset is not None and not self.running)
        settings = self.advised_settings()
        self.apply_button.setEnabled(bool(settings) and not self.running)
        self.apply_button.setVisible(self.advice is not None)
        self.undo_button.setEnabled(bool(self._before))
        self.undo_button.setVisible(self.advice is not None)
        if self.advice is not None and not settings:
            self.apply_button.setToolTip("The advice is unsure: there is no one setting to apply. "
                                         "Compare both approaches to decide")


_SETTING_WORDS = {
    "kind": "path",
    "backbone": "backbone",
    "freeze": "frozen",
    "two_phase": "two phases",
    "finetune_lr_factor": "phase-2 rate",
}


def _value_words(name: str, value: Any) -> str:
    if name == "kind":
        return "fine-tune" if value == "finetune" else "from scratch"
    if name == "two_phase":
        return "on" if value else "off"
    if name == "freeze":
        kind, _, arg = str(value).partition(":")
        if kind == "top":
            return "all but the top layer" if arg == "1" else f"all but the top {arg} layers"
        if kind == "from":
            return f"the layers below {arg}"
        return {"all": "the whole backbone", "none": "nothing"}.get(kind, str(value))
    if name == "finetune_lr_factor":
        return f"× {value:g}"
    return str(value) if value else "none"


def describe_change(name: str, old: Any, new: Any) -> str:
    """One setting's change in words: "path: from scratch → fine-tune"."""
    return f"{_SETTING_WORDS.get(name, name)}: {_value_words(name, old)} → {_value_words(name, new)}"
