"""Compare both: one run (trial) of a comparison stops on its own while the others go on, and the
verdict uses only the pairs that both finished (MATLAB Experiment Manager's per-trial stop)."""

from __future__ import annotations

import pytest

from tests.gui.test_compare_view import COMPARE_TIMEOUT_MS, TIMEOUT_MS, prepare


@pytest.mark.slow
def test_stopping_one_run_of_a_comparison_lets_the_others_finish(qtbot, window, load_demo):
    prepare(window, load_demo)
    page = window.train_page
    window.start_comparison(*window.model_page.comparison_configs(), (1.0,), 2, 20)
    trials = page.plots.trials_view
    qtbot.waitUntil(lambda: trials.states.get(1) == "running", timeout=TIMEOUT_MS)
    assert page.plots.tabs.currentWidget() is trials  # the comparison's runs are in front, each stoppable
    assert len(trials.rows) == 4 and set(trials.states.values()) == {"running", "planned"}
    assert all(button.isEnabled() for button in trials.stop_buttons.values())
    trials.stop_buttons[1].click()  # the running run; the comparison goes on with the next
    assert trials.states[1] == "stopping" and not trials.stop_buttons[1].isEnabled()
    qtbot.waitUntil(lambda: not page.running, timeout=COMPARE_TIMEOUT_MS)

    assert trials.states == {1: "stopped", 2: "left_out", 3: "finished", 4: "finished"}
    comparison = page.comparison
    assert [(r.approach, r.repeat) for r in comparison.rows] == [("scratch", 2), ("finetune", 2)]
    assert {s["number"]: s["state"] for s in comparison.stopped} == {1: "stopped", 2: "left_out"}
    verdict = page.compare_view.verdict.text()
    assert "You stopped 1 run (from scratch on 100%, repeat 1)" in verdict
    assert "the 1 pair of runs that both finished" in verdict
    assert "1 stopped by you" in page.controls.progress_label.text()
    runs = page.compare_view.runs
    states = [runs.item(i, 5).text() for i in range(runs.rowCount())]
    assert states[2:] == ["stopped by you", "left out (its pair was stopped)"]
    runs.selectRow(2)
    assert not page.compare_view.evaluate_button.isEnabled()  # a stopped run has no result to open
    assert not any(button.isVisible() for button in trials.stop_buttons.values())  # nothing left to stop
    assert "stopped by you" in trials.rows[1].text() and "finished" in trials.rows[3].text()
