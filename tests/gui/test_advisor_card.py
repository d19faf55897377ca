"""The advisor card shows the engine's advice, and drops an answer about an earlier dataset."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from kiln_lab.engine.analysis.advisor import Advice, BackboneReport
from kiln_lab.gui.widgets.advisor_card import AdvisorCard


class FakeSession(QObject):
    dataset_changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.dataset = None


def advice() -> Advice:
    report = BackboneReport("demo", True, probe=0.97, logme=0.4, gain={"value": 0.05, "low": 0.03, "high": 0.07})
    reasons = ["A linear probe on demo's frozen features scores 0.970 accuracy against 0.920 on the raw inputs."]
    return Advice("partial fine-tune", 0.7, None, "demo", reasons, [report], "classification", "accuracy", 0.92, 80)


def test_the_card_shows_the_pick_reasons_and_ranking(qtbot):
    session = FakeSession()
    card = AdvisorCard(session)
    qtbot.addWidget(card)
    assert not card.check_button.isEnabled()  # no data yet
    assert card.check() is None
    card._show(advice(), card._token)
    assert card.summary.text() == advice().summary()
    assert "partial fine-tune" in card.summary.text() and "70%" in card.summary.text()
    assert "0.970" in card.details.text() and "1. demo (probe 0.970" in card.details.text()


def test_an_answer_about_an_earlier_dataset_is_dropped(qtbot):
    session = FakeSession()
    card = AdvisorCard(session)
    qtbot.addWidget(card)
    stale = card._token
    session.dataset_changed.emit(object())  # the person loaded other data meanwhile
    card._show(advice(), stale)
    assert card.advice is None and "partial" not in card.summary.text()
