"""Compare both: the Model page's two recipes train head to head on the training thread."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from gui.widgets.compare_view import comparison_verdict
from gui.widgets.forms import select

TIMEOUT_MS = 180_000


def prepare(window, load_demo, epochs: int) -> None:
    load_demo(window, "demo:digits")
    page = window.model_page
    scratch = page.scratch
    select(page.finetune.backbone_combo, "demo")
    scratch.radio.setChecked(True)
    scratch.preset_combo.setCurrentIndex(scratch.preset_combo.findData("mlp"))
    scratch.depth_spin.setValue(1)
    scratch.width_spin.setValue(8)
    window.session.update(train={"epochs": epochs})
    window.train_page.show_config(window.session.config)


def click_compare(qtbot, window, fractions: tuple[float, ...]) -> None:
    page = window.model_page
    assert page.compare_button.isEnabled()
    assert page.compare_button.toolTip()
    qtbot.mouseClick(page.compare_button, Qt.MouseButton.LeftButton)
    dialog = page.compare_dialog
    assert dialog is not None and dialog.isVisible()
    for fraction, check in dialog.checks.items():
        check.setChecked(fraction in fractions)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert window.train_page.running


def test_compare_both_trains_both_approaches_and_shows_results(qtbot, window, load_demo):
    prepare(window, load_demo, epochs=1)
    click_compare(qtbot, window, (0.3, 1.0))
    page = window.train_page
    assert window.pages.index(window.current_page()) == 2  # the Train page follows the runs live
    qtbot.waitUntil(lambda: not page.running, timeout=TIMEOUT_MS)

    rows = page.comparison.rows
    assert [(r.approach, r.data_fraction) for r in rows] == [
        ("scratch", 0.3),
        ("finetune", 0.3),
        ("scratch", 1.0),
        ("finetune", 1.0),
    ]
    assert all(0.0 < r.score <= 1.0 for r in rows)
    assert rows[0].train_samples < rows[2].train_samples
    view = page.compare_view
    assert view.table.rowCount() == 4
    approaches = {view.table.item(i, 0).text() for i in range(4)}
    assert approaches == {"From scratch", "Fine-tuning"}
    assert all(0.0 < float(view.table.item(i, 3).text()) <= 1.0 for i in range(4))
    for approach in ("scratch", "finetune"):
        x, y = view.chart.points(approach)
        assert list(x) == [30.0, 100.0]
        assert all(math.isfinite(v) for v in y)
    verdict = view.verdict.text()
    assert verdict == comparison_verdict(rows)
    assert f"{rows[3].score:.3f}" in verdict and f"{rows[2].score:.3f}" in verdict
    assert page.compare_dialog.isVisible() and page.results_button.isEnabled()
    # Every compared run shows as a run: the live plots had its epoch, the session keeps its curves.
    names = [r.name for r in window.session.runs]
    assert names == [f"compare: {a} {p}%" for p in (30, 100) for a in ("scratch", "fine-tune")]
    assert page.metric_plot.points("val")[0].size == 1
    assert page.start_button.isEnabled() and window.model_page.compare_button.isEnabled()


def test_stop_ends_a_comparison_and_the_window_stays_usable(qtbot, window, load_demo, train):
    prepare(window, load_demo, epochs=200)
    click_compare(qtbot, window, (1.0,))
    page = window.train_page
    qtbot.waitUntil(lambda: page.metric_plot.points("val")[0].size >= 1, timeout=TIMEOUT_MS)
    page.stop_button.click()
    qtbot.waitUntil(lambda: not page.running, timeout=TIMEOUT_MS)
    rows = page.comparison.rows
    assert len(rows) == 1 and rows[0].approach == "scratch" and rows[0].reason == "stopped"
    assert "stopped" in page.progress_label.text().lower()
    assert page.start_button.isEnabled() and window.model_page.compare_button.isEnabled()
    assert "stopped" in page.compare_view.verdict.text()
    # Usable: a normal run starts and finishes afterwards.
    train(window, epochs=1)
    assert window.session.runs[-1].reason == "completed"


def test_compare_needs_data_first(qtbot, window):
    assert not window.model_page.compare_button.isEnabled()
    assert window.model_page.compare_both() is None
    assert "Load data" in window.model_page.params_detail.text()
