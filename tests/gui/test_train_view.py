"""The Train page's live view: earlier runs overlaid only on the same data and task, a run log that
follows new lines, phase labels clear of the curves, and the page usable at its minimum size."""

from __future__ import annotations

import pytest

from tests.gui.conftest import TIMEOUT_MS


@pytest.mark.slow
def test_earlier_runs_are_overlaid_only_on_the_same_data_and_task(qtbot, window, load_demo, train, tiny_model):
    page = window.train_page
    plots = page.plots
    load_demo(window, "demo:digits")
    tiny_model(window)
    train(window, epochs=1)
    assert plots.overlay_note.text() == ""  # nothing earlier: no note
    train(window, epochs=1)
    assert plots.loss_plot.overlay_count == 2  # the first run's train and validation loss
    assert plots.overlay_note.text() == "1 earlier run on demo:digits"
    load_demo(window, "demo:housing")
    tiny_model(window)
    window.session.update(train={"epochs": 1})
    page.show_config(window.session.config)
    assert page.start()
    # The digits runs' cross-entropy and accuracy are not drawn under a regression's loss and MAE.
    assert [plot.overlay_count for plot in plots.plots] == [0, 0, 0]
    assert plots.overlay_note.text() == "" and not plots.clear_button.isEnabled()
    qtbot.waitUntil(lambda: not page.running, timeout=TIMEOUT_MS)
    train(window, epochs=1)
    assert plots.overlay_note.text() == "1 earlier run on demo:housing"
    assert plots.metric_plot.overlay_count == 2  # the housing run's MAE, train and validation
    load_demo(window, "demo:digits")  # back on digits: its two runs, not the housing ones
    tiny_model(window)
    train(window, epochs=1)
    assert plots.overlay_note.text() == "2 earlier runs on demo:digits"
    assert plots.metric_plot.overlay_count == 4
