"""Compare both: the Model page's two recipes train head to head on the training thread, and the
view shows the engine's verdict, the intervals, and opens a compared run in Evaluate."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from kiln_lab.gui.widgets.forms import select

TIMEOUT_MS = 180_000
COMPARE_TIMEOUT_MS = 900_000  # four short runs; generous for a loaded 2-core machine


@pytest.fixture
def small_budget(monkeypatch):
    """A comparison small enough for a test: a few dozen steps per run (one repeat comes from the dialog)."""
    import kiln_lab.engine.analysis.compare as compare
    from kiln_lab.engine.analysis.budget import Budget

    small = functools.partial(
        compare.compare_approaches, budget=Budget(max_steps=20, min_steps=5, patience_steps=10)
    )
    monkeypatch.setattr(compare, "compare_approaches", small)


def prepare(window, load_demo, epochs: int = 1) -> None:
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


def click_compare(qtbot, window, fractions: tuple[float, ...], repeats: int | None = None) -> None:
    page = window.model_page
    assert page.compare_button.isEnabled()
    assert page.compare_button.toolTip()
    qtbot.mouseClick(page.compare_button, Qt.MouseButton.LeftButton)
    dialog = page.compare_dialog
    assert dialog is not None and dialog.isVisible()
    for fraction, check in dialog.checks.items():
        check.setChecked(fraction in fractions)
    if repeats is not None:
        dialog.repeats_spin.setValue(repeats)
        runs = 2 * repeats * len(fractions)
        assert f"{runs} runs in all" in dialog.note.text()  # the dialog says what it will cost
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert window.train_page.running


@pytest.mark.slow
def test_compare_shows_the_engine_verdict_intervals_and_opens_a_run_in_evaluate(
    qtbot, window, load_demo, small_budget
):
    prepare(window, load_demo)
    click_compare(qtbot, window, (0.1, 0.3), repeats=1)
    page = window.train_page
    assert window.current_page() is window.train_page  # the Train page follows the runs live
    qtbot.waitUntil(lambda: not page.running, timeout=COMPARE_TIMEOUT_MS)

    comparison = page.comparison
    assert [(r.approach, r.data_fraction) for r in comparison.rows] == [
        ("scratch", 0.1), ("finetune", 0.1), ("scratch", 0.3), ("finetune", 0.3)
    ]
    view = page.compare_view
    sentences = comparison.verdict()
    shown = view.verdict.text()
    assert all(sentence in shown for sentence in sentences)  # the engine's words, not the widget's
    assert sentences[0].startswith(("Too close to call", "Fine-tuning wins", "From scratch wins"))
    assert "run 4 of 4" in view.progress_label.text().lower() or "finished" in view.progress_label.text().lower()
    # The scores table and the chart carry the intervals the engine computed.
    assert view.table.rowCount() == 4
    for approach, points in comparison.learning_curve().items():
        low, high = view.chart.intervals(approach)
        assert np.allclose(low, [p["low"] for p in points]) and np.allclose(high, [p["high"] for p in points])
        assert all(lo <= p["value"] <= hi for lo, hi, p in zip(low, high, points))
        assert any(hi > lo for lo, hi in zip(low, high))  # a real interval, not a point
        x, _ = view.chart.points(approach)
        assert list(x) == [p["train_samples"] for p in points] and x[0] < x[1]
    row = 0
    interval_text = view.table.item(row, 4).text()
    assert "–" in interval_text
    assert view.costs.rowCount() >= 8 and "FLOPs" in " ".join(
        view.costs.item(i, 0).text() for i in range(view.costs.rowCount())
    )
    # Per class: one row per digit, the engine's sentence above them.
    per_class = comparison.per_class()
    assert view.per_class.rowCount() == len(per_class.rows) == 10
    assert per_class.sentence() in view.per_class_sentence.text()
    assert [view.per_class.item(i, 6).text() for i in range(10)] == [r.verdict for r in per_class.rows]
    # Every compared run is a run folder, with the report beside them.
    out = Path(comparison.out_dir)
    assert (out / "report.html").exists() and (out / "compare.json").exists()
    # Open the fine-tuned run on all the data in Evaluate.
    assert not view.evaluate_button.isEnabled()
    view.runs.selectRow(3)
    assert view.evaluate_button.isEnabled()
    view.evaluate_button.click()
    expected = str(Path(comparison.rows[3].run_dir) / "model.keras")
    qtbot.waitUntil(
        lambda: window.session.trained is not None and window.current_page() is window.evaluate_page,
        timeout=TIMEOUT_MS,
    )
    assert Path(window.session.trained.path) == Path(expected)
    qtbot.waitUntil(lambda: not window.evaluate_page.slot.running, timeout=TIMEOUT_MS)  # it evaluates at once
    assert page.controls.start_button.isEnabled() and window.model_page.compare_button.isEnabled()


def test_stop_ends_a_comparison_and_the_window_stays_usable(qtbot, window, load_demo, train):
    prepare(window, load_demo)
    click_compare(qtbot, window, (1.0,))
    page = window.train_page
    qtbot.waitUntil(lambda: page.plots.metric_plot.points("val")[0].size >= 1, timeout=TIMEOUT_MS)
    page.controls.stop_button.click()
    qtbot.waitUntil(lambda: not page.running, timeout=TIMEOUT_MS)
    assert page.comparison.rows == []  # a run the person stopped is not a fair sample
    assert "stopped" in page.controls.progress_label.text().lower()
    assert page.controls.start_button.isEnabled() and window.model_page.compare_button.isEnabled()
    assert "nothing to compare" in page.compare_view.verdict.text()
    # Usable: a normal run starts and finishes afterwards.
    train(window, epochs=1)
    assert window.session.runs[-1].reason == "completed"


def test_compare_needs_data_first(qtbot, window):
    assert not window.model_page.compare_button.isEnabled()
    assert window.model_page.compare_both() is None
    assert "Load data" in window.model_page.params_detail.text()
