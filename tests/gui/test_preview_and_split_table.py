"""Issue 18 (Create ML): the Train page's live preview, and the Evaluate page's per-split table."""

from __future__ import annotations

import numpy as np
import pytest

from kiln_lab.engine import events as ev
from tests.gui.conftest import TIMEOUT_MS, small_scratch_model


def _preview(epoch: int, rights: list[bool]) -> ev.PreviewPredictions:
    samples = [
        {"index": 10 + i, "true": str(i), "predicted": str(i if right else 9), "confidence": 0.5 + i / 100,
         "right": right}
        for i, right in enumerate(rights)
    ]
    images = np.zeros((len(rights), 8, 8, 1), dtype=np.uint8)
    return ev.PreviewPredictions(epoch, "classification", "val", samples, images, 0.001)


def test_the_preview_shows_each_sample_right_or_wrong_and_follows_the_epochs(qtbot) -> None:
    from kiln_lab.gui.panels.live_preview import LivePreviewPanel, verdict_colors

    panel = LivePreviewPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 300)
    panel.show()
    panel.on_event(_preview(0, [True, False, False, True]))
    assert panel.status.text().startswith("Epoch 1: 2 of 4 right")
    assert [t.answer.text() for t in panel.tiles] == ["✓ 0 50%", "✗ 9 51%", "✗ 9 52%", "✓ 3 53%"]
    assert [t.truth.text() for t in panel.tiles] == ["true 0", "true 1", "true 2", "true 3"]
    right, wrong = verdict_colors()
    assert right in panel.tiles[0].answer.styleSheet() and wrong in panel.tiles[1].answer.styleSheet()
    first_tiles = list(panel.tiles)
    panel.on_event(_preview(1, [True, True, False, True]))  # the next epoch: same samples, new answers
    assert panel.tiles == first_tiles, "the pictures stay; only the answers change"
    assert panel.status.text().startswith("Epoch 2: 3 of 4 right")
    assert panel.tiles[1].answer.text() == "✓ 1 51%" and right in panel.tiles[1].answer.styleSheet()
    panel.on_event(ev.RunStarted("next", {}, {}, 3, 10))  # a new run clears it
    assert panel.tiles == [] and panel.last is None


def test_tiles_that_arrive_in_a_hidden_tab_fit_across_when_it_is_shown(qtbot) -> None:
    from PySide6.QtWidgets import QLabel, QTabWidget

    from kiln_lab.gui.panels.live_preview import LivePreviewPanel

    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    panel = LivePreviewPanel()
    tabs.addTab(QLabel("log"), "Run log")
    tabs.addTab(panel, "Live preview")
    tabs.resize(334, 260)
    tabs.show()
    qtbot.waitExposed(tabs)
    panel.on_event(_preview(0, [True] * 8))  # the run log is in front: the preview's layouts are not laid out
    tabs.setCurrentWidget(panel)
    qtbot.wait(50)
    room = panel.grid_area.viewport().width()
    assert all(tile.geometry().right() < room for tile in panel.tiles), "every tile within the visible width"
    rows = {panel.grid.getItemPosition(panel.grid.indexOf(tile))[0] for tile in panel.tiles}
    assert len(rows) == 3  # 3 across in this width: 8 tiles on 3 rows


def test_a_deleted_preview_no_longer_follows_the_theme(qtbot) -> None:
    import shiboken6

    from kiln_lab.gui import theme
    from kiln_lab.gui.panels.live_preview import LivePreviewPanel

    panel = LivePreviewPanel()
    panel.on_event(_preview(0, [True, False]))
    shiboken6.delete(panel)  # a closed window's panel
    theme.theme_changes.changed.emit(theme.is_dark())  # must not reach the deleted labels


def test_a_table_preview_shows_the_rows_values_true_and_predicted(qtbot) -> None:
    from kiln_lab.gui.panels.live_preview import LivePreviewPanel

    panel = LivePreviewPanel()
    qtbot.addWidget(panel)
    samples = [{"index": 3, "true": 2.5, "predicted": 2.0, "confidence": None, "right": None,
                "values": [("rooms", "4"), ("area", "80.5")]}]
    panel.on_event(ev.PreviewPredictions(4, "regression", "val", samples, None, 0.001))
    table = panel.table
    heads = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert heads == ["True", "Predicted", "Error", "rooms", "area"]
    assert [table.item(0, c).text() for c in range(5)] == ["2.5", "2", "-0.5", "4", "80.5"]
    assert panel.status.text().startswith("Epoch 5: typical error 0.5")


