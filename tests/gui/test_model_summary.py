"""The built-model panel shows the model as chosen now, or says plainly that it is out of date."""

from __future__ import annotations

from conftest import TIMEOUT_MS


def count(qtbot, window) -> dict:
    worker = window.model_page.count_parameters()
    qtbot.waitUntil(lambda: not worker.running, timeout=TIMEOUT_MS)
    return window.model_page.last_summary


def test_the_built_model_follows_the_epochs_and_the_path(qtbot, window, load_demo):
    load_demo(window)  # digits: opens on fine-tuning the demo backbone
    page = window.model_page
    window.session.update(model={"two_phase": True, "head_epochs": None}, train={"epochs": 6})
    count(qtbot, window)
    detail = page.summary.params_detail.text()
    assert "head (3 epochs) then fine-tune (3 epochs)" in detail, detail  # half of the real 6, not of 2
    assert page.summary.layers_tree.topLevelItemCount() > 0

    window.session.update(train={"epochs": 8})  # edited on the Train page
    assert "Out of date" in page.summary.params_detail.text() and page.summary.params_label.text() == "–"
    assert page.summary.layers_tree.topLevelItemCount() == 0  # no layers of a model that is not the chosen one

    count(qtbot, window)
    assert "(4 epochs)" in page.summary.params_detail.text()
    page.scratch.radio.setChecked(True)  # the other path
    assert "Out of date" in page.summary.params_detail.text()
    assert page.summary.layers_tree.topLevelItemCount() == 0
