"""The Data page's target column and task pickers (issue 18.7): a table's target is chosen, the
task shown and changeable, and the choice flows into the run config, training and evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from kiln_lab.engine.training.config import RunConfig
from tests.gui.conftest import TIMEOUT_MS, small_scratch_model


def write_flats(path: Path, rows: int = 120) -> str:
    """area, rooms (1..4: classes by the rule), district (words), price (a number: regression)."""
    rng = np.random.default_rng(0)
    lines = ["area,rooms,district,price"] + [
        f"{40 + i % 70},{1 + i % 4},{['north', 'south', 'east'][i % 3]},{900 + 11.3 * i + rng.normal(0, 30):.1f}"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines))
    return str(path)


def open_table(qtbot, window, source: str):
    window.open_dataset(source)
    # Until the scan's task has ended too: the dataset arrives a message before the task's end, and a
    # column picked between them is read only then (see test_a_column_picked_as_the_scan_ends_is_not_lost).
    qtbot.waitUntil(lambda: window.session.dataset is not None and window.session.dataset.source == source
                    and not window.data_page.scanning, timeout=TIMEOUT_MS)
    return window.data_page.view.target


def wait_for_target(qtbot, window, column: str, task: str) -> None:
    qtbot.waitUntil(
        lambda: window.session.dataset.preprocessing.get("target") == column and window.session.dataset.task == task,
        timeout=TIMEOUT_MS,
    )


def test_target_column_and_task_are_shown_and_changeable(qtbot, window, tmp_path):
    panel = open_table(qtbot, window, write_flats(tmp_path / "flats.csv"))
    assert panel.isVisible()
    columns = [panel.column_combo.itemData(i) for i in range(panel.column_combo.count())]
    assert columns == ["area", "rooms", "district", "price"]
    assert panel.column_combo.currentData() == "price"  # the engine's default: the last column
    assert panel.task_combo.currentData() == "auto"
    assert panel.task_combo.currentText() == "Automatic (regression)"
    assert "whole numbers with few" in panel.task_combo.toolTip()  # the rule, in words

    # Another column: the table is read again, and "rooms" (1..4) is classes by the rule.
    panel.column_combo.setCurrentIndex(panel.column_combo.findData("rooms"))
    wait_for_target(qtbot, window, "rooms", "classification")
    assert window.session.config.data.target == "rooms"
    assert window.session.dataset.class_names == ["1", "2", "3", "4"]
    assert window.data_page.view.counts.chart._data[0] == ["1", "2", "3", "4"]  # the chart follows
    assert panel.task_combo.currentText() == "Automatic (classification)"

    # The task chosen the other way: rooms as a number.
    panel.task_combo.setCurrentIndex(panel.task_combo.findData("regression"))
    wait_for_target(qtbot, window, "rooms", "regression")
    assert window.session.config.data.task == "regression"
    assert window.data_page.view.counts.title() == "Target values"

    # Another column starts from "automatic" again: text is classes.
    panel.column_combo.setCurrentIndex(panel.column_combo.findData("district"))
    wait_for_target(qtbot, window, "district", "classification")
    assert window.session.config.data.task == "auto" and panel.task_combo.currentData() == "auto"


def test_a_task_the_column_cannot_take_is_said_and_undone(qtbot, window, tmp_path):
    panel = open_table(qtbot, window, write_flats(tmp_path / "flats.csv"))
    before = window.session.dataset
    panel.column_combo.setCurrentIndex(panel.column_combo.findData("district"))
    wait_for_target(qtbot, window, "district", "classification")
    panel.task_combo.setCurrentIndex(panel.task_combo.findData("regression"))
    qtbot.waitUntil(lambda: panel.note.property("kiln_problem") is True, timeout=TIMEOUT_MS)
    assert "holds text such as 'north', so it cannot be predicted as a number" in panel.note.text()
    assert window.session.config.data.task == "auto"  # the choice that could not be used is undone
    assert panel.task_combo.currentData() == "auto"
    assert window.session.dataset.task == "classification" and window.session.dataset is not before


def test_an_opened_run_config_brings_its_target_back(qtbot, window, tmp_path):
    source = write_flats(tmp_path / "flats.csv")
    panel = open_table(qtbot, window, source)
    saved = tmp_path / "run.toml"
    window.session.config.replace(data={"target": "rooms", "task": "regression"}).save(saved)
    window.session.load_config(RunConfig.load(saved))
    wait_for_target(qtbot, window, "rooms", "regression")
    assert panel.column_combo.currentData() == "rooms"
    assert panel.task_combo.currentData() == "regression"


def test_other_data_starts_from_its_own_last_column(qtbot, window, tmp_path, load_demo):
    panel = open_table(qtbot, window, write_flats(tmp_path / "flats.csv"))
    panel.column_combo.setCurrentIndex(panel.column_combo.findData("rooms"))
    wait_for_target(qtbot, window, "rooms", "classification")
    other = tmp_path / "other.csv"
    other.write_text("x,label\n" + "\n".join(f"{i},{'ab'[i % 2]}" for i in range(40)))
    open_table(qtbot, window, str(other))
    assert window.session.config.data.target is None and window.session.dataset.preprocessing["target"] == "label"
    load_demo(window)
    assert not panel.isVisible()  # images say what they are: no target to pick


def test_data_page_chart_names_fit_with_forty_long_classes(qtbot, window, tmp_path):
    """At both sizes: the chart's names readable, and the page (target pickers too) uncut."""
    from tests.gui.test_layout import chart_problems, page_problems

    names = [f"Long class name number {i:02d} of many" for i in range(40)]
    path = tmp_path / "forty.csv"
    path.write_text("a,b,species\n" + "\n".join(f"{i % 7},{i % 5},{names[i % 40]}" for i in range(800)))
    open_table(qtbot, window, str(path))
    window.go_to("data")
    for size in ((1280, 800), (window.minimumWidth(), window.minimumHeight())):
        window.resize(*size)
        qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s, timeout=5_000)
        for _ in range(5):
            QApplication.processEvents()
        assert chart_problems(window.data_page) == [], size
        assert page_problems(window, window.data_page) == [], size
        assert len(window.data_page.view.counts.chart.axis.label_specs()) >= 20


