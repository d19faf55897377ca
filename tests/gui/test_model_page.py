"""The Model page: the advisor's Apply and Undo, the fine-tune card's plan, its words and the dark theme."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from kiln_lab.engine.analysis.advisor import Advice, BackboneReport
from kiln_lab.gui.pages.model_page import ModelPage
from kiln_lab.gui.session import Session

CATALOGUE = [{"name": "demo", "title": "Kiln demo CNN", "source": "demo", "input_kind": "image"},
             {"name": "other", "title": "Another CNN", "source": "demo", "input_kind": "image"}]


def advice(pick: str, backbone: str | None = "demo") -> Advice:
    report = BackboneReport("demo", True, probe=0.97, logme=0.4)
    return Advice(pick, 0.7, None, backbone, ["a reason"], [report], "classification", "accuracy", 0.92, 80)


@pytest.fixture
def page(qtbot) -> ModelPage:
    page = ModelPage(Session())
    qtbot.addWidget(page)
    page.set_catalogue(CATALOGUE)
    page.resize(1000, 700)
    page.show()
    return page


def shown(page: ModelPage) -> dict:
    """What the Model page's controls show (not the config: Apply must move the controls)."""
    finetune = page.finetune
    return {
        "kind": "finetune" if finetune.radio.isChecked() else "scratch",
        "backbone": finetune.backbone(),
        "freeze": finetune.freeze_edit.value(),
        "two_phase": finetune.two_phase_check.isChecked(),
        "finetune_lr_factor": finetune.lr_factor_spin.value(),
    }


@pytest.mark.parametrize(
    ("pick", "expected"),
    [
        ("partial fine-tune", {"kind": "finetune", "backbone": "other", "freeze": "top:2", "two_phase": True,
                               "finetune_lr_factor": 0.1}),
        ("full fine-tune", {"kind": "finetune", "backbone": "other", "freeze": "none", "two_phase": True,
                            "finetune_lr_factor": 0.1}),
        ("frozen features", {"kind": "finetune", "backbone": "other", "freeze": "all", "two_phase": False}),
    ],
)
def test_apply_sets_every_advised_control_and_undo_restores_them(qtbot, page, pick, expected):
    page.session.update(model={"kind": "scratch", "backbone": "demo", "freeze": "top:5", "two_phase": False,
                               "finetune_lr_factor": 0.5})
    page.session.update(model={"two_phase": pick == "frozen features"})  # each pick has something to change
    before_config, before_shown = page.session.config.model, shown(page)
    card = page.advisor
    card._show(advice(pick, backbone="other"), card._token)
    assert card.apply_button.isVisible() and card.apply_button.isEnabled() and not card.undo_button.isEnabled()

    qtbot.mouseClick(card.apply_button, Qt.MouseButton.LeftButton)
    now = shown(page)
    for name, value in expected.items():
        assert now[name] == pytest.approx(value) if isinstance(value, float) else now[name] == value, name
        assert getattr(page.session.config.model, name) == value, name
    sentence = card.applied.text()
    assert card.applied.isVisible() and sentence.startswith("Applied: ") and sentence.endswith(".")
    assert ". " not in sentence  # one sentence
    assert "path: from scratch → fine-tune" in sentence and "backbone: demo → other" in sentence
    assert card.undo_button.isEnabled()

    qtbot.mouseClick(card.undo_button, Qt.MouseButton.LeftButton)
    assert page.session.config.model == before_config and shown(page) == before_shown
    assert card.applied.text().startswith("Undone: ") and not card.undo_button.isEnabled()


def test_apply_from_scratch_and_unsure(qtbot, page):
    page.session.update(model={"kind": "finetune", "backbone": "demo"})
    card = page.advisor
    card._show(advice("from scratch"), card._token)
    qtbot.mouseClick(card.apply_button, Qt.MouseButton.LeftButton)
    assert page.scratch.radio.isChecked() and page.session.config.model.kind == "scratch"
    assert card.applied.text() == "Applied: path: fine-tune → from scratch."
    qtbot.mouseClick(card.apply_button, Qt.MouseButton.LeftButton)  # again: nothing left to change
    assert card.applied.text() == "The Model page already follows this advice."
    card._show(advice("unsure"), card._token)
    assert not card.apply_button.isEnabled()  # no one setting to apply
    assert "unsure" in card.apply_button.toolTip()


