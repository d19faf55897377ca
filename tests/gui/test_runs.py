"""The runs library: GUI runs keep config.toml, the Runs page lists, renames, deletes with undo,
compares curves, opens a run in Evaluate, and "Train more" continues a run where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gui.conftest import TIMEOUT_MS, small_scratch_model


def _fake_run(folder: Path, name: str, *, accuracy: float, epochs: int = 2) -> Path:
    run = folder / f"20260101-12000{len(list(folder.glob('*'))) if folder.exists() else 0}-{name}"
    run.mkdir(parents=True)
    history = {"loss": [1.0 - 0.1 * i for i in range(epochs)], "val_accuracy": [accuracy] * epochs}
    record = {
        "config": {"name": name, "data": {"source": "demo:digits"}, "model": {"kind": "scratch", "arch": "mlp"}},
        "metrics": {"val_accuracy": accuracy, "loss": 0.5},
        "history": history,
        "timing": {"seconds": 12.5},
        "reason": "completed",
        "finished_at": "2026-01-01T12:00:00+0000",
    }
    (run / "run.json").write_text(json.dumps(record))
    (run / "history.json").write_text(json.dumps(history))
    (run / "model.keras").write_bytes(b"not opened in this test")
    return run


def test_runs_library_lists_renames_and_deletes_with_undo(qtbot, tmp_path, monkeypatch):
    from gui.pages.runs_page import RunsPage
    from gui.session import Session

    (tmp_path / "xdg").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the trash of this test, not the user's
    runs = tmp_path / "runs"
    first = _fake_run(runs, "first", accuracy=0.8)
    _fake_run(runs, "second", accuracy=0.9)
    (runs / "not-a-run").mkdir()
    page = RunsPage(Session(), runs_folder=str(runs))
    qtbot.addWidget(page)
    assert sorted(e.name for e in page.entries) == ["first", "second"]
    row = page.tree.topLevelItem(1)
    texts = [row.text(i) for i in range(page.tree.columnCount())]
    assert "demo:digits" in texts and "scratch: mlp" in texts and "12 s" in texts
    assert any("accuracy (validation)" in t for t in texts)

    page.select(first)
    assert page.evaluate_button.isEnabled() and not page.compare_button.isEnabled()
    renamed = page.rename(page.selected_entries()[0], "baseline run")
    assert renamed is not None and renamed.name.endswith("-baseline-run") and not first.exists()

    page.select(renamed)
    assert page.delete_selected() == 1
    assert not renamed.exists() and len(page.entries) == 1
    assert page.undo_bar.isVisibleTo(page)
    page.undo_delete()
    assert renamed.exists() and len(page.entries) == 2

    page.select(*(e.path for e in page.entries))
    assert page.compare_button.isEnabled()
    dialog = page.compare_selected()
    qtbot.addWidget(dialog)
    assert len(dialog.metric_plot.curve_keys()) == 2  # one validation accuracy curve per run
    assert not dialog.loss_plot.empty_text_visible


def test_empty_library_says_what_will_appear(qtbot, tmp_path):
    from gui.pages.runs_page import RunsPage
    from gui.session import Session

    page = RunsPage(Session(), runs_folder=str(tmp_path / "none-yet"))
    qtbot.addWidget(page)
    page.show()
    assert page.empty_label.isVisible() and not page.tree.isVisible()
    assert "appear here" in page.empty_label.text()


@pytest.mark.slow
def test_gui_run_keeps_config_and_train_more_continues_it(qtbot, window, load_demo, train, tmp_path):
    from engine.training.config import RunConfig

    load_demo(window)
    small_scratch_model(window)
    train(window, epochs=1)
    runs_page = window.runs_page
    runs_page.refresh()
    assert len(runs_page.entries) == 1
    entry = runs_page.entries[0]
    assert RunConfig.load(entry.config_path).train.epochs == 1  # like a CLI run folder
    assert entry.has_checkpoint and entry.epochs == 1

    runs_page.select(entry.path)
    runs_page.train_more_requested.emit(str(entry.path), 2)
    qtbot.waitUntil(lambda: window.train_page.running, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.train_page.running, timeout=TIMEOUT_MS)
    runs_page.refresh()
    assert len(runs_page.entries) == 1  # the same run went on, no new folder
    assert runs_page.entries[0].epochs == 3
    history = json.loads((entry.path / "history.json").read_text())
    assert len(history["loss"]) == 3

    window.go_to("runs")
    runs_page.select(entry.path)
    runs_page.open_selected("evaluate")
    qtbot.waitUntil(lambda: window.current_page() is window.evaluate_page, timeout=TIMEOUT_MS)
    assert window.session.trained is not None and window.session.trained.path == str(entry.model_path)