def test_the_split_table_says_when_there_is_no_test_split_and_flags_a_gap(qtbot) -> None:
    from kiln_lab.gui.widgets.split_metrics_table import SplitMetricsTable

    table = SplitMetricsTable()
    qtbot.addWidget(table)
    table.show_result({
        "task": "classification", "splits": ["train", "val"], "rows": ["loss", "accuracy"],
        "columns": {"train": {"loss": 0.01, "accuracy": 1.0, "samples": 100.0},
                    "val": {"loss": 0.9, "accuracy": 0.7, "samples": 25.0}},
        "missing": ["test"], "gap": "Overfitting: the model gets 100.0% of its training samples right but only 70.0%.",
    })
    assert table.headers() == ["Training", "Validation"]
    assert table.column("train") == ["0.01", "100.0 %", "100"] and table.column("val") == ["0.9", "70.0 %", "25"]
    assert "No test split" in table.note.text()
    assert not table.gap.isHidden() and table.gap.text().startswith("Overfitting")


@pytest.mark.slow
def test_training_previews_each_epoch_and_evaluate_shows_three_splits(window, load_demo, qtbot) -> None:
    window.session.update(data={"test_split": 0.2})
    load_demo(window)
    assert len(window.session.dataset.splits.get("test", [])) > 0
    small_scratch_model(window)
    seen = []
    window.train_page.runner.event.connect(lambda e: isinstance(e, ev.PreviewPredictions) and seen.append(e.epoch))
    window.go_to("train")
    window.session.update(train={"epochs": 2})
    window.train_page.show_config(window.session.config)
    assert window.train_page.start()
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=TIMEOUT_MS)

    # The Train page: a "Live preview" tab beside the run log, showing the last epoch's answers.
    tabs = window.train_page.plots.tabs
    preview = window.train_page.live_preview
    assert tabs.tabText(tabs.indexOf(preview)) == "Live preview"
    assert seen == [0, 1]
    assert preview.last.epoch == 1 and len(preview.tiles) == 8
    assert preview.status.text().startswith("Epoch 2:")
    assert all(t.answer.text()[0] in "✓✗" and t.truth.text().startswith("true ") for t in preview.tiles)

    # The Evaluate page: training, validation and test side by side, above the split's own views.
    window.evaluate()
    table = window.evaluate_page.split_table
    qtbot.waitUntil(lambda: table.result is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    assert table.isVisible() and table.headers() == ["Training", "Validation", "Test"]
    result = table.result
    for split in ("train", "val", "test"):
        column = table.column(split)
        assert len(column) == len(result["rows"]) + 1 >= 4 and all(text.strip() for text in column)
        assert column[-1] == f"{len(window.session.dataset.splits[split]):,}"  # the samples row
    accuracy_row = result["rows"].index("accuracy")
    assert table.column("test")[accuracy_row] == f"{result['columns']['test']['accuracy'] * 100:.1f} %"
    # The same model scored by the evaluate task on the test split (its predictions) agrees.
    report = window.session.evaluation
    assert report.split == "test"
    assert result["columns"]["test"]["accuracy"] == pytest.approx(report.metrics["accuracy"], abs=1e-6)

    # Another split on the page: the table is the model's and the data's, so it stays (no new scoring).
    qtbot.waitUntil(lambda: not table.slot.running, timeout=TIMEOUT_MS)  # its task has finished, not only answered
    window.evaluate_page.split_combo.setCurrentIndex(window.evaluate_page.split_combo.findData("val"))
    window.evaluate_page.evaluate()
    assert table.result is result and not table.slot.running
    qtbot.waitUntil(lambda: not window.evaluate_page.slot.running, timeout=TIMEOUT_MS)

    # A run opened from the Runs page gets its table too.
    runs_page = window.runs_page
    window.go_to("runs")
    runs_page.refresh()
    runs_page.select(runs_page.entries[0].path)
    before = window.session.trained
    runs_page.open_selected("evaluate")
    qtbot.waitUntil(lambda: window.session.trained is not before, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.current_page() is window.evaluate_page, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: table.result is not None, timeout=TIMEOUT_MS)
    assert table.headers() == ["Training", "Validation", "Test"]