# Every freeze policy x two phases: what the card must say (fragments), and what it must not.
PLANS = {
    ("all", False): (["The backbone stays frozen; only the new head learns."], ["Phase 2"]),
    ("all", True): (["Phase 1 (5 epochs): the backbone is frozen", "Phase 2: unfreeze the whole backbone",
                     "'all' holds for phase 1 only"], ["Phase 2: the backbone stays frozen"]),
    ("none", False): (["The whole backbone learns with the head"], ["Phase 2", "frozen;"]),
    ("none", True): (["Phase 1 (5 epochs)", "Phase 2: unfreeze the whole backbone", "0.1x the learning rate"],
                     []),
    ("top:2", False): (["The top 2 layers of the backbone learn with the head"], ["Phase 2"]),
    ("top:2", True): (["Phase 1 (5 epochs)", "Phase 2: unfreeze the top 2 layers of the backbone"], []),
    ("top:0", True): (["Phase 2: the backbone stays frozen"], ["unfreeze"]),
    ("from:block3", False): (["The backbone learns from layer block3 up"], ["Phase 2"]),
    ("from:block3", True): (["Phase 2: unfreeze the backbone from layer block3 up"], []),
}


@pytest.mark.parametrize(("policy", "two_phase"), list(PLANS))
def test_the_fine_tune_card_says_what_each_policy_and_phase_setting_does(page, policy, two_phase):
    page.session.update(model={"kind": "finetune", "freeze": policy, "two_phase": two_phase, "head_epochs": None},
                        train={"epochs": 10})
    text = page.finetune.freeze_explanation.text()
    present, absent = PLANS[(policy, two_phase)]
    for fragment in present:
        assert fragment in text, (fragment, text)
    for fragment in absent:
        assert fragment not in text, (fragment, text)


def test_two_phases_with_one_epoch_say_one_phase_runs(page):
    page.session.update(model={"freeze": "all", "two_phase": True}, train={"epochs": 1})
    assert "one phase runs" in page.finetune.freeze_explanation.text()


def test_the_fine_tune_card_has_one_backbone_row_and_explains_l2sp(page):
    from PySide6.QtWidgets import QFormLayout, QLabel

    labels = [
        layout.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().text()
        for layout in page.finetune.findChildren(QFormLayout)
        for row in range(layout.rowCount())
        if layout.itemAt(row, QFormLayout.ItemRole.LabelRole) is not None
        and isinstance(layout.itemAt(row, QFormLayout.ItemRole.LabelRole).widget(), QLabel)
    ]
    assert labels.count("Backbone") == 1, labels
    l2sp = page.finetune.l2sp_spin
    assert "L2-SP" not in l2sp.specialValueText() and "pretrained" in l2sp.toolTip()
    assert "L2-SP" in page.finetune.l2sp_words.text() and "pretrained" in page.finetune.l2sp_words.text()


def test_the_heatmap_and_showdown_follow_the_dark_theme(qtbot, page):
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication

    from kiln_lab.gui import theme

    app = QApplication.instance()
    heatmap = page.init_card.heatmap
    try:
        theme.apply_theme(app, "dark")
        background = heatmap.plot.backgroundBrush().color()
        assert background == QColor(theme.DARK_PLOTS.background), background.name()
        assert page.init_card.showdown_plot.plot.backgroundBrush().color() == QColor(theme.DARK_PLOTS.background)
        theme.apply_theme(app, "light")
        assert heatmap.plot.backgroundBrush().color() == QColor(theme.LIGHT_PLOTS.background)
    finally:
        theme.apply_theme(app, "light")


def test_radio_buttons_stand_out_in_the_dark_theme(qtbot, page):
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication

    from kiln_lab.gui import theme

    app = QApplication.instance()
    try:
        theme.apply_theme(app, "dark")
        # the rings of the chosen and the other path stand out from the card (Fusion drew a shade of the window)
        card = QColor("#2a2d33").lightness()
        for radio in (page.scratch.radio, page.finetune.radio):
            picture = radio.grab().toImage()
            ring = max(abs(QColor(picture.pixel(x, y)).lightness() - card)
                       for x in range(min(18, picture.width())) for y in range(picture.height()))
            assert ring > 80, (radio.text(), ring)
    finally:
        theme.apply_theme(app, "light")