@pytest.mark.slow
def test_chosen_target_and_task_reach_training_evaluation_and_the_saved_config(qtbot, window, tmp_path, train):
    panel = open_table(qtbot, window, write_flats(tmp_path / "flats.csv"))
    panel.column_combo.setCurrentIndex(panel.column_combo.findData("rooms"))
    wait_for_target(qtbot, window, "rooms", "classification")
    panel.task_combo.setCurrentIndex(panel.task_combo.findData("regression"))
    wait_for_target(qtbot, window, "rooms", "regression")
    small_scratch_model(window)
    train(window, epochs=1)
    saved = list((tmp_path / "runs").glob("**/config.toml"))
    assert saved, "the run wrote no config.toml"
    config = RunConfig.load(saved[0])
    assert (config.data.target, config.data.task) == ("rooms", "regression")
    window.evaluate()
    qtbot.waitUntil(lambda: window.session.evaluation is not None, timeout=TIMEOUT_MS)
    report = window.session.evaluation
    assert report.task == "regression" and "mae" in report.metrics  # rooms as a number: MAE, not accuracy
    assert window.session.trained is not None


def test_a_column_picked_as_the_scan_ends_is_not_lost(qtbot, window, tmp_path):
    """The scan's result shows the table a moment before the scan's task ends; a column picked in
    that moment (here: as soon as the page says the data is loaded) is read once the scan is done."""
    picked = []

    def pick_now(_source: str) -> None:
        panel = window.data_page.view.target
        assert window.data_page.scanning  # still inside the scan: the moment the choice was dropped
        panel.column_combo.setCurrentIndex(panel.column_combo.findData("rooms"))
        picked.append(True)

    window.data_page.loaded.connect(pick_now)
    window.open_dataset(write_flats(tmp_path / "flats.csv"))
    qtbot.waitUntil(lambda: bool(picked), timeout=TIMEOUT_MS)
    window.data_page.loaded.disconnect(pick_now)
    wait_for_target(qtbot, window, "rooms", "classification")
    assert window.data_page.view.target.column_combo.currentData() == "rooms"
