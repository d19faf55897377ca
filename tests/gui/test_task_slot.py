"""One task slot per page: a new task obsoletes the old one, and stale results are dropped."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from kiln_lab.gui.workers import TaskSlot


def test_a_replaced_task_reports_nothing(qtbot):
    slot = TaskSlot()
    release = threading.Event()
    shown, finished = [], []

    def slow(_context):
        release.wait(10)
        return "old"

    old = slot.start(slow, task="old", on_result=shown.append, on_finished=lambda: finished.append("old"))
    new = slot.start(lambda _c: "new", task="new", on_result=shown.append, on_finished=lambda: finished.append("new"))
    assert old.context.cancelled  # starting the new task asked the old one to stop
    qtbot.waitUntil(lambda: not new.running, timeout=10_000)
    release.set()
    qtbot.waitUntil(lambda: not old.running, timeout=10_000)
    qtbot.wait(50)
    assert shown == ["new"] and finished == ["new"]
    assert slot.dropped == 1 and not slot.running


def test_a_result_for_inputs_that_changed_is_dropped(qtbot):
    current = {"dataset": "a"}
    slot = TaskSlot(current_key=lambda: current["dataset"])
    release = threading.Event()
    shown, finished = [], []

    def scan(_context):
        release.wait(10)
        return "pictures of a"

    worker = slot.start(scan, task="reading", key="a", on_result=shown.append, on_finished=lambda: finished.append(1))
    current["dataset"] = "b"  # the page moved on while the worker ran
    release.set()
    qtbot.waitUntil(lambda: not worker.running, timeout=10_000)
    qtbot.wait(50)
    assert shown == [] and slot.dropped == 1
    assert finished == [1]  # the page still learns the slot is idle again


def test_a_parameter_count_for_an_older_recipe_is_not_painted(qtbot, monkeypatch):
    import kiln_lab.engine.models.summary as summary_module
    from kiln_lab.gui.pages.model_page import ModelPage
    from kiln_lab.gui.session import Session

    release = threading.Event()
    counted = {"params": 999, "trainable": 999, "layers": [], "image_size": None, "phases": [], "freeze_units": []}

    def slow_summary(recipe, dataset, image_size):
        release.wait(10)
        return counted

    monkeypatch.setattr(summary_module, "summarize_recipe", slow_summary)
    session = Session()
    page = ModelPage(session)
    qtbot.addWidget(page)
    session.set_dataset(SimpleNamespace(input_kind="vector"))
    worker = page.count_parameters()
    session.update(model={"width": 99})  # the person changed the model while it was being built
    release.set()
    qtbot.waitUntil(lambda: not worker.running, timeout=10_000)
    qtbot.waitUntil(page.count_button.isEnabled, timeout=5_000)
    assert page.last_summary is None
    assert "999" not in page.params_label.text()
    assert "count again" in page.params_detail.text()
